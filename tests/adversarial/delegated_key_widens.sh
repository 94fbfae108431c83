#!/usr/bin/env bash
# Attack: a key the parent delegates to (or a trusted key it does not) signs a child that is wider than the parent, or deeper than allowed; drops the parent's env pin or denial logging; or is revoked in the trust store yet signs as a delegate (review helper-37).
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
MARK=$H/try_marker
"$GX" keygen -o "$T/agent" >/dev/null 2>&1 || bad "keygen agent"
mkkey bob  # trusted on this machine, but not delegated by the parent
mv "$T/trust.toml" "$T/trust-bob.toml"
"$GX" trust add "$T/bob.pub" --name bob --trust "$TR" >/dev/null 2>&1 || bad "trust bob"
mkdir -p "$T/w2"
gx_init "$T/parent.toml" --max-uses 3 --delegate "$T/agent.pub" --write "$W" -- "$MARK" "$W/m" || bad "init parent"
"$GX" sign -k "$T/alice.key" "$T/parent.toml" >/dev/null 2>&1 || bad "sign parent"
# child NAME KEY SED [INIT FLAGS...]: a child of parent.toml, edited with SED, signed by KEY
child() {
  local name=$1 key=$2 script=$3
  shift 3
  gx_init "$T/$name.toml" --parent "$T/parent.toml" "$@" -- "$MARK" "$W/m" || bad "init $name: $(cat "$T/init.err")"
  sed -i "$script" "$T/$name.toml"
  "$GX" sign -k "$T/$key.key" "$T/$name.toml" >/dev/null 2>&1 || bad "sign $name"
}
attempt() { # NAME FIELD DESC
  expect_denied lineage-inconsistency "$3" R --parent "$T/parent.toml" "$T/$1.toml" -- "$MARK" "$W/m"
  check "$3: names $2" grep -q "in $2: child" "$T/err"
  check "$3: never ran" test ! -e "$W/m"
}
child write agent 's|^write = .*|write = ["/"]|' --write "$W"
attempt write "sandbox.write\[0\]" "write everywhere"
child net agent 's|^network = .*|network = "tcp"\nconnect_tcp = [443]\nbind_tcp = []|' --write "$W"
attempt net sandbox.network "network the parent lacks"
child uses agent 's|^max_uses = .*|max_uses = 1000|' --write "$W"
attempt uses replay.max_uses "more uses than the parent"
child late agent 's|^not_after = .*|not_after = "2099-01-01T00:00:00Z"|' --write "$W"
attempt late not_after "outliving the parent"
child anyuid agent '/^uid = /d' --write "$W"
attempt anyuid bindings.uid "any uid"
child groups agent 's|^groups = .*|groups = ["default", "process"]|; s|^allow_syscalls = .*|allow_syscalls = ["ptrace"]|' --write "$W"
attempt groups sandbox.groups "more syscalls"
child grandchild agent 's|^\[lineage\]|[delegation]\nmax_depth = 1\n\n[lineage]|' --write "$W"
attempt grandchild delegation.max_depth "delegating deeper than allowed"
# Trust is not delegation: bob is trusted here, but the parent never delegated to him.
child bobs bob 's/^x//' --write "$W"
expect_denied lineage-inconsistency "a trusted key the parent did not delegate to" R --parent "$T/parent.toml" "$T/bobs.toml" -- "$MARK" "$W/m"
check "says it is not a delegated signature" grep -q "not validly signed by a key its parent delegates to" "$T/err"
check "bob's child never ran" test ! -e "$W/m"
# Control: the same child, as pre-filled, signed by the agent.
child ok agent 's/^x//' --write "$W"
expect_rc 0 "control: a child within its parent runs" R --parent "$T/parent.toml" "$T/ok.toml" -- "$MARK" "$W/m"
check "control ran" test -e "$W/m"
rm -f "$W/m"

# A parent that pins DRY_RUN=1 and logs its sandbox's denials: a child may
# drop neither (the pre-fill keeps both; the agent edits them out).
export DRY_RUN=1
gx_init "$T/parent.toml" --max-uses 3 --delegate "$T/agent.pub" --env DRY_RUN=1 --write "$W" -- "$MARK" "$W/m" ||
  bad "init pinning parent"
sed -i 's|^log_denials = false|log_denials = true|' "$T/parent.toml"
"$GX" sign -k "$T/alice.key" "$T/parent.toml" >/dev/null 2>&1 || bad "sign pinning parent"
child unpinned agent '/^"DRY_RUN" = /d' --write "$W"
attempt unpinned env.pin.DRY_RUN "dropping the parent's env pin"
child unlogged agent 's|^log_denials = true|log_denials = false|' --write "$W"
check "the pre-fill keeps log_denials (then edited out)" grep -q '^log_denials = false' "$T/unlogged.toml"
attempt unlogged sandbox.log_denials "turning off the parent's denial logging"
child pinned agent 's/^x//' --write "$W"
expect_rc 0 "control: the pre-filled child keeps both and runs" R --parent "$T/parent.toml" "$T/pinned.toml" -- "$MARK" "$W/m"
check "control 2 ran" test -e "$W/m"
rm -f "$W/m"

# The agent's key is also in the trust store, marked revoked there: it counts
# for nothing, also as the parent's delegate.
child fresh agent 's/^x//' --write "$W"  # not yet used
"$GX" trust add "$T/agent.pub" --name agent --trust "$TR" >/dev/null 2>&1 || bad "trust agent"
sed -i '/name = "agent"/a revoked = true' "$TR"
check "the trust store says agent is revoked" sh -c "\"$GX\" trust list --trust \"$TR\" | grep agent | grep -q REVOKED"
expect_denied lineage-inconsistency "a delegated key revoked in the trust store" \
  R --parent "$T/parent.toml" "$T/fresh.toml" -- "$MARK" "$W/m"
check "says the delegate is revoked in the trust store" grep -q "key-revoked: key of delegated:agent .* is revoked in the trust store" "$T/err"
check "the revoked delegate's child never ran" test ! -e "$W/m"
finish
