#!/usr/bin/env bash
# Attack: the child lowers gx's own RLIMIT_FSIZE/NOFILE (prlimit64 on its parent) so gx dies or cannot write the finished receipt, yet the run looks fine.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
# Opts into prlimit64 by name, in case the profile no longer allows it on other pids.
art_edit lim 's/^allow_syscalls = .*/allow_syscalls = ["prlimit64"]/' -- "$H/try_prlimit_parent"
# stderr through a pipe: a lowered RLIMIT_FSIZE would truncate gx's messages to a file.
R "$T/lim.toml" -- "$H/try_prlimit_parent" 2>&1 >"$T/out" | cat >"$T/err"
RC=${PIPESTATUS[0]}
if [ "$(head -1 "$T/out")" != ok ]; then
  echo "skip: the child could not lower gx's limits ($(head -1 "$T/out")); the recording-failure check below still runs"
else
  last=$("$GX" log show --state "$S" --json --tail 1 | jq -r .decision)
  if [ "$RC" = 0 ]; then
    check "gx restored its limits and recorded the run ($last)" test "$last" = finished
    check "and said its limits had been lowered" grep -q "RLIMIT_FSIZE of gx was lowered" "$T/err"
  else
    check "gx could not restore (no CAP_SYS_RESOURCE): it fails the run with 125, not a signal (rc $RC)" test "$RC" = 125
    check "and says it could not restore its limit" grep -q "RLIMIT_FSIZE of gx was lowered.*could not restore" "$T/err"
    check "and says the finished receipt is missing" grep -q "finished receipt could not be written" "$T/err"
  fi
fi
check "the log is intact" "$GX" log verify --state "$S"
# A finished receipt that cannot be written fails the run (exit 125), even
# though the command itself succeeded.
art slp --max-uses 2 -- /bin/sleep 1
R "$T/slp.toml" -- /bin/sleep 1 >"$T/slp.out" 2>"$T/slp.err" &
gxpid=$!
for _ in $(seq 100); do
  [ "$(tail -n 1 "$S/receipts.log" 2>/dev/null | jq -r .decision 2>/dev/null)" = authorized ] && break
  sleep 0.05
done
mv "$S/receipts.log" "$S/receipts.log.aside"
mkdir "$S/receipts.log"
wait "$gxpid"
rc=$?
check "gx exits 125 when the finished receipt cannot be written (rc $rc, err $(head -c 300 "$T/slp.err"))" test "$rc" = 125
check "and says why" grep -q "finished receipt could not be written" "$T/slp.err"
rmdir "$S/receipts.log"
mv "$S/receipts.log.aside" "$S/receipts.log"
finish
