#!/usr/bin/env bash
# Attack: a client whose command ignores SIGTERM disconnects while its request is still being authorized (here: waiting for the receipt log's lock longer than the disconnect grace), so the command would start after the broker's SIGTERM and SIGKILL were spent, with no client and no deadline.
# Fixed: the pipeline asks the connection watcher before the program may exec and does not start
# it once the client is gone (a not-started receipt); the watcher also keeps killing what the
# worker forks after the grace (lib/broker_request.cc, lib/run_pipeline.cc).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
command -v flock >/dev/null || { echo "skipped: needs flock(1)"; finish; }
start_broker || finish
art mk --max-uses 10 --write "$W" -- "$H/try_marker" "$W/m"
expect_rc 0 "control: the command runs" B "$T/mk.toml" -- "$H/try_marker" "$W/m"
check "control: its marker was made" test -e "$W/m"
rm -f "$W/m"
check "the receipt log exists" test -f "$BS/receipts.log"

# Hold the log's lock for 4 s: the request waits for it to record its use.
flock -x "$BS/receipts.log" -c "touch $T/locked; sleep 4" &
locker=$!
wait_for test -e "$T/locked" || bad "the lock was never taken"
(trap '' TERM; exec "$GX" run --broker "$SOCK" "$T/mk.toml" -- "$H/try_marker" "$W/m") >/dev/null 2>&1 &
client=$!
sleep 0.5
kill -KILL "$client"
wait "$client" 2>/dev/null
wait "$locker"
sleep 1.5
check "the command never ran after its client was gone (no marker)" test ! -e "$W/m"
last=$(last_receipt)
check "a not-started receipt says why: ${last:0:400}" \
  jq -e '.decision == "not-started" and .reason == "io-error" and (.detail | test("client disconnected before the program started"))' <<<"$last" >/dev/null
check "no command is left" bash -c "! pgrep -f -x '$H/try_marker $W/m' >/dev/null"
expect_rc 0 "the broker still serves" B "$T/mk.toml" -- "$H/try_marker" "$W/m"
expect_rc 0 "the log verifies" "$GX" log verify --state "$BS"
stop_broker
finish
