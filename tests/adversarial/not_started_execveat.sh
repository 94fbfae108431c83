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
# Runtime path: a gx nested under an exec = [] run cannot install its exec
# guard (EBUSY: one seccomp listener per tree) and so never starts its
# command: "not-started", exit 127, never "finished".
IS=$T/inner-state
mkdir -p "$IS"
inner=("$GX" run --trust "$TR" --state "$IS" "$T/inner.toml" -- "$H/try_marker" "$W/m")
art_edit outer 's/^groups = .*/groups = ["default", "filesystem", "process"]/; s/^allow_syscalls = .*/allow_syscalls = ["memfd_create"]/' \
  --write "$IS" --write "$W" --read "$TR" --read "$T/inner.toml" --read "$H" --read "$GX" --read /proc -- "${inner[@]}"
# The inner artifact is a root (lineage is not what this attack is about; a
# child would need its chain, gx run --parent).
art inner --write "$W" -- "$H/try_marker" "$W/m"
run R "$T/outer.toml" -- "${inner[@]}"
check "inner gx exits 127, not started (rc $RC, err $(head -c 300 "$T/err"))" test "$RC" = 127
check "says so" grep -q "gx: not started (sandbox-unavailable)" "$T/err"
check "the inner command never ran" test ! -e "$W/m"
tail2=$("$GX" log show --state "$IS" --json --tail 2 | jq -r .decision | tr '\n' ' ')
check "inner receipts: authorized, then not-started ($tail2)" test "$tail2" = "authorized not-started "
check "not-started names its authorized receipt" test \
  "$("$GX" log show --state "$IS" --json --tail 1 | jq -r .authorized_id)" = "$("$GX" log show --state "$IS" --json --tail 2 | head -1 | jq -r .id)"
check "the inner log verifies" "$GX" log verify --state "$IS"
finish
