#!/usr/bin/env bash
# Attack: one allowed caller holds every worker slot (silent connections wait
# out request_timeout_ms each, and can be renewed forever), so every other
# allowed user is refused as busy. The broker now caps the requests one uid
# may have running (max_per_user, default half of max_concurrent): the flood
# takes its own share, and another user is still served.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
OTHER=""
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  OTHER=65534
  mkdir -p "$T/u" && chown 65534 "$T/u"
fi
start_broker --max-concurrent 4 --request-timeout-ms 6000 ${OTHER:+--allow-user $OTHER} || finish
check "the broker's log states the per-user limit" grep -q "at most 4 at once, 2 per user" "$T/broker.log"
art ctl --max-uses 100 --write "$W" -- "$H/try_marker" "$W/m"
[ -n "$OTHER" ] && art other --no-bind-user --max-uses 100 --write "$T/u" -- "$H/try_marker" "$T/u/m"

# 12 silent connections from this uid, held; requests while they are held.
python3 - "$SOCK" "$GX" "$T/ctl.toml" "$H/try_marker" "$W/m" "$OTHER" "$T/other.toml" "$T/u/m" \
  >"$T/flood.out" 2>&1 <<'PY' || bad "flood client: $(cat "$T/flood.out")"
import socket, subprocess, sys, time
sock, gx, art, mark, marker, other, other_art, other_marker = sys.argv[1:9]
held = []
for _ in range(12):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    held.append(s)
time.sleep(0.5)
r = subprocess.run([gx, "run", "--broker", sock, art, "--", mark, marker], capture_output=True, text=True)
print("same-user", r.returncode, r.stderr.strip().replace("\n", " "))
if other:
    r = subprocess.run(["setpriv", "--reuid", other, "--regid", other, "--clear-groups", gx, "run", "--broker", sock,
                        other_art, "--", mark, other_marker], capture_output=True, text=True)
    print("other-user", r.returncode, r.stderr.strip().replace("\n", " "))
busy = 0
for s in held:
    s.settimeout(8)
    try:
        data = s.recv(4096)
    except socket.timeout:
        data = b""
    if b"busy" in data:
        busy += 1
print("busy", busy)
for s in held:
    s.close()
PY
grep -v '^busy' "$T/flood.out" | cut -c1-300 >&2
check "this uid's own request is refused as busy, naming max_per_user" \
  grep -q "^same-user 125 .*uid $(id -u) has its maximum of 2 requests running on this broker (max_per_user)" "$T/flood.out"
check "its marker was not made" test ! -e "$W/m"
check "the flood held 2 slots; its other 10 connections were refused busy ($(grep '^busy' "$T/flood.out"))" \
  grep -qx "busy 10" "$T/flood.out"
check "the broker logged the per-user refusals" grep -q "busy: refused uid $(id -u) .*(2 of its requests running)" "$T/broker.log"
if [ -n "$OTHER" ]; then
  check "another allowed user is served during the flood ($(grep '^other-user' "$T/flood.out"))" grep -q "^other-user 0" "$T/flood.out"
  check "its command ran" test -e "$T/u/m"
else
  echo "# skip: another user's request during the flood needs root and setpriv (uid $(id -u))"
fi
# Once the flood's slots are free, this uid is served again.
wait_for_free() { B "$T/ctl.toml" -- "$H/try_marker" "$W/m" >/dev/null 2>&1; }
check "after the flood, this uid is served again" wait_for wait_for_free
check "its marker was made" test -e "$W/m"
stop_broker

# The limit is configurable, and never above max_concurrent.
"$GX" broker --socket "$SOCK" --trust "$TR" --state "$BS" --max-concurrent 4 --max-per-user 5 >"$T/out" 2>"$T/err" &
pid=$!
( sleep 10; kill $pid 2>/dev/null ) &
wait $pid
RC=$?
check "max_per_user above max_concurrent: refused at start (rc $RC: $(head -c 300 "$T/err"))" \
  grep -q "max_per_user (5) is above max_concurrent (4).*max_per_user" "$T/err"
check "... with exit 125 or 126, not served" test "$RC" = 125 -o "$RC" = 126
start_broker --max-concurrent 4 --max-per-user 4 || finish
check "--max-per-user sets it" grep -q "at most 4 at once, 4 per user" "$T/broker.log"
stop_broker
finish
