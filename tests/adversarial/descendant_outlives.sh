#!/usr/bin/env bash
# Attack: the child double-forks a grandchild (new session, ignores SIGTERM) that acts after gx has exited and written its finished receipt.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
art df --write "$W" --read "$H" -- "$H/try_double_fork" "$W/late" 1500
start=$(date +%s%N)
run R "$T/df.toml" -- "$H/try_double_fork" "$W/late" 1500
check "gx exits with the child's status 0 (rc $RC, err $(head -c 200 "$T/err"))" test "$RC" = 0
last=$("$GX" log show --state "$S" --json --tail 1)
check "finished receipt records the killed descendant ($last)" \
  test "$(jq -r '.decision' <<<"$last")" = finished -a "$(jq -r '.descendants_killed' <<<"$last")" -ge 1
sleep 3
check "the grandchild never acted" test ! -e "$W/late"
# Control: outside gx the grandchild does act.
"$H/try_double_fork" "$W/late" 200 >/dev/null
sleep 1
check "control: unconfined, the grandchild writes its marker" test -e "$W/late"
finish
