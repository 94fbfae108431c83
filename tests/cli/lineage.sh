#!/usr/bin/env bash
# Lineage end to end: a person -> agent -> tool chain built with gx init
# (--delegate, --delegate-exec, --max-depth, --parent FILE) and gx sign,
# shown by gx verify --parent (text and JSON), run with gx run --parent,
# revoked end to end, and the receipts in gx log tree / gx log verify.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/run_env.bash"
# alice is the person (trusted); agent and tool are keys no trust store knows.
"$GX" keygen -o "$T/agent" >"$T/agent.id" 2>/dev/null || bad "keygen agent"
"$GX" keygen -o "$T/tool" >"$T/tool.id" 2>/dev/null || bad "keygen tool"
TOUCH=$H/try_marker  # creates the file it is given: the proof a command ran
digest() { echo "sha256:$(sed '/^\[\[signature\]\]$/,$d' "$1" | sha256sum | cut -d' ' -f1)"; }
V() { "$GX" verify --trust "$TR" --state "$S" "$@"; }

# person: the agent's key may sign children two levels deep, running touch
gx_init "$T/person.toml" --max-uses 10 --max-depth 2 --delegate "$T/agent.pub" --delegate-exec "$TOUCH" \
  --write "$W" -- /bin/sh -c true || bad "init person: $(cat "$T/init.err")"
check "person: [delegation] written" grep -qx "max_depth = 2" "$T/person.toml"
check "person: the agent's key delegated" grep -q "^id = \"$(cat "$T/agent.id")\"" "$T/person.toml"
check "person: the marker program delegated by path" grep -qx "path = \"$TOUCH\"" "$T/person.toml"
"$GX" sign -k "$T/alice.key" "$T/person.toml" >/dev/null 2>&1 || bad "sign person"

# agent: a child of person, pre-filled within it, delegating one more level to the tool key
gx_init "$T/agent.toml" --parent "$T/person.toml" --ttl 1w --max-uses 50 --max-depth 1 --delegate "$T/tool.pub" \
  --delegate-exec "$TOUCH" --write "$W" -- "$TOUCH" "$W/agent-ran" || bad "init agent: $(cat "$T/init.err")"
check "agent names the person's artifact" grep -qx "parent = \"$(digest "$T/person.toml")\"" "$T/agent.toml"
check "agent's uses clipped to the parent's" grep -qx "max_uses = 10" "$T/agent.toml"
check "agent's window clipped to the parent's" \
  test "$(grep '^not_after' "$T/agent.toml")" = "$(grep '^not_after' "$T/person.toml")"
"$GX" sign -k "$T/agent.key" "$T/agent.toml" >/dev/null 2>&1 || bad "sign agent"

# tool: a child of agent, signed by the tool key
gx_init "$T/tool.toml" --parent "$T/agent.toml" --max-uses 2 --write "$W" -- "$TOUCH" "$W/tool-ran" \
  || bad "init tool: $(cat "$T/init.err")"
"$GX" sign -k "$T/tool.key" "$T/tool.toml" >/dev/null 2>&1 || bad "sign tool"

# --- gx verify ---
expect_denied lineage-inconsistency "tool without its parents" V "$T/tool.toml"
check "names the missing parent" grep -q "names parent $(digest "$T/agent.toml")" "$T/err"
expect_denied lineage-inconsistency "tool without its grandparent" V --parent "$T/agent.toml" "$T/tool.toml"
check "names the missing grandparent" grep -q "names parent $(digest "$T/person.toml")" "$T/err"
expect_rc 0 "the chain verifies" V --parent "$T/person.toml" --parent "$T/agent.toml" "$T/tool.toml"
check "shows three links" grep -q "lineage: 3 link(s) verified, root first" "$T/out"
check "root by the trust store" grep -q "signed by alice (trust store)" "$T/out"
check "agent by delegation" grep -q "signed by delegated:agent (delegation)" "$T/out"
check "tool by delegation" grep -q "signed by delegated:tool (delegation)" "$T/out"
check "says valid through the chain" grep -q "through a chain of 3 links" "$T/err"
mkdir -p "$T/ancestors" && cp "$T/person.toml" "$T/agent.toml" "$T/ancestors/"
expect_rc 0 "a directory of ancestors" V --parent "$T/ancestors" "$T/tool.toml"
expect_rc 0 "verify --json" V --json --parent "$T/ancestors" "$T/tool.toml"
check "JSON: the chain root first" \
  test "$(jq -r '[.lineage[].digest] | join(" ")' "$T/out")" = "$(digest "$T/person.toml") $(digest "$T/agent.toml") $(digest "$T/tool.toml")"
