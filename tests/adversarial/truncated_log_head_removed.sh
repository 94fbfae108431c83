# Attack: truncate receipts.log and delete, garble or symlink receipts.head so the truncation goes unnoticed.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"
art many --max-uses 20 --write "$W" -- "$MARK" "$W/m"
for i in 1 2 3; do expect_rc 0 "run $i" R "$T/many.toml" -- "$MARK" "$W/m"; done
rm -f "$W/m"
expect_rc 0 "intact before the attack" "$GX" log verify --state "$S"
cp -a "$S" "$T/good"
check "receipts.head is versioned" test "$(jq -r .version "$S/receipts.head")" = 2

restore() { rm -rf "$S" && cp -a "$T/good" "$S"; }
# 1. truncate to the first receipt, delete the head
head -n 1 "$T/good/receipts.log" >"$S/receipts.log" && rm "$S/receipts.head"
log_verify_fails "receipts.head is missing" "truncated + head deleted"
expect_refused log-tampered "receipts.head is missing" "run after truncated + head deleted" "$GX" run --trust "$TR" --state "$S" "$T/many.toml" -- "$MARK" "$W/m"
no_marker "run after truncated + head deleted"
# 2. truncate to nothing, delete the head
restore; : >"$S/receipts.log" && rm "$S/receipts.head"
log_verify_fails "receipts.head is missing" "emptied + head deleted"
# 3. delete log and head (the key stays)
restore; rm "$S/receipts.log" "$S/receipts.head"
log_verify_fails "receipts.log is missing" "log and head deleted"
expect_refused log-unavailable "receipts.log is missing" "run after log and head deleted" "$GX" run --trust "$TR" --state "$S" "$T/many.toml" -- "$MARK" "$W/m"
no_marker "run after log and head deleted"
# 4. truncate and garble the head
restore; head -n 1 "$T/good/receipts.log" >"$S/receipts.log" && echo 'garbage' >"$S/receipts.head"
log_verify_fails "receipts.head" "truncated + head garbled"
expect_refused log-tampered "receipts.head" "run after truncated + head garbled" "$GX" run --trust "$TR" --state "$S" "$T/many.toml" -- "$MARK" "$W/m"
no_marker "run after truncated + head garbled"
# 5. truncate and point the head at /dev/null (the tripwire read nothing)
restore; head -n 1 "$T/good/receipts.log" >"$S/receipts.log" && rm "$S/receipts.head" && ln -s /dev/null "$S/receipts.head"
log_verify_fails "symlink" "truncated + head symlinked"
expect_refused log-tampered "symlink" "run with a symlinked head" "$GX" run --trust "$TR" --state "$S" "$T/many.toml" -- "$MARK" "$W/m"
no_marker "run with a symlinked head"
check "the symlink target was not written" test ! -s /dev/null
# control: the untouched copy still runs and verifies
restore
expect_rc 0 "untouched: runs" R "$T/many.toml" -- "$MARK" "$W/m"
has_marker "untouched: runs"
expect_rc 0 "untouched: verifies" "$GX" log verify --state "$S"
finish
