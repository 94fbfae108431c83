# Attack: `gx state prune --now 2100-01-01T00:00:00Z` forgets the spent use of an unexpired one-use artifact, which then runs twice.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"
art once --max-uses 1 --write "$W" -- "$MARK" "$W/m"
expect_rc 0 "first use" R "$T/once.toml" -- "$MARK" "$W/m"
has_marker "first use"
expect_rc 0 "prune with a far-future --now" "$GX" state prune --state "$S" --now 2100-01-01T00:00:00Z
check "prune says it ignored the future --now" grep -q "in the future" "$T/err"
check "prune dropped nothing" grep -q "^pruned 0 entries" "$T/out"
check "the entry is still there" test "$("$GX" state show --state "$S" --json | jq .entries)" = 1
expect_denied replay "second use after prune" R "$T/once.toml" -- "$MARK" "$W/m"
no_marker "second use after prune"
finish
