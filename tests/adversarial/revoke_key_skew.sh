#!/usr/bin/env bash
# Attack (inconsistency): gx revoke and the revocation list ignored skew_seconds, so a key verify accepts could not sign (or a list it signed was refused).
source "$(dirname "$0")/../cli/lib/common.bash"
ST=$T/st
mkkey bob
"$GX" keygen -o "$T/alice" >"$T/alice.id" 2>/dev/null || bad "keygen alice"
# Alice's key expired 30 seconds ago; the trust store's skew (default 60 s) still covers it.
"$GX" trust add "$T/alice.pub" --name alice --not-after "$(date -u -d '-30 seconds' +%Y-%m-%dT%H:%M:%SZ)" \
  --trust "$T/trust.toml" >/dev/null 2>&1 || bad "trust add alice"
check "default skew is 60" grep -q '^skew_seconds = 60$' "$T/trust.toml"
cd "$T" || exit 1
"$GX" init -o "$T/a.toml" --reason test -- /bin/echo hi >/dev/null 2>&1 || bad "init"
"$GX" sign -k "$T/bob.key" "$T/a.toml" >/dev/null 2>&1 || bad "sign"
cp "$T/a.toml" "$T/alice-signed.toml"
sed -i '/^\[\[signature\]\]$/,$d' "$T/alice-signed.toml"
"$GX" sign -k "$T/alice.key" "$T/alice-signed.toml" >/dev/null 2>&1 || bad "sign alice"
R() { "$GX" revoke --trust "$T/trust.toml" --state "$ST" "$@"; }
V() { "$GX" verify --trust "$T/trust.toml" --state "$ST" "$@"; }

expect_rc 0 "verify counts alice's key inside the skew" V "$T/alice-signed.toml"
expect_rc 0 "so revoke signs with it too" R -k "$T/alice.key" --id "sha256:$(printf x | sha256sum | cut -d' ' -f1)"
expect_rc 0 "and the list it signed is valid for verify" V "$T/a.toml"
expect_rc 0 "and for revoke --list" R --list --json
check "serial 1" test "$(jq .serial "$T/out")" = 1

# Without skew the same key is outside its window everywhere, alike.
sed -i 's/^skew_seconds = 60$/skew_seconds = 0/' "$T/trust.toml"
cp "$T/revocations.toml" "$T/before.toml"
expect_rc 125 "revoke refuses the expired signing key" R -k "$T/alice.key" --id "sha256:$(printf y | sha256sum | cut -d' ' -f1)"
check "says why" grep -q "outside its validity window" "$T/err"
check "list untouched" cmp -s "$T/revocations.toml" "$T/before.toml"
expect_denied key-expired "verify no longer counts alice's key" V --revocations "$T/none.toml" "$T/alice-signed.toml"
expect_denied revocation-list-invalid "the list only alice signed is no longer valid" V "$T/a.toml"
check "for the same reason" grep -q "key of alice .* is outside its validity window" "$T/err"
finish
