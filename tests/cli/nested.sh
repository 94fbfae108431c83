#!/usr/bin/env bash
# Governed nested execution over the nested-run channel (docs/lineage.md): a
# person -> agent -> tool -> sub-tool chain that runs under one supervisor and is
# ONE tree in gx log tree; the agent's direct exec of a tool is blocked; an agent
# without nested_runs gets no channel and its inner gx is denied; stdio, exit
# codes, 128+N and forwarded signals through the channel; revoking the agent's
# artifact mid-session denies its next call; the same through gx broker.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib/common.bash"
source "$HERE/lib/run_env.bash"
source "$HERE/lib/nested_env.bash"

# --- person -> agent -> tool -> sub-tool: one supervisor, one tree ---
SUBCALL="$GX run $T/sub.toml -- $MARK $W/sub-ran"
AGENT="$GX run $T/tool.toml -- /bin/sh -c '$SUBCALL'; echo tool=\$?; $MARK $W/direct; echo direct=\$?; \
echo channel=\${GX_CHANNEL:+set}"
agent_art agent "$AGENT"
child_art tool agent agent --nested-runs --max-depth 1 --delegate "$T/tool.pub" --delegate-exec "$MARK" \
  --exec "$GX" --read "$T" --write "$W" -- /bin/sh -c "$SUBCALL"
check "the tool's artifact allows nested runs" grep -qx "nested_runs = true" "$T/tool.toml"
child_art sub tool tool --write "$W" -- "$MARK" "$W/sub-ran"
expect_rc 0 "the agent's session" R "$T/agent.toml" -- /bin/bash -c "$AGENT"
check "the sub-tool ran, three levels down" test -e "$W/sub-ran"
check "the tool's nested run exited 0" grep -qx "tool=0" "$T/out"
check "the agent's direct exec of a tool is blocked: 126 ($(grep direct= "$T/out"))" grep -qx "direct=126" "$T/out"
check "the direct exec never ran" test ! -e "$W/direct"
check "the agent sees its channel" grep -qx "channel=set" "$T/out"
expect_rc 0 "gx log tree --json" "$GX" log tree --state "$S" --json
check "one tree: a single root" test "$(jq length "$T/out")" = 1
check "root: the agent's session" test "$(jq -r '.[0].artifact_digest' "$T/out")" = "$(digest "$T/agent.toml")"
check "its child: the tool" test "$(jq -r '.[0].children[0].artifact_digest' "$T/out")" = "$(digest "$T/tool.toml")"
check "its grandchild: the sub-tool, exit 0" \
  test "$(jq -r '.[0].children[0].children[0] | .artifact_digest + " " + .result' "$T/out")" = "$(digest "$T/sub.toml") exit 0"
check "the sub-tool's receipt records its whole chain" \
  test "$(jq -r '.[0].children[0].children[0].lineage | join(" ")' "$T/out")" = "$(digest "$T/tool.toml") $(digest "$T/agent.toml")"
agent_rcpt=$(receipt_of "$S" ".decision == \"authorized\" and .artifact_digest == \"$(digest "$T/agent.toml")\"")
tool_rcpt=$(receipt_of "$S" ".decision == \"authorized\" and .artifact_digest == \"$(digest "$T/tool.toml")\"")
check "the tool's parent receipt is the agent's authorized receipt" \
  test "$(jq -r .parent <<<"$tool_rcpt")" = "$(jq -r .id <<<"$agent_rcpt")"
check "a nested run of a standalone gx is not marked brokered" test "$(jq -r .brokered <<<"$tool_rcpt")" = false
expect_rc 0 "gx log verify: parents exist, precede, and are the artifacts' parents" "$GX" log verify --state "$S"
rm -f "$W/sub-ran"

# --- no nested_runs: no channel, and an inner gx inside the sandbox is denied ---
gx_init "$T/plain.toml" --max-uses 5 --max-depth 1 --delegate "$T/agent.pub" --delegate-exec "$MARK" --exec "$GX" \
  --read "$T" --write "$W" -- /bin/bash -c "$GX run $T/pt.toml -- $MARK $W/pt-ran; echo inner=\$?"
"$GX" sign -k "$T/alice.key" "$T/plain.toml" >/dev/null 2>&1 || bad "sign plain"
child_art pt plain agent --write "$W" -- "$MARK" "$W/pt-ran"
expect_rc 0 "an agent without nested_runs" R "$T/plain.toml" -- /bin/bash -c "$GX run $T/pt.toml -- $MARK $W/pt-ran; echo inner=\$?"
check "its inner gx run is denied (126)" grep -qx "inner=126" "$T/out"
check "...as lineage-inconsistency, inside a sandbox without a channel" \
  grep -q "gx: denied (lineage-inconsistency): gx run inside a sandbox .* without a nested-run channel" "$T/err"
check "the inner command never ran" test ! -e "$W/pt-ran"

