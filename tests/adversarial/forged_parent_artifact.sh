#!/usr/bin/env bash
# Attack: set GX_PARENT_ARTIFACT to a child artifact's parent digest (or hand gx an edited parent) to run the child outside any verified chain.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
MARK=$H/try_marker
digest() { echo "sha256:$(sed '/^\[\[signature\]\]$/,$d' "$1" | sha256sum | cut -d' ' -f1)"; }
gx_init "$T/parent.toml" --max-uses 5 --max-depth 1 --write "$W" -- "$MARK" "$W/m" || bad "init parent"
"$GX" sign -k "$T/alice.key" "$T/parent.toml" >/dev/null 2>&1 || bad "sign parent"
gx_init "$T/child.toml" --parent "$T/parent.toml" --write "$W" -- "$MARK" "$W/m" || bad "init child"
"$GX" sign -k "$T/alice.key" "$T/child.toml" >/dev/null 2>&1 || bad "sign child"
P=$(digest "$T/parent.toml")

# The old claim: the environment says "you are inside your parent's run".
expect_denied lineage-inconsistency "GX_PARENT_ARTIFACT claims the parent" \
  env GX_PARENT_ARTIFACT="$P" GX_PARENT_RECEIPT=0123456789abcdef0123456789abcdef \
  "$GX" run --trust "$TR" --state "$S" "$T/child.toml" -- "$MARK" "$W/m"
check "the child never ran" test ! -e "$W/m"
check "the denial says the chain cannot be established" grep -q "chain cannot be established" "$T/err"

# A parent file edited after signing (say, to delegate more): its signature fails, the chain breaks.
sed 's/^max_uses = 5$/max_uses = 500/' "$T/parent.toml" >"$T/edited.toml"
check "parent edited" grep -q "max_uses = 500" "$T/edited.toml"
expect_denied lineage-inconsistency "an edited parent file" R --parent "$T/edited.toml" "$T/child.toml" -- "$MARK" "$W/m"
check "the child never ran (edited parent)" test ! -e "$W/m"

# A parent that no trusted key signed: the root of a chain is checked against the trust store.
sed '/^\[\[signature\]\]$/,$d' "$T/parent.toml" >"$T/unsigned.toml"
"$GX" keygen -o "$T/mallory" >/dev/null 2>&1
"$GX" sign -k "$T/mallory.key" "$T/unsigned.toml" >/dev/null 2>&1 || bad "mallory signs a copy"
expect_denied lineage-inconsistency "a parent signed by an untrusted key" R --parent "$T/unsigned.toml" "$T/child.toml" -- "$MARK" "$W/m"
check "the child never ran (untrusted root)" test ! -e "$W/m"

# Control: the real chain runs it.
expect_rc 0 "control: with the real parent" R --parent "$T/parent.toml" "$T/child.toml" -- "$MARK" "$W/m"
check "control ran" test -e "$W/m"
finish
