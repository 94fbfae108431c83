#!/usr/bin/env bash
# Attack: a hand-made client smuggles extra fds, extra fields (a state or trust path), or oversized and malformed frames to steer or crash the broker.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
start_broker --request-timeout-ms 2000 || finish
art ctl --max-uses 100 --write "$W" -- "$H/try_marker" "$W/m"
art ctl2 --max-uses 100 --write "$W" -- "$H/try_marker" "$W/c"
PYTHONPATH=$HERE python3 - "$SOCK" "$T/ctl.toml" "$H/try_marker" "$W/m" "$PWD" "$T/ctl2.toml" "$W/c" >"$T/forged.out" 2>&1 <<'PY' || bad "forging client: $(cat "$T/forged.out")"
import struct, sys
from broker_frames import ask as send, field, frame, request_body, summary
sock, art, mark, marker, cwd, art2, marker2 = sys.argv[1:8]
good = request_body(open(art, "rb").read(), [mark.encode(), marker.encode()], cwd=cwd.encode())
def ask(name, data, fds): print(summary(name, send(sock, data, fds)))
std = [0, 1, 2]
ask("four-fds", frame(1, good), std + [0])
ask("two-fds", frame(1, good), [0, 1])
ask("no-fds", frame(1, good), [])
ask("state-field", frame(1, good + field(40, b"/tmp/fresh-state")), std)
ask("path-as-signals", frame(1, good + field(7, b"/tmp/fresh-state")), std)
ask("duplicate-cwd", frame(1, good + field(5, b"/")), std)
ask("bad-version", frame(1, good, version=2), std)
ask("oversized", b"GXBR\x01\x01\x00\x00" + struct.pack(">I", 0x7fffffff), std)
ask("signal-first", frame(2, field(1, struct.pack(">I", 9))), [])
ask("truncated", frame(1, good)[:-3], std)
control = request_body(open(art2, "rb").read(), [mark.encode(), marker2.encode()], cwd=cwd.encode())
ask("control", frame(1, control), std)
PY
for name in four-fds two-fds no-fds state-field path-as-signals duplicate-cwd bad-version oversized signal-first truncated; do
  check "$name: refused with an error frame" grep -q "^$name error " "$T/forged.out"
done
check "four fds: MSG_CTRUNC or the count is named" grep -Eq "^four-fds error .*(file descriptors|truncated)" "$T/forged.out"
check "extra field: the unknown field is named" grep -q "^state-field error .*unknown field 40" "$T/forged.out"
check "a path in the signal-mask field: refused by its size" grep -q "^path-as-signals error .*ignored_signals is not 8 bytes" "$T/forged.out"
check "oversized: refused by its length" grep -q "^oversized error .*larger than the limit" "$T/forged.out"
check "nothing ran for any forged request" test ! -e "$W/m"
check "control: the well-formed hand-made request runs" grep -q "^control report " "$T/forged.out"
check "control: its marker was made" test -e "$W/c"
expect_rc 0 "the broker still serves" B "$T/ctl.toml" -- "$H/try_marker" "$W/m"
check "the broker is still the same process" kill -0 "$BROKER_PID"
check "nothing was written to a state the client named" test ! -e /tmp/fresh-state
stop_broker
finish
