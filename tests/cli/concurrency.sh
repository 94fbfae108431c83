#!/usr/bin/env bash
# Many gx runs at once, crashes and unwritable state, through the real binary:
#  - 50 concurrent runs of one artifact -> 100 receipts in one valid chain;
#  - 20 concurrent runs racing for max-uses 1 and 3 -> exactly 1 / 3 children run;
#  - kill -9 of gx at random moments -> the log still verifies, the next run appends;
#  - a read-only state directory -> denied (log-unavailable), the child never starts.
source "$(dirname "$0")/lib/common.bash"
mkdir -p "$T/k" "$T/w"
"$GX" keygen -o "$T/k/a" >/dev/null 2>&1
"$GX" trust add "$T/k/a.pub" --name a --trust "$T/k/trust.toml" >/dev/null 2>&1
cd "$T/w"
S=$T/state
art() {  # art NAME MAXUSES -- CMD...
  local name=$1 uses=$2
  shift 3
  "$GX" init -o "$T/$name.toml" --max-uses "$uses" --write "$T/w" --group filesystem -- "$@" 2>/dev/null &&
    "$GX" sign -k "$T/k/a.key" "$T/$name.toml" 2>/dev/null
}
R() { "$GX" run --trust "$T/k/trust.toml" --state "$S" "$@"; }

# --- 50 concurrent runs, one chain ---
art fifty 50 -- /bin/true
for i in $(seq 50); do R "$T/fifty.toml" -- /bin/true & done
wait
check "log verifies after 50 concurrent runs" "$GX" log verify --state "$S"
n=$("$GX" log show --state "$S" --json | wc -l)
check "100 receipts (got $n)" test "$n" = 100
check "50 authorized + 50 finished" test "$("$GX" log show --state "$S" --json | jq -r .decision | sort | uniq -c | tr -s ' ' | xargs)" = "50 authorized 50 finished"

# --- races for the last uses: exactly K children run ---
race() {  # race USES ROUND
  local uses=$1 round=$2 name="race$1_$2"
  rm -f "$T/w/m.$name".*
  art "$name" "$uses" -- /usr/bin/touch "$T/w/m.$name"
  # touch of one shared marker cannot count runs: each run appends a line instead.
  : >"$T/w/count.$name"
  for i in $(seq 20); do
    (R "$T/$name.toml" -- /usr/bin/touch "$T/w/m.$name" 2>/dev/null && echo ran >>"$T/w/count.$name") &
  done
  wait
  local ran denied
  ran=$(wc -l <"$T/w/count.$name")
  denied=$("$GX" log show --state "$S" --json --denied | jq -r 'select(.reason == "replay") | .artifact_id' | grep -c "$(grep '^id = ' "$T/$name.toml" | cut -d'"' -f2)")
  check "max-uses $uses round $round: $ran children ran" test "$ran" = "$uses"
  check "max-uses $uses round $round: $denied replay denials" test "$denied" = $((20 - uses))
}
for round in 1 2 3 4 5; do
  race 1 "$round"
  race 3 "$round"
done
check "log verifies after the races" "$GX" log verify --state "$S"

# --- kill -9 at random moments ---
art crash 100000 -- /bin/true
for i in $(seq 25); do
  R "$T/crash.toml" -- /bin/true >/dev/null 2>&1 &
  pid=$!
  sleep "0.0$((RANDOM % 10))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
run "$GX" log verify --state "$S"
if [ "$RC" = 0 ] || grep -q "torn\|incomplete" "$T/err"; then ok; else bad "log after kill -9: $(cat "$T/err")"; fi
expect_rc 0 "a run after the crashes" R "$T/crash.toml" -- /bin/true
check "log verifies after the next append" "$GX" log verify --state "$S"

# --- read-only state: no evidence, no execution ---
art ro 5 -- /usr/bin/touch "$T/w/ro-marker"
if unshare -m true 2>/dev/null; then
  # A real read-only mount of the state directory, in a private mount namespace.
  run unshare -m bash -c "mount --bind '$S' '$S' && mount -o remount,bind,ro '$S' && \
    exec '$GX' run --trust '$T/k/trust.toml' --state '$S' '$T/ro.toml' -- /usr/bin/touch '$T/w/ro-marker'"
else
  # No mount namespaces here: make the log path unusable instead (root ignores mode bits).
  mv "$S/receipts.log" "$S/receipts.log.keep" && mkdir "$S/receipts.log"
  run R "$T/ro.toml" -- /usr/bin/touch "$T/w/ro-marker"
  rmdir "$S/receipts.log" && mv "$S/receipts.log.keep" "$S/receipts.log"
fi
if [ "$RC" = 126 ] && grep -Eq "gx: denied \((log-unavailable|state-unavailable)\)" "$T/err"; then ok; else
  bad "read-only state: rc $RC $(cat "$T/err")"
fi
check "child never started with read-only state" test ! -e "$T/w/ro-marker"
finish
