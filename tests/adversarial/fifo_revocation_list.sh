#!/usr/bin/env bash
# Attack: a FIFO in place of the revocation list makes gx verify/run/revoke block forever on open.
source "$(dirname "$0")/../cli/lib/common.bash"
mkkey alice
cd "$T" || exit 1
"$GX" init -o "$T/a.toml" --reason test -- /bin/touch "$T/marker" >/dev/null 2>&1 || bad "init"
"$GX" sign -k "$T/alice.key" "$T/a.toml" >/dev/null 2>&1 || bad "sign"
mkfifo "$T/revocations.toml"  # the default list, beside the trust store
V() { timeout 10 "$GX" verify --trust "$T/trust.toml" --state "$T/st" "$@"; }
run V "$T/a.toml"
check "verify did not hang" test "$RC" != 124
expect_denied revocation-list-invalid "verify with a FIFO list" V "$T/a.toml"
check "names the FIFO" grep -q "revocations.toml is a fifo, not a regular file" "$T/err"
expect_denied revocation-list-invalid "run with a FIFO list" timeout 10 "$GX" run --trust "$T/trust.toml" --state "$T/st" "$T/a.toml" -- /bin/touch "$T/marker"
check "the command never ran" test ! -e "$T/marker"
expect_denied revocation-list-invalid "revoke --list with a FIFO list" timeout 10 "$GX" revoke --list --trust "$T/trust.toml" --state "$T/st"
expect_denied revocation-list-invalid "revoke on a FIFO list" timeout 10 "$GX" revoke --trust "$T/trust.toml" --state "$T/st" -k "$T/alice.key" "$T/a.toml"
check "the FIFO was not replaced" test -p "$T/revocations.toml"
finish
