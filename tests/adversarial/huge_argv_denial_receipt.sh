# Attack: deny a run with eight 128 KB arguments so its receipt exceeds the size limit and no receipt is written.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"
art small --max-uses 5 --write "$W" -- "$MARK" "$W/m"
big=$(head -c 131070 /dev/zero | tr '\0' 'A')
args=()
for i in 1 2 3 4 5 6 7 8; do args+=("$big$i"); done
before=$(receipt_count)
expect_denied policy-mismatch "eight 128 KB arguments" R "$T/small.toml" -- "$MARK" "$W/m" "${args[@]}"
no_marker "eight 128 KB arguments"
check "no 'receipt not written' warning" bash -c "! grep -q 'not written' '$T/err'"
check "one more receipt" test "$(receipt_count)" = $((before + 1))
last=$("$GX" log show --state "$S" --json --tail 1)
check "the receipt keeps the start of argv" test "$(jq -r '.argv[1]' <<<"$last")" = "$W/m"
want=$(printf '%s' "${args[0]}" | sha256sum | cut -d' ' -f1)
check "a cut argument keeps its length and SHA-256" bash -c "jq -r '.argv[2]' <<<'$last' | grep -q 'cut: 131071 bytes, sha256 $want'"
check "the receipt line is bounded (< 512 KB)" test "$(wc -c <<<"$last")" -lt 524288
expect_rc 0 "the log verifies" "$GX" log verify --state "$S"
finish
