#!/usr/bin/env bash
# gx revoke (signed revocation list, rollback protection) and gx state (use store).
source "$(dirname "$0")/lib/common.bash"
ST=$T/st
R() { "$GX" revoke --trust "$T/trust.toml" --state "$ST" "$@"; }
LIST=$T/revocations.toml  # default: beside the trust store

mkkey alice
mkkey bob
mkkey carol
"$GX" keygen -o "$T/mallory" >"$T/mallory.id" 2>/dev/null  # never trusted

cd "$T"
"$GX" init -o "$T/a.toml" --reason test -- /bin/echo hi >/dev/null 2>&1 || bad "init"
"$GX" sign -k "$T/alice.key" "$T/a.toml" >/dev/null 2>&1 || bad "sign"
# The artifact's identity: SHA-256 of every byte before the first "[[signature]]" line.
DIGEST="sha256:$(sed '/^\[\[signature\]\]$/,$d' "$T/a.toml" | sha256sum | cut -d' ' -f1)"

# --- no list yet ---
expect_rc 0 "list with no file" R --list
check "says nothing is revoked" grep -q "nothing is revoked" "$T/out"
expect_rc 0 "list --json with no file" R --list --json
check "json serial 0" test "$(jq .serial "$T/out")" = 0

# --- revoke an artifact ---
expect_rc 0 "revoke artifact" R -k "$T/alice.key" "$T/a.toml" --reason "leaked"
check "prints the artifact digest" test "$(cat "$T/out")" = "$DIGEST"
check "list written beside the trust store" test -f "$LIST"
check "list is 0644" test "$(stat -c %a "$LIST")" = 644
check "rollback record written" test "$(awk 'NR == 2 {print $2}' "$ST/revocations.serial")" = 1
expect_rc 0 "list --json" R --list --json
check "serial 1" test "$(jq .serial "$T/out")" = 1
check "entry is the artifact" test "$(jq -r '.entries[0].artifact' "$T/out")" = "$DIGEST"
check "reason kept" test "$(jq -r '.entries[0].reason' "$T/out")" = leaked
check "signer is alice" test "$(jq -r '.signers[0]' "$T/out")" = "$(cat "$T/alice.id")"
expect_rc 0 "list (text)" R --list
check "text list names the artifact" grep -q "artifact $DIGEST" "$T/out"

