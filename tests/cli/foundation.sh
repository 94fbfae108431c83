#!/usr/bin/env bash
# Keys, trust store, init, sign, verify: the foundation, driven through the CLI.
source "$(dirname "$0")/lib/common.bash"
V() { "$GX" verify --trust "$T/trust.toml" "$@"; }

# --- keys ---
mkkey alice
check "private key is 0600" test "$(stat -c %a "$T/alice.key")" = 600
check "public key readable by openssl" openssl pkey -pubin -in "$T/alice.pub" -noout
want="sha256:$(openssl pkey -pubin -in "$T/alice.pub" -outform DER | sha256sum | cut -d' ' -f1)"
check "key id is sha256 of DER SPKI" test "$(cat "$T/alice.id")" = "$want"
cp "$T/alice.key" "$T/alice.key.orig"
expect_rc 125 "keygen refuses to overwrite" "$GX" keygen -o "$T/alice"
check "existing key untouched" cmp -s "$T/alice.key" "$T/alice.key.orig"
expect_rc 0 "keygen --force overwrites" "$GX" keygen -o "$T/other" --force
mkkey bob
mkkey carol
"$GX" keygen -o "$T/mallory" >"$T/mallory.id" 2>/dev/null  # never trusted

# --- trust store ---
expect_rc 0 "trust list" "$GX" trust list --trust "$T/trust.toml" --json
check "trust list shows 3 keys" test "$(jq '.keys | length' "$T/out")" = 3
expect_rc 125 "trust add twice refused" "$GX" trust add "$T/alice.pub" --name again --trust "$T/trust.toml"

# --- init / sign / verify ---
cd "$T"
expect_rc 0 "init" "$GX" init -o "$T/a.toml" --reason "test" -- /bin/echo hello
check "init pins the digest" grep -q "sha256 = \"$(sha256sum /bin/echo | cut -d' ' -f1)\"" "$T/a.toml"
expect_denied missing-authorization "unsigned artifact" V "$T/a.toml"
expect_rc 0 "sign" "$GX" sign -k "$T/alice.key" "$T/a.toml"
expect_rc 0 "verify signed" V "$T/a.toml"
expect_rc 0 "verify --json" V --json "$T/a.toml"
check "json decision allow" test "$(jq -r .decision "$T/out")" = allow
check "json names the signer" test "$(jq -r '.signers[0]' "$T/out")" = "$(cat "$T/alice.id")"
expect_rc 126 "same key cannot sign twice" "$GX" sign -k "$T/alice.key" "$T/a.toml"

# --- openssl interop: the signature is plain ECDSA P-256/SHA-256 over PAE(type, body) ---
"$GX" verify --print-payload "$T/a.toml" >"$T/payload.bin"
"$GX" verify --print-signature "$(cat "$T/alice.id")" "$T/a.toml" >"$T/sig.der"
check "openssl verifies a gx signature" openssl dgst -sha256 -verify "$T/alice.pub" -signature "$T/sig.der" "$T/payload.bin"
check "payload starts with DSSE PAE" grep -q '^DSSEv1 35 application/vnd.gx.artifact.v1+toml ' "$T/payload.bin"

# --- tampering with every body line after signing ---
nbody=$(grep -n '^\[\[signature\]\]$' "$T/a.toml" | head -1 | cut -d: -f1)
tampered=0
for ((i = 1; i < nbody; i++)); do
  line=$(sed -n "${i}p" "$T/a.toml")
  [ -z "$line" ] && continue
  # flip the last character of the line (or append one): any byte change must deny
  awk -v n="$i" 'NR==n { if (length($0) > 1) { c = substr($0, length($0)-1, 1); r = (c == "x") ? "y" : "x"; $0 = substr($0, 1, length($0)-2) r substr($0, length($0)) } else { $0 = $0 " " } } { print }' "$T/a.toml" >"$T/t.toml"
  cmp -s "$T/a.toml" "$T/t.toml" && continue
  run V "$T/t.toml"
  if [ "$RC" = 126 ] && grep -q "gx: denied (invalid-signature)" "$T/err"; then ok; else bad "tampered line $i ($line): rc $RC $(cat "$T/err")"; fi
  tampered=$((tampered + 1))
done
check "tampered more than 20 lines" test "$tampered" -gt 20

# --- signatures: moved, duplicated, algorithm changed, untrusted ---
"$GX" init -o "$T/b.toml" -- /bin/echo other 2>/dev/null
"$GX" sign -k "$T/alice.key" "$T/b.toml" 2>/dev/null
{ sed -n "1,$((nbody - 1))p" "$T/a.toml"; sed -n '/^\[\[signature\]\]$/,$p' "$T/b.toml"; } >"$T/moved.toml"
expect_denied invalid-signature "signature moved from another artifact" V "$T/moved.toml"
"$GX" trust threshold 2 --trust "$T/trust.toml" 2>/dev/null
{ cat "$T/a.toml"; sed -n '/^\[\[signature\]\]$/,$p' "$T/a.toml"; } >"$T/dup.toml"
expect_denied threshold-not-met "duplicated signature does not reach 2-of-N" V "$T/dup.toml"
expect_denied threshold-not-met "2-of-3 with one signature" V "$T/a.toml"
cp "$T/a.toml" "$T/two.toml"
"$GX" sign -k "$T/bob.key" "$T/two.toml" 2>/dev/null
expect_rc 0 "2-of-3 with two signatures" V "$T/two.toml"
"$GX" trust threshold 1 --trust "$T/trust.toml" 2>/dev/null
sed 's/^algorithm = "ecdsa-p256-sha256"/algorithm = "ecdsa-p384-sha384"/' "$T/a.toml" >"$T/alg.toml"
expect_denied unsupported-algorithm "algorithm field changed" V "$T/alg.toml"
cp "$T/b.toml" "$T/untrusted.toml"
"$GX" init -o "$T/u.toml" -- /bin/echo u 2>/dev/null
"$GX" sign -k "$T/mallory.key" "$T/u.toml" 2>/dev/null
expect_denied untrusted-key "signed only by an untrusted key" V "$T/u.toml"

