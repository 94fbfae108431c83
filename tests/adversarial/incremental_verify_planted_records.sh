# Attack: with write access to the log (not the key), plant unsigned "finished, exit 0" receipts for an interrupted run after the checkpoint's receipt, then a copy of that receipt, so that gx log verify --checkpoint --incremental starts reading after the copy and calls the log intact.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"
art quick --max-uses 20 -- /bin/true
art slow --max-uses 5 -- /bin/sleep 30
for i in 1 2; do expect_rc 0 "run $i" R "$T/quick.toml" -- /bin/true; done
expect_rc 0 "checkpoint" "$GX" log checkpoint --state "$S" -o "$T/cp.json"
check "the checkpoint is version 2 and records its receipt's end" \
  test "$(jq -r '"\(.version) \(.count) \(.offset)"' "$T/cp.json")" = "2 4 $(stat -c %s "$S/receipts.log")"

# A run whose supervisor is killed once its authorized receipt is written: interrupted.
"$GX" run --trust "$TR" --state "$S" "$T/slow.toml" -- /bin/sleep 30 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do
  [ "$(receipt_count)" -ge 5 ] && break
  sleep 0.1
done
kill -9 "$pid"
wait "$pid" 2>/dev/null
for i in 3 4; do expect_rc 0 "run $i" R "$T/quick.toml" -- /bin/true; done
check "the sleep run shows as interrupted" grep -q 'interrupted.*/bin/sleep' <("$GX" log show --state "$S")
expect_rc 0 "incremental verify before the attack" \
  "$GX" log verify --state "$S" --checkpoint "$T/cp.json" --incremental
grep -q "checked: lines 5-9" "$T/out" || bad "incremental verify should check lines 5-9: $(cat "$T/out")"

# The attack: after line 4, forged finished receipts (seq 1, so that a search
# for seq 4 skips right over them), then a copy of line 4, then lines 5-9.
python3 - "$S/receipts.log" "$T/cp.json" <<'EOF'
import json, sys
log, cp = sys.argv[1], json.load(open(sys.argv[2]))
lines = open(log, 'rb').read().split(b'\n')[:-1]
recs = [json.loads(l) for l in lines]
c = cp['count']
auth = next(r for r in recs if r['decision'] == 'authorized' and r['argv'][0] == '/bin/sleep')
forged = dict(next(r for r in recs if r['decision'] == 'finished'))
for k in ('argv', 'artifact_id', 'artifact_digest', 'exe_path', 'exe_digest', 'time'):
    forged[k] = auth[k]
forged.update(authorized_id=auth['id'], exit_code=0, wall_us=30000000, seq=1, id='f' * 32)
pad = json.dumps(forged, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode()
new = lines[:c] + [pad] * (4 * len(lines)) + [lines[c - 1]] + lines[c:]
open(log, 'wb').write(b'\n'.join(new) + b'\n')
EOF
for sigs in "" --all-signatures; do
  run timeout 20 "$GX" log verify --state "$S" --checkpoint "$T/cp.json" --incremental $sigs
  if [ "$RC" = 126 ] && grep -q "gx: denied (log-tampered): line 5: sequence number 1 where 5" "$T/err"; then ok; else
    bad "incremental verify ${sigs:-(chain mode)} of the planted log: exit $RC, wanted 126 log-tampered at line 5; out: $(head -c 300 "$T/out") err: $(head -c 300 "$T/err")"
  fi
done
expect_denied log-tampered "full verify of the planted log" "$GX" log verify --state "$S" --checkpoint "$T/cp.json"
# gx log show is display, never proof: it shows what the file holds.
check "gx log show displays the planted receipts (it does not verify)" grep -q 'finished.*/bin/sleep' <("$GX" log show --state "$S")
finish
