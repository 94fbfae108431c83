#!/usr/bin/env bash
# Attack: an agent writes malformed messages to its nested-run channel (garbage, wrong frame types, trailing bytes, no fd, extra fds, a pipe instead of a socket, empty and oversized messages, thousands of them) to crash or wedge its supervisor.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/nested_env.bash"
cat >"$T/garbage.py" <<PY
import os, socket, struct, subprocess, sys
ch = socket.socket(fileno=int(os.environ["GX_CHANNEL"]))
def header(kind, length=0):
    return b"GXBR" + bytes([1, kind, 0, 0]) + struct.pack(">I", length)
def send(data, fds=()):
    try:
        socket.send_fds(ch, [data], list(fds))
    except OSError as e:
        print("send failed:", e, flush=True)
a, b = socket.socketpair()
r, w = os.pipe()
send(b"garbage, not a frame")
send(header(1))                       # a request frame, not connect
send(header(6) + b"trailing", [a.fileno()])
send(header(6))                       # connect without its fd
send(header(6), [a.fileno(), b.fileno()])
send(header(6), [r])                  # a pipe, not a socket
send(b"")                             # an empty message
send(b"x" * 65536)                    # oversized
send(b"GXBR" + bytes([9, 6, 0, 0]) + struct.pack(">I", 0), [a.fileno()])  # unknown version
for i in range(2000):
    send(b"flood %d" % i)
# After all that, a real nested run still works.
rc = subprocess.call(["$GX", "run", "$T/tool.toml", "--", "$MARK", "$W/after"], pass_fds=[ch.fileno()])
print("after=%d" % rc, flush=True)
PY
agent_py_art agent "$T/garbage.py"
child_art tool agent agent --write "$W" -- "$MARK" "$W/after"
expect_rc 0 "the agent ran to its end" R "$T/agent.toml" -- /usr/bin/python3 "$T/garbage.py"
check "a real nested run after the garbage works ($(grep after= "$T/out"))" grep -qx "after=0" "$T/out"
check "...and its tool ran" test -e "$W/after"
check "the supervisor logged the refusals" grep -q "gx: supervisor: nested-run channel of run .*: message refused" "$T/err"
check "...naming a bad magic" grep -q "does not start with GXBR" "$T/err"
check "...a frame that is not connect" grep -q "must be a connect frame, not request" "$T/err"
check "...trailing bytes" grep -q "connect frame with 8 trailing bytes" "$T/err"
check "...a missing fd" grep -q "carries exactly 1 fd, got 0" "$T/err"
check "...extra fds" grep -q "carries exactly 1 fd, got 2" "$T/err"
check "...a pipe instead of a socket" grep -q "is not an AF_UNIX stream socket" "$T/err"
check "...an oversized message" grep -q "channel message truncated" "$T/err"
check "...an unknown version" grep -q "version 9 is not supported" "$T/err"
check "...and kept counting through the flood" grep -q "message refused (2009 so far)" "$T/err"
expect_rc 0 "the log verifies" "$GX" log verify --state "$S"
check "the tool's run is the agent's child" \
  test "$(receipt_of "$S" ".decision == \"authorized\" and .artifact_digest == \"$(digest "$T/tool.toml")\"" | jq -r .parent)" = \
  "$(receipt_of "$S" ".decision == \"authorized\" and .artifact_digest == \"$(digest "$T/agent.toml")\"" | jq -r .id)"
finish
