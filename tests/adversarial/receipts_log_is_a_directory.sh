# Attack: make receipts.log a directory so a run is refused only after its one use is spent (next run: replay, no receipt anywhere).
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"
art once --max-uses 1 --write "$W" -- "$MARK" "$W/m"
mkdir -m 700 "$S" && mkdir "$S/receipts.log"
expect_denied log-unavailable "receipts.log is a directory" R "$T/once.toml" -- "$MARK" "$W/m"
no_marker "receipts.log is a directory"
rmdir "$S/receipts.log"
# Order is log usable -> reserve -> receipt: the refused run spent nothing.
expect_rc 0 "the one use is still there once the log is usable" R "$T/once.toml" -- "$MARK" "$W/m"
has_marker "the one use is still there once the log is usable"
check "its authorized receipt exists" test "$("$GX" log show --state "$S" --json | jq -r 'select(.decision=="authorized") | .artifact_digest' | wc -l)" = 1
expect_denied replay "and it is the only use" R "$T/once.toml" -- "$MARK" "$W/m"
no_marker "and it is the only use"
finish
