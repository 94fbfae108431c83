#!/usr/bin/env bash
# Attack: a client puts bytes that are not UTF-8 in a request's argv, env, cwd or artifact name (or a local caller in gx run's argv) so that writing the JSON report throws and kills the worker (or gx run --json / --report) instead of answering.
# Fixed: decode_request refuses such strings naming the field (lib/broker_protocol.cc); every
# report and --json output is dumped with invalid UTF-8 replaced, never thrown on.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
start_broker || finish
art ctl --max-uses 100 --write "$W" -- "$H/try_marker" "$W/m"
art ctl2 --max-uses 100 --write "$W" -- "$H/try_marker" "$W/c"
PYTHONPATH=$HERE python3 - "$SOCK" "$T/ctl.toml" "$H/try_marker" "$W/m" "$PWD" "$T/ctl2.toml" "$W/c" >"$T/utf8.out" 2>&1 <<'PY' || bad "client: $(cat "$T/utf8.out")"
import sys
from broker_frames import PATH_ENV, ask as send, frame, request_body, summary
sock, art, mark, marker, cwd, art2, marker2 = sys.argv[1:8]
bad = b"\xff\xfe-bad"
def request(art, argv, env=(PATH_ENV,), cwd=cwd.encode(), name=None):
    return frame(1, request_body(open(art, "rb").read(), argv, env, cwd, name))
def ask(name, data): print(summary(name, send(sock, data), 400))
m, mk = mark.encode(), marker.encode()
ask("argv1", request(art, [m, mk + bad]))
ask("argv0", request(art, [m + bad, mk]))
ask("env-value", request(art, [m, mk], env=[b"PATH=/usr/bin:/bin", b"FOO=" + bad]))
ask("env-name", request(art, [m, mk], env=[bad + b"=1"]))
ask("cwd", request(art, [m, mk], cwd=cwd.encode() + b"/" + bad))
ask("name", request(art, [m, mk], name=bad))
ask("control", request(art2, [m, marker2.encode()], name=b"ctl2.toml"))
PY
echo "$(cat "$T/utf8.out")" >&2
for case in "argv1 argv\[1\]" "argv0 argv\[0\]" "env-value env\[1\]" "env-name env\[0\]" "cwd cwd" "name artifact_name"; do
  set -- $case
  check "$1: answered with an error frame naming $2" grep -q "^$1 error .*invalid-value.*field $2 is not valid UTF-8" "$T/utf8.out"
done
check "nothing ran for any of them" test ! -e "$W/m"
check "no worker died" bash -c "! grep -Eq 'ended abnormally|terminate called' '$T/broker.log'"
check "control: a well-formed request on the same broker runs" grep -q "^control report " "$T/utf8.out"
check "control: its marker was made" test -e "$W/c"
expect_rc 0 "the broker still serves" B "$T/ctl.toml" -- "$H/try_marker" "$W/m"
rm -f "$W/m"
# gx's own client leaves a variable that is not UTF-8 behind, says so, and runs.
run env "$(printf 'GX_LATIN1=caf\351')" "$GX" run --broker "$SOCK" "$T/ctl.toml" -- "$H/try_marker" "$W/m"
check "a non-UTF-8 variable does not stop a brokered run ($RC: $(head -c 300 "$T/err"))" test "$RC" = 0 -a -e "$W/m"
check "the client names the variable it left behind" grep -q "GX_LATIN1 is not UTF-8: not sent" "$T/err"
rm -f "$W/m"
check "the broker is still the same process" kill -0 "$BROKER_PID"
stop_broker

# A local run: the denial's report names the bad argv; it is printed, not thrown on.
expect_rc 126 "gx run --json with a non-UTF-8 argv[0] is denied, not aborted" R --json "$T/ctl.toml" -- "$H/try_marker"$'\xff' "$W/m"
check "its JSON is printed and parses: $(head -c 300 "$T/out")" jq -e '.decision.decision == "deny"' "$T/out" >/dev/null
check "the bad bytes are replaced (U+FFFD)" grep -q $'try_marker\xef\xbf\xbd' "$T/out"
expect_rc 126 "gx run --report with a non-UTF-8 argv[0] is denied, not aborted" R --report "$T/report.json" "$T/ctl.toml" -- "$H/try_marker"$'\xff' "$W/m"
check "the report file is written and parses" jq -e . "$T/report.json" >/dev/null
check "nothing ran locally either" test ! -e "$W/m"
finish
