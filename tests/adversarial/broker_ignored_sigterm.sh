#!/usr/bin/env bash
# Attack: a client makes its brokered command ignore SIGTERM (its caller's ignored
# signals reach the command) so that it outlives the broker's stop; the second stop
# signal must still end it (SIGKILL to its worker after the grace).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
start_broker || finish
art sleep4 --max-uses 10 -- /bin/sleep 33
(trap '' TERM; exec "$GX" run --broker "$SOCK" "$T/sleep4.toml" -- /bin/sleep 33) >/dev/null 2>&1 &
client=$!
wait_for pgrep -f -x "/bin/sleep 33" >/dev/null || bad "the brokered sleep 33 never started"
kill -TERM "$BROKER_PID"
sleep 0.3
kill -TERM "$BROKER_PID"
sleep 0.5
check "SIGTERM alone does not end a command that ignores it" pgrep -f -x "/bin/sleep 33" >/dev/null
check "the broker stops within its grace after the second signal" \
  wait_for bash -c "! kill -0 $BROKER_PID 2>/dev/null"
check "the command is gone with it" wait_for bash -c '! pgrep -f -x "/bin/sleep 33" >/dev/null'
check "the broker said it killed the request" grep -q "killing 1 request(s) still running after the second stop signal" "$T/broker.log"
wait "$client"
wait "$BROKER_PID" 2>/dev/null
BROKER_PID=""
expect_rc 0 "the log verifies after the kill" "$GX" log verify --state "$BS"
finish
