# Attack: a receipt line nested 150,000 levels deep (300 KB, under the 4 MiB line limit) in the range the use store is reconciled from, to crash the reader (nlohmann's dump and copy recurse per level) instead of being refused.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"
if ! command -v sqlite3 >/dev/null || ! command -v python3 >/dev/null; then
  echo "sqlite3 or python3 not installed: skipped"
  finish
  exit
fi
art deep --max-uses 5 --write "$W" -- "$MARK" "$W/m"
for i in 1 2; do expect_rc 0 "run $i" R "$T/deep.toml" -- "$MARK" "$W/m"; done
rm -f "$W/m"
# The second receipt becomes itself with a sandbox 150,000 levels deep; the head's offset is
# moved with it, so the log's tail and head still agree (whoever can write <state> can do that).
off=$(python3 - "$S/receipts.log" "$S/receipts.head" <<'PY'
import json, sys
log, head = sys.argv[1], sys.argv[2]
lines = open(log, "rb").read().split(b"\n")[:-1]
rec = json.loads(lines[1])
n = 150000
deep = '{"x":' + "[" * n + "]" * n + "}"
text = json.dumps(rec, sort_keys=True, separators=(",", ":")).replace('"sandbox":' + json.dumps(rec["sandbox"], sort_keys=True, separators=(",", ":")), '"sandbox":' + deep)
assert len(text) > 300000
lines[1] = text.encode()
data = b"\n".join(lines) + b"\n"
open(log, "wb").write(data)
h = json.load(open(head))
h["offset"] = len(data)
open(head, "w").write(json.dumps(h, sort_keys=True, separators=(",", ":")))
print(len(lines[0]) + 1)
PY
)
# After a reboot the store's boot id is the previous boot's: the next reservation reconciles.
sqlite3 "$S/uses.db" "UPDATE log_sync SET boot_id = 'the-boot-before', synced_offset = 0, synced_seq = 0, synced_hash = '$(printf '0%.0s' {1..64})'"
expect_refused log-tampered "receipts.log at byte $off (seq 2): not valid JSON" "dry run over the deep line" \
  "$GX" run --dry-run --trust "$TR" --state "$S" "$T/deep.toml" -- "$MARK" "$W/m"
expect_refused log-tampered "receipts.log at byte $off (seq 2): not valid JSON" "run over the deep line" \
  "$GX" run --trust "$TR" --state "$S" "$T/deep.toml" -- "$MARK" "$W/m"
no_marker "run over the deep line"
# The other readers: a report, never a crash.
log_verify_fails "line 2: not valid JSON" "gx log verify over the deep line"
run timeout 20 "$GX" log show --state "$S" --json
check "gx log show skips the deep line (exit $RC)" test "$RC" = 0
check "gx log show lists the other receipts" test "$(grep -c . "$T/out")" -ge 2
finish