# --- stdio, exit codes and signals through the channel ---
IO="got=\$(printf 'hello\\nworld\\n' | $GX run $T/cat.toml -- /bin/cat); echo \"got=\${got//\$'\\n'/+}\"
$GX run $T/cat.toml -- /bin/cat <$T/cat.toml >$W/copy; echo copy=\$?
$GX run $T/exit7.toml -- /bin/sh -c 'exit 7'; echo exit=\$?
$GX run $T/selfkill.toml -- /bin/sh -c 'kill -TERM \$\$'; echo selfkill=\$?
$GX run $T/sigwait.toml -- $H/try_sigwait >$W/sigwait.out & p=\$!
for i in {1..100}; do [ -s $W/sigwait.out ] && break; $NAP; done
kill -INT \$p; wait \$p; echo sigwait=\$?"
agent_art io "$IO"
child_art cat io agent --max-uses 5 -- /bin/cat
child_art exit7 io agent -- /bin/sh -c 'exit 7'
child_art selfkill io agent -- /bin/sh -c 'kill -TERM $$'
child_art sigwait io agent -- "$H/try_sigwait"
expect_rc 0 "an agent using stdio, exit codes and signals through its channel" R "$T/io.toml" -- /bin/bash -c "$IO"
check "stdin in, stdout out through a pipeline ($(grep got= "$T/out"))" grep -qx "got=hello+world" "$T/out"
check "redirections: a file in, a file out" cmp -s "$T/cat.toml" "$W/copy"
check "the tool's exit code 7 ($(grep exit= "$T/out"))" grep -qx "exit=7" "$T/out"
check "killed by SIGTERM: 128+15 ($(grep selfkill= "$T/out"))" grep -qx "selfkill=143" "$T/out"
check "SIGINT forwarded to the tool, which exits 42 ($(grep sigwait= "$T/out"))" grep -qx "sigwait=42" "$T/out"
check "the tool saw the SIGINT" grep -qx "got SIGINT" "$W/sigwait.out"

# --- revoking the agent's artifact mid-session denies its next tool call ---
SESSION="$GX run $T/call1.toml -- $MARK $W/call1; echo call1=\$?
for i in {1..300}; do [ -e $W/go ] && break; $NAP; done
$GX run $T/call2.toml -- $MARK $W/call2; echo call2=\$?"
agent_art session "$SESSION"
child_art call1 session agent --write "$W" -- "$MARK" "$W/call1"
child_art call2 session agent --write "$W" -- "$MARK" "$W/call2"
R "$T/session.toml" -- /bin/bash -c "$SESSION" >"$T/session.out" 2>"$T/session.err" &
session=$!
for _ in $(seq 100); do [ -e "$W/call1" ] && break; sleep 0.1; done
check "the first tool call ran" test -e "$W/call1"
"$GX" revoke --trust "$TR" --state "$S" -k "$T/alice.key" "$T/session.toml" --reason "session over" >/dev/null 2>&1 \
  || bad "revoke the agent's artifact"
touch "$W/go"
wait "$session"
check "the session itself ran to its end (rc $?)" grep -qx "call1=0" "$T/session.out"
check "the next tool call is denied ($(grep call2= "$T/session.out"))" grep -qx "call2=126" "$T/session.out"
check "...revoked, naming the agent's artifact" grep -q "gx: denied (revoked).*$(digest "$T/session.toml")" "$T/session.err"
check "the second tool never ran" test ! -e "$W/call2"
session_rcpt=$(receipt_of "$S" ".decision == \"authorized\" and .artifact_digest == \"$(digest "$T/session.toml")\"")
denied=$(receipt_of "$S" ".decision == \"denied\" and .artifact_digest == \"$(digest "$T/call2.toml")\"")
check "the denial is recorded as the session's child" test "$(jq -r '.reason + " " + .parent' <<<"$denied")" = \
  "revoked $(jq -r .id <<<"$session_rcpt")"
rm -f "$W/go"

# --- through gx broker: a brokered agent whose tool calls are nested runs ---
source "$HERE/lib/broker_env.bash"
start_broker || finish
BAGENT="$GX run $T/btool.toml -- $MARK $W/btool; echo btool=\$?"
agent_art bagent "$BAGENT"
child_art btool bagent agent --write "$W" -- "$MARK" "$W/btool"
expect_rc 0 "a brokered agent" B "$T/bagent.toml" -- /bin/bash -c "$BAGENT"
check "its nested tool ran" test -e "$W/btool"
check "the nested call returned 0" grep -qx "btool=0" "$T/out"
bagent_rcpt=$(receipt_of "$BS" ".decision == \"authorized\" and .artifact_digest == \"$(digest "$T/bagent.toml")\"")
btool_rcpt=$(receipt_of "$BS" ".decision == \"authorized\" and .artifact_digest == \"$(digest "$T/btool.toml")\"")
check "the tool's receipt is in the broker's log, the agent's run as its parent" \
  test "$(jq -r .parent <<<"$btool_rcpt")" = "$(jq -r .id <<<"$bagent_rcpt")"
check "the tool ran as the broker's caller (peer uid $(jq -r .peer_uid <<<"$btool_rcpt"))" \
  test "$(jq -r .peer_uid <<<"$btool_rcpt")" = "$(id -u)"
expect_rc 0 "the broker's tree" "$GX" log tree --state "$BS" --json
check "one tree in the broker's log" test "$(jq '[.[] | select(.children | length > 0)] | length' "$T/out")" = 1
expect_rc 0 "the broker's log verifies" "$GX" log verify --state "$BS"
check "nothing was written to the caller's own state" test ! -e "$S/receipts.log" -o "$(grep -c btool "$S/receipts.log")" = 0
stop_broker
finish