# --- the signature is plain ECDSA P-256 over PAE(revocations type, body): openssl agrees ---
type="application/vnd.gx.revocations.v1+toml"
sed '/^\[\[signature\]\]$/,$d' "$LIST" >"$T/body.bin"
{ printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$(stat -c %s "$T/body.bin")"; cat "$T/body.bin"; } >"$T/pae.bin"
sed -n 's/^value = "\(.*\)"$/\1/p' "$LIST" | head -1 | base64 -d >"$T/sig.der"
openssl dgst -sha256 -verify "$T/alice.pub" -signature "$T/sig.der" "$T/pae.bin" >/dev/null 2>&1
check "openssl verifies the list signature" test $? = 0

# --- idempotent, other targets ---
expect_rc 0 "revoking again is a no-op" R -k "$T/alice.key" --id "$DIGEST"
check "serial unchanged" test "$(awk 'NR == 2 {print $2}' "$ST/revocations.serial")" = 1
OTHER=$(printf other | sha256sum | cut -d' ' -f1)
expect_rc 0 "revoke by bare hex --id" R -k "$T/bob.key" --id "$OTHER"
check "normalised to sha256:" test "$(cat "$T/out")" = "sha256:$OTHER"
expect_rc 0 "revoke a key" R -k "$T/alice.key" --key-id "$(cat "$T/bob.id")" --reason "laptop stolen"
expect_rc 0 "list --json" R --list --json
check "serial 3" test "$(jq .serial "$T/out")" = 3
check "three entries" test "$(jq '.entries | length' "$T/out")" = 3
check "key entry" test "$(jq -r '.entries[2].key_id' "$T/out")" = "$(cat "$T/bob.id")"

# --- refusals (exit 125, list untouched) ---
cp "$LIST" "$T/before.toml"
expect_rc 125 "untrusted signing key" R -k "$T/mallory.key" --id "$OTHER"
check "names the problem" grep -q "not in the trust store" "$T/err"
expect_rc 125 "revoked signer cannot sign a valid list" R -k "$T/bob.key" --id "$(printf x | sha256sum | cut -d' ' -f1)"
check "explains why" grep -q "would not be valid" "$T/err"
expect_rc 125 "a key cannot sign its own revocation" R -k "$T/carol.key" --key-id "$(cat "$T/carol.id")"
expect_rc 125 "no -k" R --id "$OTHER"
expect_rc 125 "two targets" R -k "$T/alice.key" "$T/a.toml" --id "$OTHER"
expect_rc 125 "no target" R -k "$T/alice.key"
expect_rc 125 "bad digest" R -k "$T/alice.key" --id sha256:nothex
expect_rc 125 "--list with -k" R --list -k "$T/alice.key"
check "list untouched by refusals" cmp -s "$LIST" "$T/before.toml"

# --- an invalid list denies (fail closed) ---
sed 's/^reason = "leaked"$/reason = "leakeD"/' "$T/before.toml" >"$LIST"
check "tampered copy differs" test "$(sha256sum <"$LIST")" != "$(sha256sum <"$T/before.toml")"
expect_denied revocation-list-invalid "tampered list" R --list
expect_denied revocation-list-invalid "cannot revoke on top of a tampered list" R -k "$T/alice.key" --id "$OTHER"
cp "$T/before.toml" "$LIST"
expect_rc 0 "restored list is valid again" R --list

# --- rollback ---
cp "$LIST" "$T/serial3.toml"
expect_rc 0 "revoke once more (serial 4)" R -k "$T/carol.key" --id "$(printf y | sha256sum | cut -d' ' -f1)"
cp "$T/serial3.toml" "$LIST"
expect_denied revocation-list-invalid "old list restored" R --list
check "says rollback" grep -q "rollback: serial 3 < 4 already seen" "$T/err"
rm -f "$LIST"
expect_denied revocation-list-invalid "list deleted after a serial was seen" R --list
check "says missing" grep -q "missing" "$T/err"
rm -rf "$ST"
expect_rc 0 "fresh state: a deleted list is simply empty" R --list

# --- gx state ---
S=$T/state2
expect_rc 0 "state show on a new store" "$GX" state show --state "$S" --json
check "zero entries" test "$(jq .entries "$T/out")" = 0
check "state dir 0700" test "$(stat -c %a "$S")" = 700
check "uses.db 0600" test "$(stat -c %a "$S/uses.db")" = 600
if command -v sqlite3 >/dev/null; then
  h1=$(printf 1 | sha256sum | cut -d' ' -f1)
  h2=$(printf 2 | sha256sum | cut -d' ' -f1)
  sqlite3 "$S/uses.db" "INSERT INTO uses (digest, spent, max_uses, not_after) VALUES ('sha256:$h1', 1, 1, 1000), ('sha256:$h2', 1, 2, 4000000000);"
  expect_rc 0 "state show" "$GX" state show --state "$S" --json
  check "two entries, one exhausted" test "$(jq -c '[.entries, .exhausted]' "$T/out")" = "[2,1]"
  expect_rc 0 "prune" "$GX" state prune --state "$S" --now 2030-01-01T00:00:00Z
  check "pruned one" grep -q "^pruned 1 entry" "$T/out"
  expect_rc 0 "state show after prune" "$GX" state show --state "$S" --json
  check "one left" test "$(jq .entries "$T/out")" = 1
fi
expect_rc 125 "prune --now needs UTC" "$GX" state prune --state "$S" --now 2030-01-01T00:00:00
printf 'garbage%.0s' {1..2000} >"$S/uses.db"
rm -f "$S/uses.db-wal" "$S/uses.db-shm"
expect_denied state-unavailable "corrupt use store" "$GX" state show --state "$S"

finish
