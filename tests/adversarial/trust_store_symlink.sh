#!/usr/bin/env bash
# Attack: gx's trust store (or revocation list) is a symlink into a directory an artifact grants write on; protecting only the link's directory left the real file writable, so the child added its own key to the trust store (review helper-33). Also a two-hop relative chain and a symlinked revocation list (the broker's config and socket: broker_config_test).
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"

APPEND='echo "# child was here" >>"$1"; echo ran >"$2"'

# Control: the same grant with the trust store in a directory of its own runs.
mkdir -p "$T/w1"
art control --max-uses 5 --write "$T/w1" --write "$W" -- /bin/sh -c "$APPEND" sh "$T/w1/x" "$W/m"
run R "$T/control.toml" -- /bin/sh -c "$APPEND" sh "$T/w1/x" "$W/m"
check "control: a write grant beside the trust store runs (rc $RC, $(head -c 200 "$T/err"))" test -e "$W/m"
rm -f "$W/m"

# 1. The trust store named through a symlink into the granted directory.
cp "$TR" "$T/w1/trust.toml"
ln -s "$T/w1/trust.toml" "$T/tr/linked.toml"
cp "$T/w1/trust.toml" "$T/trust.before"
RL() { "$GX" run --trust "$T/tr/linked.toml" --state "$S" "$@"; }
art linked --max-uses 5 --write "$T/w1" --write "$W" -- /bin/sh -c "$APPEND" sh "$T/w1/trust.toml" "$W/m"
expect_denied policy-mismatch "write grant on the directory a symlinked trust store points into" \
  RL "$T/linked.toml" -- /bin/sh -c "$APPEND" sh "$T/w1/trust.toml" "$W/m"
check "names the grant and the protected directory ($(head -c 300 "$T/err"))" \
  grep -q "reaches gx's protected path $T/w1 \[field sandbox.write\[[0-9]*\] = '$T/w1'\]" "$T/err"
check "the child never ran" test ! -e "$W/m"
check "the trust store is untouched" cmp -s "$T/w1/trust.toml" "$T/trust.before"

# 2. Two hops, the second relative: tr/hop1 -> ../w2/hop2 -> trust.toml (in w2).
mkdir -p "$T/w2"
cp "$TR" "$T/w2/trust.toml"
ln -s trust.toml "$T/w2/hop2"
ln -s ../w2/hop2 "$T/tr/hop1"
art two_hops --max-uses 5 --write "$T/w2" --write "$W" -- /bin/sh -c "$APPEND" sh "$T/w2/trust.toml" "$W/m"
expect_denied policy-mismatch "write grant at the end of a two-hop relative symlink chain" \
  "$GX" run --trust "$T/tr/hop1" --state "$S" "$T/two_hops.toml" -- /bin/sh -c "$APPEND" sh "$T/w2/trust.toml" "$W/m"
check "the child never ran (2)" test ! -e "$W/m"

# 3. The revocation list gx reads by default (beside the trust store) is a
#    link into a granted directory: the child could swap it for an older one.
#    (A dangling link is no help to a child: gx refuses every run while the
#    list it names cannot be opened.)
mkdir -p "$T/tr3" "$T/w3"
cp "$TR" "$T/tr3/trust.toml"
art revoked_one --max-uses 5 -- /bin/true
"$GX" revoke --trust "$T/tr3/trust.toml" --revocations "$T/w3/revocations.toml" --state "$T/rs" -k "$T/alice.key" \
  "$T/revoked_one.toml" >/dev/null 2>&1 || bad "revoke"
ln -s "$T/w3/revocations.toml" "$T/tr3/revocations.toml"
cp "$T/w3/revocations.toml" "$T/rev.before"
R3() { "$GX" run --trust "$T/tr3/trust.toml" --state "$S" "$@"; }
art ctl3 --max-uses 5 --write "$W" -- /bin/sh -c 'echo ran >"$1"' sh "$W/m"
run R3 "$T/ctl3.toml" -- /bin/sh -c 'echo ran >"$1"' sh "$W/m"
check "control: the linked revocation list is read (rc $RC, $(head -c 200 "$T/err"))" test -e "$W/m"
rm -f "$W/m"
art rev_link --max-uses 5 --write "$T/w3" --write "$W" -- /bin/sh -c "$APPEND" sh "$T/w3/revocations.toml" "$W/m"
expect_denied policy-mismatch "write grant on the directory a symlinked revocation list points into" \
  R3 "$T/rev_link.toml" -- /bin/sh -c "$APPEND" sh "$T/w3/revocations.toml" "$W/m"
check "the child never ran (3)" test ! -e "$W/m"
check "the revocation list is untouched" cmp -s "$T/w3/revocations.toml" "$T/rev.before"
finish
