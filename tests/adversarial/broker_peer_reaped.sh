#!/usr/bin/env bash
# Attack (review helper-43): connect to the broker, let the worker take the
# connection while the connecting process is alive, then hand the socket to a
# child and have the connecting process exit and be reaped before the request
# is sent. Its pid is free from then on (a recycled one names another process),
# yet the report said `peer.pid_pinned: true`: the pidfd was asked once, when
# the connection was taken. Now the pidfd is held and asked again when the run
# is reported; `peer.pid_inode` names the process beyond its pid (pidfs).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
if ! python3 -c 'import socket; a, b = socket.socketpair(); a.getsockopt(socket.SOL_SOCKET, 77)' 2>/dev/null; then
  echo "# skip: this kernel has no SO_PEERPIDFD (nothing is pinned, pid_pinned is always false)"
  finish
  exit
fi
start_broker || finish
art ctl --max-uses 100 --write "$W" -- "$H/try_marker" "$W/m"

# ask.py ART MODE: MODE "stay" sends from the connecting process; "reaped"
# sends from a child after the connecting process was reaped. Prints
# "<connector pid> <connector's pidfd inode> <report JSON>".
cat >"$T/ask.py" <<'PY'
import json, os, socket, struct, sys, time
from broker_frames import frame, request_body
sock_path, art, mark, marker, mode = sys.argv[1:6]
body = request_body(open(art, "rb").read(), [mark.encode(), marker.encode()], cwd=os.getcwd().encode())
r, w = os.pipe()
connector = os.fork()
if connector == 0:  # the connecting process
    os.close(r)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    ino = os.fstat(os.pidfd_open(os.getpid())).st_ino
    time.sleep(0.5)  # the worker takes the connection (and its pidfd) meanwhile
    def talk(prefix):
        null = os.open("/dev/null", os.O_RDWR)
        socket.send_fds(s, [frame(1, body)], [null, null, null])
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        # the first frame is the Report: header (12), field tag (2), length (4), JSON
        n = struct.unpack(">I", got[8:12])[0]
        report = got[12:12 + n][6:]
        os.write(w, prefix + report)
    if mode == "stay":
        talk(f"{os.getpid()} {ino} ".encode())
        os._exit(0)
    me = os.getpid()
    if os.fork() == 0:  # the heir: sends once the connecting process was reaped
        for _ in range(1000):
            if not os.path.exists(f"/proc/{me}"):
                break
            time.sleep(0.01)
        talk(b"")
        os._exit(0)
    os.write(w, f"{os.getpid()} {ino} ".encode())
    os._exit(0)
os.close(w)
os.waitpid(connector, 0)  # reaped: its pid is free from here on
out = b""
while True:
    chunk = os.read(r, 65536)
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode())
PY
# ask MODE: runs ask.py; sets cpid, cino and peer (the report's peer object);
# the command must have run (its marker is removed).
ask() {
  PYTHONPATH=$HERE timeout 20 python3 "$T/ask.py" "$SOCK" "$T/ctl.toml" "$H/try_marker" "$W/m" "$1" \
    >"$T/$1.out" 2>"$T/$1.err" || bad "$1 client: $(cat "$T/$1.err")"
  read -r cpid cino _ <"$T/$1.out"
  check "$1: the command ran (by design, the connecting uid's request)" test -e "$W/m" && rm -f "$W/m"
  peer=$(sed 's/^[0-9]* [0-9]* //' "$T/$1.out" | jq -c '.report.peer' 2>&1)
}
pid_and_pinned() { jq -r '[.pid, .pid_pinned] | map(tostring) | join(" ")' <<<"$peer"; }

# Control: the connecting process stays until it has the report.
ask stay
check "control: the report names the connecting process, pinned ($peer; pid $cpid)" test "$(pid_and_pinned)" = "$cpid true"
# On pidfs (Linux >= 6.9) every process's pidfd has its own inode.
a=$(python3 -c 'import os; print(os.fstat(os.pidfd_open(os.getpid())).st_ino)')
b=$(python3 -c 'import os; print(os.fstat(os.pidfd_open(os.getpid())).st_ino)')
if [ "$a" != "$b" ]; then
  check "control: pid_inode is the connecting process's pidfd inode ($cino)" test "$(jq -r .pid_inode <<<"$peer")" = "$cino"
else
  echo "# skip: pidfds share one inode on this kernel (no pidfs): pid_inode is not checked"
fi

# The attack: the connecting process is reaped before the request is sent.
ask reaped
check "its report does not claim the reaped pid is pinned ($peer; connector pid $cpid)" test "$(pid_and_pinned)" = "$cpid false"
stop_broker

# Under a seccomp filter that answers pidfd_send_signal with EPERM (1) itself
# (systemd's SystemCallErrorNumber=EPERM, a container profile without the
# call), signal 0 cannot say "reaped" (review helper-63: EPERM was taken for
# "still there"): the broker sees that at start and asks fdinfo instead.
# A filter that fakes success (errno 0) would make every caller look alive:
# the start-up probe (a reaped child must give ESRCH) sees through that too.
for errno_value in 1 0; do
  BROKER_WRAP="$H/filter_pidfd_signal $errno_value" start_broker || finish
  ask stay
  check "filtered (errno $errno_value): the report names the connecting process, pinned ($peer; pid $cpid)" \
    test "$(pid_and_pinned)" = "$cpid true"
  ask reaped
  check "filtered (errno $errno_value): its report does not claim the reaped pid is pinned ($peer; connector pid $cpid)" \
    test "$(pid_and_pinned)" = "$cpid false"
  stop_broker
done
finish
