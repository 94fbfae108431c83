# Attack: delete receipt.key/receipt.pub (or pass another --receipt-key) so gx signs the existing log with a new key and the old log no longer verifies.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"
art many --max-uses 20 --write "$W" -- "$MARK" "$W/m"
expect_rc 0 "control run" R "$T/many.toml" -- "$MARK" "$W/m"
has_marker "control run"
n=$(receipt_count)
key_id=$("$GX" log show --state "$S" --json --tail 1 | jq -r .key_id)
mkdir -m 700 "$T/bak" && mv "$S/receipt.key" "$S/receipt.pub" "$T/bak/"
expect_denied log-unavailable "receipt key deleted" R "$T/many.toml" -- "$MARK" "$W/m"
check "the refusal names the missing key" grep -q "receipt.key is missing" "$T/err"
no_marker "receipt key deleted"
check "no new key was created" test ! -e "$S/receipt.key"
check "nothing was appended" test "$(receipt_count)" = "$n"

mv "$T/bak/receipt.key" "$T/bak/receipt.pub" "$S/"
"$GX" keygen -o "$T/other" >/dev/null 2>&1 || bad "keygen other"
expect_denied log-unavailable "another --receipt-key" R --receipt-key "$T/other.key" "$T/many.toml" -- "$MARK" "$W/m"
check "the refusal names the log's key" grep -qF "signed by key $key_id" "$T/err"
no_marker "another --receipt-key"
check "nothing was appended with the other key" test "$(receipt_count)" = "$n"
expect_rc 0 "the log still verifies with its key" "$GX" log verify --state "$S"
expect_rc 0 "key restored: runs again" R "$T/many.toml" -- "$MARK" "$W/m"
has_marker "key restored: runs again"
expect_rc 0 "and verifies" "$GX" log verify --state "$S"
finish