check "JSON: decision allow" test "$(jq -r .decision "$T/out")" = allow

# --- a child that is wider than its parent ---
gx_init "$T/wide.toml" --parent "$T/agent.toml" --write "$W" -- /usr/bin/rm -f "$W/agent-ran"
check "gx init warns that the child will not verify" grep -q "still wider than its parent" "$T/init.err"
"$GX" sign -k "$T/tool.key" "$T/wide.toml" >/dev/null 2>&1 || bad "sign wide"
expect_denied lineage-inconsistency "a program no ancestor delegates" V --parent "$T/ancestors" "$T/wide.toml"
check "names the dimension and both values" grep -q "wider than its parent in exec.path: child /usr/bin/rm" "$T/err"

# --- gx run ---
expect_denied lineage-inconsistency "run without the chain" R "$T/tool.toml" -- "$TOUCH" "$W/tool-ran"
check "never ran" test ! -e "$W/tool-ran"
expect_rc 0 "agent runs with its parent" R --parent "$T/person.toml" "$T/agent.toml" -- "$TOUCH" "$W/agent-ran"
check "agent ran" test -e "$W/agent-ran"
expect_rc 0 "tool runs with its chain" R --parent "$T/ancestors" "$T/tool.toml" -- "$TOUCH" "$W/tool-ran"
check "tool ran" test -e "$W/tool-ran"
rm -f "$W/tool-ran"
check "the tool's receipt records its chain" \
  test "$("$GX" log show --state "$S" --json --tail 1 | jq -r '.lineage | join(" ")')" = "$(digest "$T/agent.toml") $(digest "$T/person.toml")"

# --- revoking the agent's artifact revokes the tool's, end to end ---
"$GX" revoke --trust "$TR" --state "$S" -k "$T/alice.key" "$T/agent.toml" --reason "agent session over" >/dev/null 2>&1 \
  || bad "revoke agent"
expect_denied revoked "the agent's next tool call" R --parent "$T/ancestors" "$T/tool.toml" -- "$TOUCH" "$W/tool-ran"
check "names the revoked link" grep -q "$(digest "$T/agent.toml")" "$T/err"
check "the denied receipt names the tool's artifact, not the revoked link" \
  test "$("$GX" log show --state "$S" --json --tail 1 | jq -r .artifact_digest)" = "$(digest "$T/tool.toml")"
check "the tool never ran" test ! -e "$W/tool-ran"

# --- the log ---
expect_rc 0 "gx log verify: intact, lineage consistent" "$GX" log verify --state "$S"
expect_rc 0 "gx log tree" "$GX" log tree --state "$S"
check "tree shows the tool's run with its result" grep -q "$TOUCH $W/tool-ran .*exit 0" "$T/out"
check "tree shows the denial" grep -q "denied revoked" "$T/out"
expect_rc 0 "gx log tree --json" "$GX" log tree --state "$S" --json
check "local runs are roots (no supervisor vouched for a parent run)" \
  test "$(jq '[.[] | select(.children | length > 0)] | length' "$T/out")" = 0
first=$(jq -r '.[0].receipt' "$T/out")
expect_rc 0 "gx log tree --root" "$GX" log tree --state "$S" --root "${first:0:12}" --json
check "--root: one run" test "$(jq length "$T/out")" = 1
expect_rc 125 "gx log tree --root unknown" "$GX" log tree --state "$S" --root 0123456789abcdef
finish
