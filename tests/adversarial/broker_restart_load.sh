#!/usr/bin/env bash
# Attack: restart (SIGTERM) and kill (SIGKILL) the broker while clients keep asking, hoping a command runs unrecorded or a receipt is lost.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
art append --max-uses 10000 --write "$W" -- /bin/sh -c 'echo x >> "$0"' "$W/ran"
start_broker || finish
# Three clients, each asking 25 times in a row; every success is counted.
client() {
  local i ok=0
  for i in $(seq 25); do
    "$GX" run --broker "$SOCK" "$T/append.toml" -- /bin/sh -c 'echo x >> "$0"' "$W/ran" >/dev/null 2>&1 && ok=$((ok + 1))
    sleep 0.02
  done
  echo "$ok" >"$T/client.$1"
}
pids=()
for c in 1 2 3; do client "$c" & pids+=($!); done
sleep 0.5
stop_broker TERM      # graceful: running requests finish first
start_broker || finish
sleep 0.5
stop_broker KILL      # not graceful: the running requests die with it
start_broker || finish
sleep 0.5
stop_broker TERM
start_broker || finish
wait "${pids[@]}"
stop_broker TERM
succeeded=$(( $(cat "$T"/client.* | paste -sd+ -) ))
ran=$(wc -l <"$W/ran" 2>/dev/null || echo 0)
"$GX" log show --state "$BS" --json >"$T/receipts" 2>/dev/null
authorized=$(jq -s '[.[] | select(.decision == "authorized")] | length' "$T/receipts")
finished=$(jq -s '[.[] | select(.decision == "finished" and .exit_code == 0)] | length' "$T/receipts")
echo "clients succeeded $succeeded, commands ran $ran, authorized $authorized, finished $finished"
check "some requests were served across the restarts" test "$succeeded" -gt 0
check "nothing ran without an authorized receipt ($ran ran, $authorized authorized)" test "$ran" -le "$authorized"
check "every success the clients saw has its finished receipt ($succeeded, $finished)" test "$succeeded" -le "$finished"
check "every finished run really ran ($finished finished, $ran ran)" test "$finished" -le "$ran"
expect_rc 0 "the broker's log verifies after the restarts and the kill" "$GX" log verify --state "$BS"
finish
