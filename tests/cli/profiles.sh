#!/usr/bin/env bash
# gx profiles: lists groups, shows one group, refuses unknown names.
set -u
: "${GX:?GX must point at the gx binary}"

fails=0
passes=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then
    passes=$((passes + 1))
  else
    echo "FAIL: $what" >&2
    fails=$((fails + 1))
  fi
}

out=$("$GX" profiles)
rc=$?
check "profiles exits 0" test "$rc" -eq 0
for g in default basic-io filesystem permissions network process signals time ipc; do
  check "lists group $g" grep -qE "^  $g +" <<<"$out"
done
check "lists dangerous syscalls" grep -q "ptrace" <<<"$out"
check "mentions io_uring" grep -q "io_uring_setup" <<<"$out"

out=$("$GX" profiles)
check "profiles lists the ioctl groups" grep -q "^  tty " <<<"$out"
check "profiles lists FIFREEZE as by-name only" grep -q "FIFREEZE" <<<"$out"
check "profiles names the never-allowed requests" grep -q "Never allowed: TIOCSTI TIOCLINUX" <<<"$out"
check "an ioctl group shows its requests with numbers" grep -qx "TIOCSWINSZ 0x5414" <<<"$("$GX" profiles tty)"
check "ioctl:default shows the default set" grep -qx "TCGETS 0x5401" <<<"$("$GX" profiles ioctl:default)"
out=$("$GX" profiles default)
rc=$?
check "profiles default exits 0" test "$rc" -eq 0
check "default has execve" grep -qx "execve" <<<"$out"
check "default has openat" grep -qx "openat" <<<"$out"
check "default lacks ptrace" bash -c '! grep -qx ptrace <<<"$1"' _ "$out"
check "default lacks mkdir" bash -c '! grep -qx mkdir <<<"$1"' _ "$out"

out=$("$GX" profiles filesystem)
check "filesystem has unlinkat" grep -qx "unlinkat" <<<"$out"
check "filesystem lacks chmod and chown (permissions has them)" bash -c '! grep -qxE "fchmodat|chown|fsetxattr" <<<"$1"' _ "$out"
out=$("$GX" profiles permissions)
check "permissions has fchmodat and fchownat" bash -c 'grep -qx fchmodat <<<"$1" && grep -qx fchownat <<<"$1"' _ "$out"

err=$("$GX" profiles no-such-group 2>&1 >/dev/null)
rc=$?
check "unknown group exits 125" test "$rc" -eq 125
check "unknown group names it" grep -q "no-such-group" <<<"$err"

if command -v python3 >/dev/null; then
  json=$("$GX" profiles --json)
  check "json lists nine groups, no dangerous syscall in any" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
names = [g["name"] for g in d["groups"]]
assert names[0] == "default" and len(names) == 9 and "permissions" in names, names
bad = set(d["dangerous"])
assert "ptrace" in bad and "bpf" in bad
for g in d["groups"]:
    assert not bad & set(g["syscalls"]), g["name"]
assert "io_uring_setup" in d["enosys_unless_allowed"]
' "$json"
  json=$("$GX" profiles --json network)
  check "json for one group" python3 -c '
import json, sys
g = json.loads(sys.argv[1])
assert g["name"] == "network" and "socket" in g["syscalls"]
' "$json"
fi

echo "$passes passed, $fails failed"
test "$fails" -eq 0
