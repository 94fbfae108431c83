#!/usr/bin/env bash
# Attack: a caller sets the "no report" request flag (bit 2) to keep a run out of the record, or with a dry run to learn the decision without the report it should come with.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skipped: needs python3"; finish; }
start_broker || finish
art mk --max-uses 10 --write "$W" -- "$H/try_marker" "$W/m"
PYTHONPATH=$HERE "$PY" - "$SOCK" "$T/mk.toml" "$H/try_marker" "$W" "$T/work" >"$T/nr.out" 2>&1 <<'PY' || bad "client: $(cat "$T/nr.out")"
import sys
from broker_frames import ask, frame, request_body, summary
sock, art, marker, w, cwd = sys.argv[1:6]
body = lambda argv, flags: request_body(open(art, "rb").read(), [marker.encode(), *argv], cwd=cwd.encode(),
                                        flags=flags)
NO_REPORT, DRY_RUN, JSON = 4, 1, 2
print(summary("dry", ask(sock, frame(1, body([f"{w}/dry".encode()], NO_REPORT | DRY_RUN)))))
print(summary("json", ask(sock, frame(1, body([f"{w}/json".encode()], NO_REPORT | JSON)))))
print(summary("denied", ask(sock, frame(1, body([f"{w}/other".encode()], NO_REPORT)))))
print(summary("ran", ask(sock, frame(1, body([f"{w}/m".encode()], NO_REPORT)))))
PY
cat "$T/nr.out" >&2
check "no report with a dry run is refused, naming the flags" grep -q '^dry error .*invalid-value.*flags' "$T/nr.out"
check "no report with --json is refused, naming the flags" grep -q '^json error .*invalid-value.*flags' "$T/nr.out"
check "...neither ran" test ! -e "$W/dry" -a ! -e "$W/json"
check "a denial without the report still names its reason" grep -q '^denied report .*policy-mismatch' "$T/nr.out"
check "...the denied command never ran" test ! -e "$W/other"
check "...and the broker recorded the denial" bash -c \
  '"$GX" log show --state "$1" --json | jq -r "select(.decision == \"denied\") | .reason" | grep -qx policy-mismatch' _ "$BS"
# Ran without the report: the record is the broker's, whatever the client asks.
check "an allowed run without the report ran" test -e "$W/m"
check "...its answer carries no run report" bash -c '! grep -q "\"sandbox\"" "$1"' _ "$T/nr.out"
r=$(last_receipt)
check "...and the broker recorded it finished ($(jq -c '[.decision, .exit_code]' <<<"$r"))" \
  test "$(jq -r '.decision + " " + (.exit_code|tostring)' <<<"$r")" = "finished 0"
expect_rc 0 "the broker's log verifies" "$GX" log verify --state "$BS"
stop_broker
finish
