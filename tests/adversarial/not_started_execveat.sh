#!/usr/bin/env bash
# Attack: a sandbox that kills execveat makes the child die by SIGSYS at gx's own exec, and gx records "finished, signal 31" for a program that never ran.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
art_edit noexec 's/^default_action = .*/default_action = "kill"/; s/^deny_syscalls = .*/deny_syscalls = ["execveat"]/' \
  --write "$W" -- "$H/try_marker" "$W/m"
before=$("$GX" log show --state "$S" --json 2>/dev/null | wc -l)
expect_denied policy-mismatch "execveat denied: refused before anything is spent" R "$T/noexec.toml" -- "$H/try_marker" "$W/m"
check "names deny_syscalls" grep -q "sandbox.deny_syscalls" "$T/err"
check "the program never ran" test ! -e "$W/m"
after=$("$GX" log show --state "$S" --json | wc -l)
check "exactly one receipt, the denial: no authorized, no finished ($before -> $after)" test "$after" = $((before + 1))
# Runtime path: a gx whose exec guard cannot be installed (EBUSY: one
# seccomp listener per filter tree, here one its caller installed without
# no_new_privs — root only) never starts its command: "not-started", exit 127,
# never "finished". (Under another gx's sandbox an inner gx is denied before
# it gets this far: it has no nested-run channel, tests/cli/nested.sh.)
if [ "$(id -u)" != 0 ]; then
  echo "skip: the runtime path needs root (a seccomp listener without no_new_privs needs CAP_SYS_ADMIN)"
  finish
fi
IS=$T/inner-state
mkdir -p "$IS"
art inner --write "$W" -- "$H/try_marker" "$W/m"
run "$H/try_notify_listener" "$GX" run --trust "$TR" --state "$IS" "$T/inner.toml" -- "$H/try_marker" "$W/m"
check "inner gx exits 127, not started (rc $RC, err $(head -c 300 "$T/err"))" test "$RC" = 127
check "says so" grep -q "gx: not started (sandbox-unavailable)" "$T/err"
check "the inner command never ran" test ! -e "$W/m"
tail2=$("$GX" log show --state "$IS" --json --tail 2 | jq -r .decision | tr '\n' ' ')
check "inner receipts: authorized, then not-started ($tail2)" test "$tail2" = "authorized not-started "
check "not-started names its authorized receipt" test \
  "$("$GX" log show --state "$IS" --json --tail 1 | jq -r .authorized_id)" = "$("$GX" log show --state "$IS" --json --tail 2 | head -1 | jq -r .id)"
check "the inner log verifies" "$GX" log verify --state "$IS"
finish
