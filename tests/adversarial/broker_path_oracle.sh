#!/usr/bin/env bash
# Attack: a caller hands the broker (root) a cwd or argv[0] it cannot resolve itself -- /proc/PID/cwd of a root process, a symlink in a 0700 root directory -- and reads what root resolved it to from the denial.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
if [ "$(id -u)" != 0 ] || ! id gxtest >/dev/null 2>&1; then
  echo "skipped: needs root and the user gxtest"
  finish
fi
SECRET=$T/private-$RANDOM
mkdir -m 700 "$SECRET" "$SECRET/session-token-4f2a"
ln -s /etc/ssl "$SECRET/link"
(cd "$SECRET/session-token-4f2a" && exec sleep 30) &
VICTIM=$!
art ok --no-bind-user --max-uses 100 -- /bin/true
chmod 755 "$T" "$T/work"
chmod 644 "$T/ok.toml"
start_broker --allow-user gxtest || finish
check "control: gxtest cannot read the victim's cwd" bash -c "! su gxtest -s /bin/sh -c 'readlink /proc/$VICTIM/cwd' 2>/dev/null"
su gxtest -s /bin/sh -c "PYTHONPATH='$HERE' python3 - '$SOCK' '$T/ok.toml' '$T/work' '/proc/$VICTIM/cwd' '$SECRET/link' '$SECRET/link/true'" >"$T/oracle.out" 2>&1 <<'PY'
import sys
from broker_frames import ask as send, frame, request_body
sock, art, good_cwd, proc_cwd, link_dir, link_exe = sys.argv[1:7]
def ask(name, argv0, cwd):
    got = send(sock, frame(1, request_body(open(art, "rb").read(), [argv0.encode()], cwd=cwd.encode())))
    print(name, got.decode("utf-8", "replace").replace("\n", " "))
ask("proc-cwd", "/bin/true", proc_cwd)
ask("link-cwd", "/bin/true", link_dir)
ask("link-exe", link_exe, good_cwd)
ask("missing-exe", "/nonexistent/true", good_cwd)
PY
check "the caller got answers ($(head -c 300 "$T/oracle.out"))" test "$(grep -ac policy-mismatch "$T/oracle.out")" = 4
check "the victim's cwd is not revealed" bash -c "! grep -aq session-token-4f2a '$T/oracle.out'"
check "the symlink's target is not revealed" bash -c "! grep -aq /etc/ssl '$T/oracle.out'"
check "a missing file and a mismatching one are the same denial" \
  test "$(grep -a '^link-exe' "$T/oracle.out" | grep -ao 'does not resolve to the authorized /usr/bin/true')" = \
  "$(grep -a '^missing-exe' "$T/oracle.out" | grep -ao 'does not resolve to the authorized /usr/bin/true')"
kill "$VICTIM" 2>/dev/null
stop_broker
finish
