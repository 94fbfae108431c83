#!/usr/bin/env bash
# Attack: a local user the allow lists refuse floods the broker with connections: every one forks a worker, takes a max_concurrent slot (allowed callers get "busy") and leaves a signed, fsync'd denied receipt (the log grows without bound).
# Fixed: a refused uid with a refusal recorded in the last second is answered by the accept loop,
# without a worker slot or a receipt (lib/broker.cc serve).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
  echo "skipped: needs root and setpriv to flood as another uid (nobody)"
  finish
fi
chmod 755 "$T/work"
start_broker --max-concurrent 4 || finish
art ctl --max-uses 1000 --write "$W" -- "$H/try_marker" "$W/m"

# Four refused clients (uid 65534, not on any allow list) connecting as fast as they can for 6 s.
flooders=()
for i in 1 2 3 4; do
  setpriv --reuid 65534 --regid 65534 --clear-groups python3 - "$SOCK" >"$T/flood.$i" 2>&1 <<'PY' &
import socket, sys, time
n, end = 0, time.time() + 6
while time.time() < end:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sys.argv[1])
        s.recv(4096)
        s.close()
        n += 1
    except OSError:
        pass
print("connections", n)
PY
  flooders+=($!)
done
sleep 0.5
busy=0
for i in $(seq 20); do
  rm -f "$W/m"
  B "$T/ctl.toml" -- "$H/try_marker" "$W/m" >/dev/null 2>"$T/err.$i" || { grep -q busy "$T/err.$i" && busy=$((busy + 1)); }
done
wait "${flooders[@]}"
refused=$("$GX" log show --state "$BS" --json 2>/dev/null | jq -r 'select(.reason == "runtime-identity") | .id' | wc -l)
echo "allowed requests refused as busy: $busy/20; denied receipts for the refused uid: $refused; flood: $(cat "$T"/flood.* | tr '\n' ' ')" >&2
check "an allowed caller is never refused as busy by a refused caller's flood ($busy/20 were)" test "$busy" = 0
check "a refused caller cannot grow the receipt log without bound ($refused receipts in 6 s)" test "$refused" -le 20
stop_broker
finish
