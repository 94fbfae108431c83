# Attack: replace receipts.head (read under the log lock), receipts.log, uses.db or receipt.pub by a FIFO so gx blocks forever.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"
art many --max-uses 20 --write "$W" -- "$MARK" "$W/m"
expect_rc 0 "control run" R "$T/many.toml" -- "$MARK" "$W/m"
has_marker "control run"

mv "$S/receipts.head" "$T/head.saved" && mkfifo -m 600 "$S/receipts.head"
expect_refused log-tampered "receipts.head is a FIFO" "FIFO as receipts.head" "$GX" run --trust "$TR" --state "$S" "$T/many.toml" -- "$MARK" "$W/m"
no_marker "FIFO as receipts.head"
log_verify_fails "FIFO" "verify with a FIFO as receipts.head"
run timeout 20 "$GX" log show --state "$S"
check "gx log show does not hang on it" test "$RC" != 124
rm "$S/receipts.head" && mv "$T/head.saved" "$S/receipts.head"

mv "$S/receipts.log" "$T/log.saved" && mkfifo -m 600 "$S/receipts.log"
expect_refused log-unavailable "receipts.log is a FIFO" "FIFO as receipts.log" "$GX" run --trust "$TR" --state "$S" "$T/many.toml" -- "$MARK" "$W/m"
no_marker "FIFO as receipts.log"
run timeout 20 "$GX" log verify --state "$S"
check "gx log verify refuses a FIFO log without hanging ($RC)" bash -c "[ $RC != 124 ] && [ $RC != 0 ]"
rm "$S/receipts.log" && mv "$T/log.saved" "$S/receipts.log"

mv "$S/uses.db" "$T/uses.saved" && mkfifo -m 600 "$S/uses.db"
expect_refused state-unavailable "uses.db is a FIFO" "FIFO as uses.db" "$GX" run --trust "$TR" --state "$S" "$T/many.toml" -- "$MARK" "$W/m"
no_marker "FIFO as uses.db"
rm "$S/uses.db" && mv "$T/uses.saved" "$S/uses.db"

mv "$S/receipt.pub" "$T/pub.saved" && mkfifo -m 600 "$S/receipt.pub"
expect_refused log-unavailable "receipt.pub is a FIFO" "FIFO as receipt.pub" "$GX" run --trust "$TR" --state "$S" "$T/many.toml" -- "$MARK" "$W/m"
no_marker "FIFO as receipt.pub"
run timeout 20 "$GX" log verify --state "$S"
check "gx log verify refuses a FIFO receipt.pub without hanging ($RC)" bash -c "[ $RC != 124 ] && [ $RC != 0 ]"
rm "$S/receipt.pub" && mv "$T/pub.saved" "$S/receipt.pub"

expect_rc 0 "restored: runs again" R "$T/many.toml" -- "$MARK" "$W/m"
has_marker "restored: runs again"
expect_rc 0 "restored: the log verifies" "$GX" log verify --state "$S"
finish
