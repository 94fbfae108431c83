#!/usr/bin/env bash
# Attack: an agent floods its nested-run channel with connections it never uses, to exhaust its supervisor (unbounded workers) or lock itself and others out for good.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/nested_env.bash"
cat >"$T/flood.py" <<PY
import os, socket, struct, subprocess, time
ch = socket.socket(fileno=int(os.environ["GX_CHANNEL"]))
connect = b"GXBR" + bytes([1, 6, 0, 0]) + struct.pack(">I", 0)
held = []
for i in range(12):
    mine, theirs = socket.socketpair()
    socket.send_fds(ch, [connect], [theirs.fileno()])
    theirs.close()
    held.append(mine)
# Connections past the limit are answered at once with an Error frame "busy".
busy = 0
for s in held:
    s.settimeout(2)
    try:
        h = s.recv(12)
    except socket.timeout:
        continue
    if len(h) == 12 and h[:4] == b"GXBR" and h[5] == 5:
        n = struct.unpack(">I", h[8:12])[0]
        if b"busy" in s.recv(n):
            busy += 1
print("busy=%d" % busy, flush=True)
for s in held:
    s.close()
# The supervisor is still serving: a real call works once a slot is free.
for attempt in range(50):
    rc = subprocess.call(["$GX", "run", "$T/tool.toml", "--", "$MARK", "$W/after"], pass_fds=[ch.fileno()],
                         stderr=subprocess.DEVNULL if attempt < 49 else None)
    if rc != 125:
        break
    time.sleep(0.1)
print("after=%d" % rc, flush=True)
print("refused_after=%d" % attempt, flush=True)  # each one also logged "busy"
PY
agent_py_art agent "$T/flood.py"
child_art tool agent agent --write "$W" -- "$MARK" "$W/after"
expect_rc 0 "the agent ran to its end" R "$T/agent.toml" -- /usr/bin/python3 "$T/flood.py"
check "8 of 12 held connections were refused busy (limit 4) ($(grep busy= "$T/out"))" grep -qx "busy=8" "$T/out"
# The 8 of the flood, and one for each time the real call below found every
# slot still taken (the abandoned connections' workers end on their own time).
refused_after=$(sed -n 's/^refused_after=//p' "$T/out")
check "the supervisor logged each refusal (8 + ${refused_after:-?} retries)" \
  test "$(grep -c "busy: refused a request" "$T/err")" = "$((8 + ${refused_after:-1000}))"
check "a real nested run after the flood works ($(grep after= "$T/out"))" grep -qx "after=0" "$T/out"
check "...and its tool ran" test -e "$W/after"
check "the workers of the abandoned connections logged them" grep -q "refused: connection closed" "$T/err"
expect_rc 0 "the log verifies" "$GX" log verify --state "$S"
finish
