#!/usr/bin/env bash
# Attack: an unprivileged caller bind-mounts a root-only device node, in its own user + mount namespace, onto a file inside a run-as-root command's read grant and hands the broker an O_PATH fd to it as stdin (or a plain read-only fd of a device it may read, to be reopened for writing); the command reopens /proc/self/fd/0 and Landlock, walking up the caller's mount, allows it.
# Fixed: check_stdio refuses O_PATH fds, and a device node, named FIFO or symlink on a mount that
# neither the broker's mount namespace nor the initial one has (lib/broker_stdio.cc).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
if [ "$(id -u)" != 0 ] || ! id gxtest >/dev/null 2>&1 || ! command -v python3 >/dev/null; then
  echo "skipped: needs root, the user gxtest and python3"
  finish
fi
if ! su gxtest -s /bin/sh -c "unshare -Urm true" >/dev/null 2>&1; then
  echo "skipped: unprivileged user + mount namespaces are not available"
  finish
fi
chmod 755 "$T/work"
chmod 777 "$W"
G=$T/grant
mkdir -p "$G" && chmod 777 "$G"
# The targets: /dev/zero as a node only root may open, /dev/null as one
# everyone may read but only root may write (like /dev/kmsg).
mknod -m 600 "$T/secret" c 1 5
mknod -m 644 "$T/rootwrite" c 1 3
art rd --no-bind-user --max-uses 20 --run-as root --read "$G" --write "$W" -- "$H/try_reopen" /proc/self/fd/0 "$W/m"
art wr --no-bind-user --max-uses 20 --run-as root --write "$G" --write "$W" -- "$H/try_reopen" /proc/self/fd/0 "$W/m" w
chmod 644 "$T/rd.toml" "$T/wr.toml"
start_broker --allow-user gxtest || finish
# as_caller ART MODE NODE: gxtest mounts NODE over $G/dev in its own namespace,
# opens it with os.MODE and execs gx run --broker with that fd as stdin.
as_caller() {
  local art=$1 mode=$2 node=$3 extra=""
  [ "$art" = wr ] && extra=', \"w\"'
  su gxtest -s /bin/sh -c "cd $T/work && touch $G/dev && unshare -Urm sh -c '
    mount --bind $node $G/dev && exec python3 -c \"
import os
fd = os.open(\\\"$G/dev\\\", os.$mode); os.dup2(fd, 0)
os.execv(\\\"$GX\\\", [\\\"gx\\\", \\\"run\\\", \\\"--broker\\\", \\\"$SOCK\\\", \\\"$T/$art.toml\\\", \\\"--\\\",
  \\\"$H/try_reopen\\\", \\\"/proc/self/fd/0\\\", \\\"$W/m\\\"$extra])
\"'" 2>&1
}

# Controls: the artifact runs (a pipe reopened: the marker is made); gxtest
# cannot open the node itself.
su gxtest -s /bin/sh -c "cd $T/work && echo x | $GX run --broker $SOCK $T/rd.toml -- $H/try_reopen /proc/self/fd/0 $W/m" >"$T/control.out" 2>&1
check "control: the command runs with a pipe as stdin (the marker was made): $(cat "$T/control.out")" test -e "$W/m"
rm -f "$W/m"
refute "control: gxtest cannot open the node" su gxtest -s /bin/sh -c "head -c 1 $T/secret" 2>/dev/null

# Attack 1: O_PATH to a root-only device, reopened for reading.
as_caller rd O_PATH "$T/secret" >"$T/attack1.out"
echo "attack 1: $(cat "$T/attack1.out")" >&2
check "an O_PATH stdin never reaches the command (no marker)" test ! -e "$W/m"
check "the refusal names fd 0 and O_PATH: $(cat "$T/attack1.out")" grep -q "received fd 0 was opened with O_PATH" "$T/attack1.out"
check "denied as invalid-value" grep -q "invalid-value" "$T/attack1.out"
rm -f "$W/m"

# Attack 2: a read-only fd of a device on the caller's own mount, reopened
# for writing by the root command.
as_caller wr O_RDONLY "$T/rootwrite" >"$T/attack2.out"
echo "attack 2: $(cat "$T/attack2.out")" >&2
check "a device on the caller's own mount never reaches the command (no marker)" test ! -e "$W/m"
check "the refusal names fd 0, the device and its mount: $(cat "$T/attack2.out")" \
  grep -q "received fd 0 is a character device on a mount only the caller's namespace has" "$T/attack2.out"
rm -f "$W/m"

# Still accepted: a terminal (the broker's own devpts) and /dev/null.
su gxtest -s /bin/sh -c "cd $T/work && python3 -c '
import os, pty, sys
m, s = pty.openpty(); os.dup2(s, 0); os.write(m, b\"x\\n\")
os.execv(\"$GX\", [\"gx\", \"run\", \"--broker\", \"$SOCK\", \"$T/rd.toml\", \"--\", \"$H/try_reopen\", \"/proc/self/fd/0\", \"$W/m\"])'" >"$T/pty.out" 2>&1
check "a pty as stdin is accepted: $(cat "$T/pty.out")" test -e "$W/m"
rm -f "$W/m"
su gxtest -s /bin/sh -c "cd $T/work && $GX run --broker $SOCK $T/rd.toml -- $H/try_reopen /proc/self/fd/0 $W/m </dev/null" >"$T/null.out" 2>&1
check "/dev/null as stdin is accepted: $(cat "$T/null.out")" test -e "$W/m"
stop_broker
finish
