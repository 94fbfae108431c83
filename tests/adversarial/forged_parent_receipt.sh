#!/usr/bin/env bash
# Attack: set a made-up GX_PARENT_RECEIPT so gx writes it into a signed receipt as the run's parent (and passes it on to the child).
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
FORGED=fffffffffffffffffffffffffffffff1
# An artifact that even lets the two old lineage names through to its child.
gx_init "$T/env.toml" --max-uses 5 --env GX_PARENT_RECEIPT --env GX_PARENT_ARTIFACT -- /usr/bin/env || bad "init"
"$GX" sign -k "$T/alice.key" "$T/env.toml" >/dev/null 2>&1 || bad "sign"
env -i PATH="$PATH" GX_PARENT_RECEIPT="$FORGED" GX_PARENT_ARTIFACT="sha256:$(printf x | sha256sum | cut -d' ' -f1)" \
  "$GX" run --trust "$TR" --state "$S" "$T/env.toml" -- /usr/bin/env >"$T/child.env" 2>"$T/err"
check "the run itself is allowed (rc $?)" test -s "$T/child.env"
check "no receipt names the forged parent" test "$("$GX" log show --state "$S" --json | jq -r .parent | sort -u)" = ""
check "the forged id appears nowhere in the log" test "$(grep -c "$FORGED" "$S/receipts.log")" = 0
check "the child did not get GX_PARENT_RECEIPT" test "$(grep -c '^GX_PARENT_RECEIPT=' "$T/child.env")" = 0
check "the child did not get GX_PARENT_ARTIFACT" test "$(grep -c '^GX_PARENT_ARTIFACT=' "$T/child.env")" = 0
expect_rc 0 "gx log verify: the tree is consistent" "$GX" log verify --state "$S"
expect_rc 0 "gx log tree" "$GX" log tree --state "$S" --json
check "the run is a root of the tree" test "$(jq -r '.[0].parent' "$T/out")" = ""
finish
