#!/usr/bin/env bash
# Attack: a caller hands the broker a UDP socket as stdin for a network = "none" command, which sendto()s anywhere with it (Landlock's network rules cover TCP only).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skipped: needs python3"; finish; }
SEND='import socket, sys
s = socket.socket(fileno=0)
s.sendto(b"exfil", ("127.0.0.1", int(sys.argv[1])))
print("sent")'
start_broker || finish
PYTHONPATH=$HERE "$PY" - "$SOCK" "$T" "$PY" "$SEND" >"$T/udp.out" 2>&1 <<'PY' || bad "client: $(cat "$T/udp.out")"
import os, socket, subprocess, sys
from broker_frames import ask, frame, request_body, summary
sock, t, py, send = sys.argv[1:5]
listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
listener.bind(("127.0.0.1", 0)); listener.settimeout(1)
port = str(listener.getsockname()[1])
def art(name, *argv):
    subprocess.run([os.environ["GX"], "init", "-f", "-o", f"{t}/{name}.toml", "--max-uses", "10", "--", *argv],
                   check=True, capture_output=True, cwd=f"{t}/work")
    subprocess.run([os.environ["GX"], "sign", "-k", f"{t}/alice.key", f"{t}/{name}.toml"], check=True, capture_output=True)
    return open(f"{t}/{name}.toml", "rb").read()
body = request_body(art("udp", py, "-c", send, port), [py.encode(), b"-c", send.encode(), port.encode()],
                    cwd=f"{t}/work".encode())
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print(summary("udp", ask(sock, frame(1, body), [udp.fileno(), 1, 2])))
try:
    print("received", listener.recv(100))
except socket.timeout:
    print("received nothing")
# Control: a connected TCP socket is still taken (inetd style).
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(1)
tcp = socket.create_connection(server.getsockname())
ctl = request_body(art("ctl", "/bin/true"), [b"/bin/true"], cwd=f"{t}/work".encode())
print(summary("tcp", ask(sock, frame(1, ctl), [tcp.fileno(), 1, 2])))
PY
cat "$T/udp.out" >&2
check "a UDP socket as stdin is refused" grep -q "^udp error .*not a connected stream" "$T/udp.out"
check "nothing was sent" grep -qx "received nothing" "$T/udp.out"
check "control: a connected TCP socket as stdin is taken" grep -q "^tcp report " "$T/udp.out"
stop_broker
finish
