#!/usr/bin/env bash
# Attack: a caller hands the broker an anonymous-inode fd as stdin (no file type bits, so it skipped every check): an inotify fd watching a directory the command's sandbox denies told it the names created there; an eventfd, epoll fd or a pidfd of someone else's process went through too (review helper-42). Only pipes, files, terminals and connected TCP streams are taken.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skipped: needs python3"; finish; }
mkdir -p "$T/hidden"
READ='import os, sys
print("read:", os.read(0, 4096))
try:
    print("listdir:", os.listdir(sys.argv[1]))
except OSError as e:
    print("listdir refused", e.errno)'
start_broker || finish
PYTHONPATH=$HERE "$PY" - "$SOCK" "$T" "$PY" "$READ" >"$T/anon.out" 2>&1 <<'PY' || bad "client: $(cat "$T/anon.out")"
import ctypes, os, select, subprocess, sys
from broker_frames import ask, frame, request_body, summary
sock, t, py, code = sys.argv[1:5]
libc = ctypes.CDLL(None, use_errno=True)
def art(name, *argv):
    subprocess.run([os.environ["GX"], "init", "-f", "-o", f"{t}/{name}.toml", "--max-uses", "10", "--", *argv],
                   check=True, capture_output=True, cwd=f"{t}/work")
    subprocess.run([os.environ["GX"], "sign", "-k", f"{t}/alice.key", f"{t}/{name}.toml"], check=True, capture_output=True)
    return open(f"{t}/{name}.toml", "rb").read()
ctl = request_body(art("ctl", "/bin/true"), [b"/bin/true"], cwd=f"{t}/work".encode())
for name, fd in [("eventfd", os.eventfd(0)), ("pidfd", os.pidfd_open(1)), ("epoll", select.epoll().fileno()),
                 ("inotify", libc.inotify_init())]:
    print(summary(name, ask(sock, frame(1, ctl), [fd, 1, 2]), 400))
# The leak itself: a watch on a directory the command may not read.
ino = libc.inotify_init()
libc.inotify_add_watch(ino, f"{t}/hidden".encode(), 0x100)  # IN_CREATE
open(f"{t}/hidden/payroll-2027.xlsx", "w").close()
body = request_body(art("reader", py, "-c", code, f"{t}/hidden"), [py.encode(), b"-c", code.encode(), f"{t}/hidden".encode()],
                    cwd=f"{t}/work".encode())
print(summary("leak", ask(sock, frame(1, body), [ino, 1, 2]), 400))
# Control: a pipe is still taken.
r, w = os.pipe()
os.write(w, b"hello"); os.close(w)
print(summary("pipe", ask(sock, frame(1, body), [r, 1, 2]), 400))
PY
cat "$T/anon.out" >&2
for kind in eventfd pidfd epoll inotify leak; do
  check "$kind as stdin is refused" grep -q "^$kind error .*invalid-value.*an anonymous inode" "$T/anon.out"
done
check "the command never saw the hidden directory's names" bash -c '! grep -q payroll "$1"' sh "$T/anon.out"
check "control: a pipe as stdin is taken" grep -q "^pipe report " "$T/anon.out"
stop_broker
finish