# --- time ---
"$GX" init -o "$T/old.toml" --not-before 2020-01-01T00:00:00Z --not-after 2020-01-02T00:00:00Z -- /bin/true 2>/dev/null
"$GX" sign -k "$T/alice.key" "$T/old.toml" 2>/dev/null
expect_denied expired "expired artifact" V "$T/old.toml"
"$GX" init -o "$T/future.toml" --not-before 2099-01-01T00:00:00Z --not-after 2099-01-02T00:00:00Z -- /bin/true 2>/dev/null
"$GX" sign -k "$T/alice.key" "$T/future.toml" 2>/dev/null
expect_denied not-yet-valid "not yet valid artifact" V "$T/future.toml"

# --- skew: the trust store's, never the caller's ---
nb=$(date -u -d @$(( $(date +%s) - 300 )) +%Y-%m-%dT%H:%M:%SZ)
na=$(date -u -d @$(( $(date +%s) - 30 )) +%Y-%m-%dT%H:%M:%SZ)
"$GX" init -o "$T/recent.toml" --not-before "$nb" --not-after "$na" -- /bin/true 2>/dev/null
"$GX" sign -k "$T/alice.key" "$T/recent.toml" 2>/dev/null
expect_rc 0 "expired 30 s ago is within the default 60 s skew" V "$T/recent.toml"
cp "$T/trust.toml" "$T/trust.skew"
sed -i 's/^skew_seconds = 60$/skew_seconds = 0/' "$T/trust.toml"
expect_denied expired "skew_seconds = 0 in the trust store" V "$T/recent.toml"
cp "$T/trust.skew" "$T/trust.toml"
expect_rc 125 "callers cannot set the skew" "$GX" verify --skew 3600 --trust "$T/trust.toml" "$T/old.toml"
expect_rc 125 "gx run has no --skew either" "$GX" run --skew 3600 --trust "$T/trust.toml" "$T/old.toml" -- /bin/true

# --- trust entries: revoked, outside validity ---
cp "$T/trust.toml" "$T/trust.bak"
awk -v id="$(cat "$T/alice.id")" '{ print } $0 == "id = \"" id "\"" { print "revoked = true" }' "$T/trust.bak" >"$T/trust.toml"
expect_denied key-revoked "revoked trust entry" V "$T/a.toml"
awk -v id="$(cat "$T/alice.id")" '{ print } $0 == "id = \"" id "\"" { print "not_after = \"2021-01-01T00:00:00Z\"" }' "$T/trust.bak" >"$T/trust.toml"
expect_denied key-expired "trusted key outside its validity" V "$T/a.toml"
cp "$T/trust.bak" "$T/trust.toml"

# --- malformed but validly signed bodies (signed with openssl, so gx sign's checks are bypassed) ---
body() { sed -n "1,$((nbody - 1))p" "$T/a.toml"; }
body | sed 's/^reason = .*/&\nsurprise = 1/' >"$T/body"; ossl_sign "$T/body" alice "$T/m.toml"
expect_denied unknown-field "unknown field" V "$T/m.toml"
body | sed 's/^reason = .*/&\nreason = "again"/' >"$T/body"; ossl_sign "$T/body" alice "$T/m.toml"
expect_denied duplicate-field "duplicate key" V "$T/m.toml"
{ body; printf '[exec]\ncwd = "/"\n'; } >"$T/body"; ossl_sign "$T/body" alice "$T/m.toml"
expect_denied duplicate-field "duplicate table" V "$T/m.toml"
body | sed 's/^max_uses = .*/max_uses = "1"/' >"$T/body"; ossl_sign "$T/body" alice "$T/m.toml"
expect_denied wrong-type "wrong type" V "$T/m.toml"
body | sed '/^issuer = /d' >"$T/body"; ossl_sign "$T/body" alice "$T/m.toml"
expect_denied missing-field "missing field" V "$T/m.toml"
body | sed 's/^version = 1/version = 2/' >"$T/body"; ossl_sign "$T/body" alice "$T/m.toml"
expect_denied unsupported-version "unknown version" V "$T/m.toml"
check "openssl-signed valid body verifies" bash -c "body() { sed -n '1,$((nbody - 1))p' '$T/a.toml'; }; body > '$T/body'"
ossl_sign "$T/body" alice "$T/m.toml"
expect_rc 0 "openssl-made signature accepted by gx" V "$T/m.toml"

# --- broken files ---
: >"$T/empty.toml"
expect_denied empty "empty file" V "$T/empty.toml"
head -c $(($(stat -c %s "$T/a.toml") - 30)) "$T/a.toml" >"$T/trunc.toml"
expect_denied malformed "truncated file" V "$T/trunc.toml"
head -c 4096 /dev/urandom >"$T/garbage.toml"
expect_denied not-text "binary garbage" V "$T/garbage.toml"
{ cat "$T/a.toml"; head -c 300000 /dev/zero | tr '\0' '#'; } >"$T/big.toml"
expect_denied too-large "oversized file" V "$T/big.toml"
expect_denied missing-authorization "no such artifact" V "$T/nonexistent.toml"
expect_rc 125 "usage error is could-not-run" "$GX" verify --no-such-flag

finish
