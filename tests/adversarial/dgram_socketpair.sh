# Attack: under network = "none" and no unix_sockets, the child makes a datagram socketpair and sendto()s a forged line to a named datagram socket outside the sandbox (as /dev/log would be).
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: needs python3"; finish; }
SOCK=$T/log.sock
"$PY" - "$SOCK" "$T/received" <<'EOP' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(30)
try:
    while True:
        open(sys.argv[2], "ab").write(s.recv(200) + b"\n")
except Exception:
    pass
EOP
LISTENER=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
check "listener is up" test -S "$SOCK"
ATTACK='import socket, sys
try:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
except OSError as e:
    print("socketpair", e.errno); sys.exit(0)
a.sendto(b"<0>forged: sshd[1]: Accepted password for root", sys.argv[1])
a.connect(sys.argv[1]); a.send(b"<0>forged again")
print("sent")'
art dg -- "$PY" -c "$ATTACK" "$SOCK"
run R "$T/dg.toml" -- "$PY" -c "$ATTACK" "$SOCK"
check "datagram socketpair refused with EPERM ($(head -c 200 "$T/out"); $(head -c 200 "$T/err"))" grep -qx "socketpair 1" "$T/out"
sleep 0.3
check "the listener received nothing" test ! -s "$T/received"
# A stream pair keeps working.
CONTROL='import socket
a, b = socket.socketpair(); a.send(b"x"); print("stream", b.recv(1).decode())'
art st -- "$PY" -c "$CONTROL"
run R "$T/st.toml" -- "$PY" -c "$CONTROL"
check "control: a stream socketpair works ($(head -c 200 "$T/out"))" grep -qx "stream x" "$T/out"
kill "$LISTENER" 2>/dev/null
finish
