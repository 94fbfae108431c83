#!/usr/bin/env bash
# examples/agent/session works as its README says: an agent loop under gx run
# whose tool calls are nested runs; the session is one tree; the agent's
# direct exec is blocked; an undelegated tool is denied and recorded.
source "$(dirname "$0")/lib/common.bash"
EX=${GX_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/examples/agent/session
export GX PATH=/usr/sbin:/usr/bin:/sbin:/bin
expect_rc 0 "run.sh" bash "$EX/run.sh" "$T/session"
result() { grep "\"id\": \"$1\"" "$T/out"; }
for id in list todos count digest; do
  check "tool call $id exited 0 ($(result $id | head -c 200))" grep -q '"exit": 0' <<<"$(result $id)"
done
check "grep found the three TODOs" grep -q 'TODO: review PR 42\\nTODO: call Bob\\nTODO: file taxes' <<<"$(result todos)"
check "wc counted 6 lines" grep -q '6 total' <<<"$(result count)"
check "the agent's direct exec is blocked" grep -q '"result": "blocked: Permission denied"' <<<"$(result direct)"
check "the undelegated rm is denied lineage-inconsistency" \
  grep -q '"exit": 126.*denied (lineage-inconsistency).*exec.path: child /usr/bin/rm' <<<"$(result cleanup)"
check "rm never ran" test -e "$T/session/work/notes/work.txt"
expect_rc 0 "gx log tree --json" "$GX" log tree --state "$T/session/state" --json
check "one tree" test "$(jq length "$T/out")" = 1
check "the agent's run is the root" test "$(jq -r '.[0].argv[1]' "$T/out")" = "$T/session/agent.py"
check "five children: four tools and the denial" \
  test "$(jq -r '[.[0].children[].result] | join(",")' "$T/out")" = "exit 0,exit 0,exit 0,exit 0,denied lineage-inconsistency"
expect_rc 0 "gx log verify" "$GX" log verify --state "$T/session/state"
finish
