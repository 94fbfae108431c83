#!/usr/bin/env bash
# Attack: a flood of silent connections (and a slow client dribbling its request) exhausts the broker so nobody else is served.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
start_broker --max-concurrent 3 --request-timeout-ms 4000 || finish
art ctl --max-uses 100 --write "$W" -- "$H/try_marker" "$W/m"

# 20 connections that say nothing, held open; then a real request while they are held.
PYTHONPATH=$HERE python3 - "$SOCK" "$GX" "$T/ctl.toml" "$H/try_marker" "$W/m" >"$T/flood.out" 2>&1 <<'PY' || bad "flood client: $(cat "$T/flood.out")"
import subprocess, sys, time
from broker_frames import busy_answers, hold
sock, gx, art, mark, marker = sys.argv[1:6]
held = hold(sock, 20)
time.sleep(0.3)
r = subprocess.run([gx, "run", "--broker", sock, art, "--", mark, marker], capture_output=True, text=True)
print("during-flood", r.returncode, r.stderr.strip())
# The broker refused the excess with a clear error frame, never blocking on them.
print("busy", busy_answers(held, 5))
PY
grep during "$T/flood.out" >&2
check "a request during the flood is refused as busy, clearly (exit 125)" grep -q "^during-flood 125 .*busy" "$T/flood.out"
check "the marker was not made while busy" test ! -e "$W/m"
check "the flood's excess connections got a busy error frame" grep -Eq "^busy (1[0-9]|20)$" "$T/flood.out"
check "the broker logged the busy refusals" grep -q "busy: refused uid $(id -u)" "$T/broker.log"
timed_out() { local i; for i in $(seq 300); do grep -q "timeout" "$T/broker.log" && return 0; sleep 0.05; done; return 1; }
check "silent clients timed out" timed_out

# A slow client dribbling a valid header one byte every 600 ms: refused at the deadline.
python3 - "$SOCK" >"$T/slow.out" 2>&1 <<'PY' || bad "slow client: $(cat "$T/slow.out")"
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
start = time.time()
try:
    for b in b"GXBR\x01\x01\x00\x00\x00\x00\x01\x00":
        s.send(bytes([b]))
        time.sleep(0.6)
except (BrokenPipeError, ConnectionResetError):
    pass
s.settimeout(5)
data = s.recv(4096)
print("slow", round(time.time() - start), data[:12], b"timeout" in data)
PY
check "the slow client is cut off with a timeout error" grep -q "True$" "$T/slow.out"

# After all that, the broker serves normally.
expect_rc 0 "serving after the flood" B "$T/ctl.toml" -- "$H/try_marker" "$W/m"
check "and the command ran" test -e "$W/m"
check "the broker is still the same process" kill -0 "$BROKER_PID"
stop_broker
finish
