#!/usr/bin/env bash
# Attack: a FIFO in place of the trust store makes gx verify/run/trust block forever on open.
source "$(dirname "$0")/../cli/lib/common.bash"
mkkey alice
cd "$T" || exit 1
"$GX" init -o "$T/a.toml" --reason test -- /bin/touch "$T/marker" >/dev/null 2>&1 || bad "init"
"$GX" sign -k "$T/alice.key" "$T/a.toml" >/dev/null 2>&1 || bad "sign"
mkdir -m 700 "$T/fifo"
mkfifo "$T/fifo/trust.toml"
run timeout 10 "$GX" verify --trust "$T/fifo/trust.toml" --state "$T/st" "$T/a.toml"
check "verify did not hang" test "$RC" != 124
expect_denied trust-store-invalid "verify with a FIFO trust store" timeout 10 "$GX" verify --trust "$T/fifo/trust.toml" --state "$T/st" "$T/a.toml"
check "names the FIFO" grep -q "fifo/trust.toml is a fifo, not a regular file" "$T/err"
expect_denied trust-store-invalid "run with a FIFO trust store" timeout 10 "$GX" run --trust "$T/fifo/trust.toml" --state "$T/st" "$T/a.toml" -- /bin/touch "$T/marker"
check "the command never ran" test ! -e "$T/marker"
expect_denied trust-store-invalid "trust list with a FIFO trust store" timeout 10 "$GX" trust list --trust "$T/fifo/trust.toml"
expect_denied trust-store-invalid "trust add to a FIFO trust store" timeout 10 "$GX" trust add "$T/alice.pub" -n a --trust "$T/fifo/trust.toml"
check "the FIFO is still a FIFO" test -p "$T/fifo/trust.toml"
finish
