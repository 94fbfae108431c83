# Shared by the broker tests (tests/cli/broker*.sh, tests/adversarial/broker_*.sh):
# a broker on a private socket with private state. Source after lib/common.bash and
# lib/run_env.bash. The broker's state is $BS, its socket $SOCK, its log $T/broker.log.
BS=$T/bstate
SOCK=$T/broker.sock
BROKER_PID=""

# start_broker [EXTRA BROKER FLAGS...]: starts a broker, waits until it serves: its socket
# is there and its log says "serving on" (the socket exists a little before: the broker
# still probes the kernel meanwhile, and tests read that line).
# BROKER_WRAP, when set, is a command (words split on spaces) the broker runs under: gx and
# its arguments follow it.
serving_lines() { grep -c "serving on" "$T/broker.log" 2>/dev/null || true; }
start_broker() {
  rm -f "$SOCK"
  local wrap=() before
  [ -n "${BROKER_WRAP:-}" ] && read -r -a wrap <<<"$BROKER_WRAP"
  before=$(serving_lines)
  ${wrap[@]+"${wrap[@]}"} "$GX" broker --socket "$SOCK" --trust "$TR" --state "$BS" "$@" >>"$T/broker.log" 2>&1 &
  BROKER_PID=$!
  local i
  for i in $(seq 200); do
    local now
    now=$(serving_lines)
    [ -S "$SOCK" ] && [ "${now:-0}" -gt "${before:-0}" ] && return 0
    kill -0 "$BROKER_PID" 2>/dev/null || break
    sleep 0.05
  done
  bad "broker did not start: $(tail -c 600 "$T/broker.log")"
  return 1
}

# stop_broker [SIGNAL]: stops it (TERM by default) and waits for it.
stop_broker() {
  [ -n "$BROKER_PID" ] || return 0
  kill -"${1:-TERM}" "$BROKER_PID" 2>/dev/null
  wait "$BROKER_PID" 2>/dev/null
  BROKER_PID=""
}
trap 'stop_broker KILL; rm -rf "$T"' EXIT

B() { "$GX" run --broker "$SOCK" "$@"; }

# racy_window_passed: files written in the last 2 s have "racy" stamps (FileStamp::kRacyNs,
# lib/broker_state.h): a worker re-reads them for every request, and a worker that re-read its
# kept state is not reused. Waits until what was written before the call is past that.
racy_window_passed() { sleep 2.2; }

# worker_settle: time for the worker that served the last request to say it is idle and become
# the spare again (lib/broker.h, "Reuse"). A request that comes before that finds no spare and
# gets a worker forked for it: on a loaded machine (CI runs two suites at once) the next client
# can win that race, and a test of what a reused worker keeps would then test a fresh one.
worker_settle() { sleep 0.5; }

# last_receipt: the newest receipt of the broker's log, as JSON.
last_receipt() { "$GX" log show --state "$BS" --json --tail 1 2>/dev/null | tail -n 1; }

