#!/usr/bin/env bash
# Attack: with fs.suid_dumpable = 1 a command root's gx switches to another user would, between its setresuid and its exec (still on gx's memory), be traceable by that user, who could read gx's receipt key; and an artifact naming openat2 (whose file mode seccomp cannot see) would create setuid files unchecked.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
MARK=$H/try_marker
# openat2 by name: refused before anything runs (any user).
art_edit o2 's/^allow_syscalls = .*/allow_syscalls = ["openat2"]/' --write "$W" -- "$MARK" "$W/o2"
expect_denied invalid-value "an artifact naming openat2 is refused" R "$T/o2.toml" -- "$MARK" "$W/o2"
check "the reason names the field" grep -q "sandbox.allow_syscalls" "$T/err"
check "the openat2 command never ran" test ! -e "$W/o2"

if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
  echo "skip: faking fs.suid_dumpable and switching users need root (running as uid $(id -u))"
  finish
fi
# tests/hermetic.sh gives a private mount namespace: the fake stays in it.
echo 1 >"$T/dumpable"
if ! mount --bind "$T/dumpable" /proc/sys/fs/suid_dumpable 2>/dev/null; then
  echo "skip: cannot bind-mount over /proc/sys/fs/suid_dumpable here"
  finish
fi
chmod 777 "$W"
art asnobody --run-as nobody --write "$W" -- "$MARK" "$W/m"
expect_denied run-as-unavailable "no switch to another user under suid_dumpable 1" R "$T/asnobody.toml" -- "$MARK" "$W/m"
check "the reason names fs.suid_dumpable" grep -q "fs.suid_dumpable" "$T/err"
check "the command never ran" test ! -e "$W/m"
umount /proc/sys/fs/suid_dumpable
expect_rc 0 "control: with the real setting the switch runs" R "$T/asnobody.toml" -- "$MARK" "$W/m"
check "control: the marker was made" test -e "$W/m"
finish
