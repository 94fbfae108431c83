#!/usr/bin/env bash
# gx run --syslog (and GX_SYSLOG=1) sends every receipt to syslog(3). No
# syslog daemon runs here, so a listener socket is bind-mounted over
# /dev/log inside a private mount namespace, and the datagrams gx sends are
# read back.
source "$(dirname "$0")/lib/common.bash"
if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
  echo "skip: the syslog test needs root and mount namespaces (to bind a listener over /dev/log)"
  finish
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
mkdir -p "$T/k" "$T/w"
"$GX" keygen -o "$T/k/a" >/dev/null 2>&1
"$GX" trust add "$T/k/a.pub" --name a --trust "$T/k/trust.toml" >/dev/null 2>&1
cd "$T/w"
"$GX" init -o "$T/a.toml" --max-uses 3 -- /bin/true 2>/dev/null
"$GX" sign -k "$T/k/a.key" "$T/a.toml" 2>/dev/null

# listen LOGFILE: a datagram socket at $T/devlog that appends what it receives.
listen() {
  rm -f "$T/devlog"
  "$PY" - "$T/devlog" "$1" <<'PYEOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(5)
with open(sys.argv[2], "ab") as out:
    try:
        while True:
            out.write(s.recv(1 << 20) + b"\n")
            out.flush()
    except socket.timeout:
        pass
PYEOF
  for _ in $(seq 50); do [ -S "$T/devlog" ] && break; sleep 0.1; done
}
# with_devlog CMD...: runs CMD with $T/devlog mounted over /dev/log (private namespace).
created=""
[ -e /dev/log ] || { : >/dev/log && created=1; }
with_devlog() { unshare -m bash -c 'mount --bind "$0" /dev/log && exec "$@"' "$T/devlog" "$@"; }

listen "$T/flag.log"
expect_rc 0 "gx run --syslog" with_devlog "$GX" run --syslog --trust "$T/k/trust.toml" --state "$T/s" "$T/a.toml" -- /bin/true
listen "$T/env.log"
expect_rc 0 "gx run with GX_SYSLOG=1" with_devlog env GX_SYSLOG=1 "$GX" run --trust "$T/k/trust.toml" --state "$T/s" "$T/a.toml" -- /bin/true
listen "$T/off.log"
expect_rc 0 "gx run without syslog" with_devlog "$GX" run --trust "$T/k/trust.toml" --state "$T/s" "$T/a.toml" -- /bin/true
# A broker with --syslog: its receipts go to syslog and its workers are still
# reused (the spare opens the syslog socket before its baseline, lib/broker.cc).
"$GX" init -o "$T/p.toml" --max-uses 10 -- /bin/sh -c 'echo $PPID' 2>/dev/null
"$GX" sign -k "$T/k/a.key" "$T/p.toml" 2>/dev/null
listen "$T/broker.slog"
export GX T
with_devlog bash -c '
  "$GX" broker --syslog --socket "$T/b.sock" --trust "$T/k/trust.toml" --state "$T/bs" >"$T/broker.out" 2>&1 &
  b=$!
  for _ in $(seq 50); do [ -S "$T/b.sock" ] && break; sleep 0.1; done
  sleep 2.1 # past the first seconds of a new receipt key (re-read per request then: no reuse)
  for i in 1 2 3 4; do "$GX" run --broker "$T/b.sock" "$T/p.toml" -- /bin/sh -c "echo \$PPID"; sleep 0.3; done >"$T/ppids"
  kill $b
  wait $b'
wait
[ -n "$created" ] && rm -f /dev/log
check "broker --syslog: its receipts reach syslog" grep -q '"brokered":true' "$T/broker.slog"
check "broker --syslog: 4 requests served ($(wc -l <"$T/ppids"))" test "$(wc -l <"$T/ppids")" = 4
check "broker --syslog: workers were reused ($(tr '\n' ' ' <"$T/ppids"))" test "$(sort -u "$T/ppids" | wc -l)" -lt 4
check "broker --syslog: no worker refused reuse" bash -c "! grep -q 'is not reused' '$T/broker.out'"

for f in flag env; do
  check "$f: authorized receipt sent to syslog" grep -q '"decision":"authorized"' "$T/$f.log"
  check "$f: finished receipt sent to syslog" grep -q '"decision":"finished"' "$T/$f.log"
  check "$f: ident gx" grep -q 'gx\[[0-9]*\]: {' "$T/$f.log"
done
check "without --syslog nothing is sent" test ! -s "$T/off.log"
# The lines sent are the receipts themselves: the same ids as in the log.
id=$("$GX" log show --state "$T/s" --json | head -1 | jq -r .id)
check "syslog carries the logged receipt" grep -q "\"id\":\"$id\"" "$T/flag.log"
finish
