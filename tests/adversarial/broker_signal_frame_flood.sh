#!/usr/bin/env bash
# Attack: an allowed client floods the broker's log during its run with Signal frames for signals that are not forwarded, malformed Signal frames and unexpected frames (one log line each, 64 MB in 5 s), or tries to end its command with them.
# Fixed: the connection watcher logs the first ignored frame of a connection and only counts the
# rest (one line with the count when the run is over); the run goes on (lib/broker_request.cc).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
start_broker || finish
art sl --max-uses 10 -- /bin/sleep 2
PYTHONPATH=$HERE python3 - "$SOCK" "$T/sl.toml" "$PWD" >"$T/flood.out" 2>&1 <<'PY' || bad "flooding client: $(cat "$T/flood.out")"
import os, socket, struct, sys, time
from broker_frames import field, frame, request_body
sock, art, cwd = sys.argv[1:4]
req = request_body(open(art, "rb").read(), [b"/bin/sleep", b"2"], cwd=cwd.encode())
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
null = os.open("/dev/null", os.O_RDWR)
socket.send_fds(s, [frame(1, req)], [null, null, null])
time.sleep(0.3)
junk = (frame(2, field(1, struct.pack(">I", 9))) * 200 +    # SIGKILL: not forwarded
        frame(2, field(1, struct.pack(">I", 0))) * 50 +     # not a signal
        frame(3, field(1, b"{}")) * 50)                     # a frame only the broker sends
sent = 0
t0 = time.time()
while time.time() - t0 < 1.2:
    s.sendall(junk)
    sent += 300
got = b""
s.settimeout(20)
while True:
    chunk = s.recv(65536)
    if not chunk: break
    got += chunk
frames = []
while len(got) >= 12:
    n = struct.unpack(">I", got[8:12])[0]
    frames.append((got[5], got[12:12 + n]))
    got = got[12 + n:]
exit_frames = [p for t, p in frames if t == 4]
print("sent", sent)
print("exit", struct.unpack(">I", exit_frames[0][6:10])[0] if exit_frames else "none")
PY
cat "$T/flood.out" >&2
sent=$(awk '/^sent/ {print $2}' "$T/flood.out")
check "the client sent thousands of junk frames (${sent:-0})" test "${sent:-0}" -ge 3000
check "the run still ended normally (exit 0, the sleep not cut short)" grep -qx "exit 0" "$T/flood.out"
lines=$(grep -Ec "is not forwarded|bad signal frame|unexpected .* frame during a run" "$T/broker.log")
check "the first ignored frame is logged, the rest are not ($lines line(s))" test "$lines" = 1
check "their count is logged once at the end" grep -Eq "[0-9]+ more ignored frame\(s\) from this client" "$T/broker.log"
check "the broker log stayed small ($(wc -c <"$T/broker.log") bytes)" test "$(wc -c <"$T/broker.log")" -lt 20000
expect_rc 0 "the broker still serves" B "$T/sl.toml" -- /bin/sleep 2
stop_broker
finish
