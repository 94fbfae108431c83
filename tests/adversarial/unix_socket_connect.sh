# Attack: under network = "none", the child connect()s to a named Unix socket outside the sandbox (as /run/docker.sock would be for root) and talks to its server.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
SOCK=$T/outside.sock
python3 - "$SOCK" "$T/received" <<'EOP' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4); s.settimeout(30)
try:
    while True:
        c, _ = s.accept()
        data = c.recv(100)
        open(sys.argv[2], "ab").write(data)
        c.close()
except Exception:
    pass
EOP
LISTENER=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
check "listener is up" test -S "$SOCK"
art ux -- "$H/try_unix_connect" "$SOCK"
run R "$T/ux.toml" -- "$H/try_unix_connect" "$SOCK"
check "socket(AF_UNIX) refused under network none ($(head -1 "$T/out"); $(head -c 200 "$T/err"))" test "$(head -1 "$T/out")" = EPERM
sleep 0.2
check "the server received nothing" test ! -s "$T/received"
# socketpair keeps working
art sp -- "$H/try_unix_socket"
run R "$T/sp.toml" -- "$H/try_unix_socket"
check "control: socketpair(AF_UNIX) still works ($(head -1 "$T/out"))" test "$(head -1 "$T/out")" = ok
# network = "tcp" does not open named sockets either
art ux_tcp --net 443 -- "$H/try_unix_connect" "$SOCK"
run R "$T/ux_tcp.toml" -- "$H/try_unix_connect" "$SOCK"
check "socket(AF_UNIX) refused under network tcp too ($(head -1 "$T/out"))" test "$(head -1 "$T/out")" = EPERM
# the explicit all-or-nothing opt-in
art_edit ux_ok 's/^log_denials = .*/&\nunix_sockets = true/' -- "$H/try_unix_connect" "$SOCK"
run R "$T/ux_ok.toml" -- "$H/try_unix_connect" "$SOCK"
check "control: unix_sockets = true connects ($(head -1 "$T/out"); $(head -c 200 "$T/err"))" test "$(head -1 "$T/out")" = ok
sleep 0.2
check "control: the server heard the opted-in child" grep -q pwned "$T/received"
kill "$LISTENER" 2>/dev/null
finish
