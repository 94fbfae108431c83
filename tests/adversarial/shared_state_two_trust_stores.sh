#!/usr/bin/env bash
# Attack (denial of service): one gx revoke with trust store A makes every other trust store sharing the state dir "rolled back".
source "$(dirname "$0")/../cli/lib/common.bash"
ST=$T/shared-state
mkdir -m 700 "$T/A" "$T/B"
for who in alice:A bob:B; do
  n=${who%%:*} d=${who##*:}
  "$GX" keygen -o "$T/$n" >/dev/null 2>&1 || bad "keygen $n"
  "$GX" trust add "$T/$n.pub" --name "$n" --trust "$T/$d/trust.toml" >/dev/null 2>&1 || bad "trust add $n"
done
cd "$T" || exit 1
"$GX" init -o "$T/b.toml" --reason test -- /bin/echo hi >/dev/null 2>&1 || bad "init"
"$GX" sign -k "$T/bob.key" "$T/b.toml" >/dev/null 2>&1 || bad "sign"
cp "$T/b.toml" "$T/a.toml"
"$GX" sign -k "$T/alice.key" "$T/a.toml" >/dev/null 2>&1 || bad "sign"
VA() { "$GX" verify --trust "$T/A/trust.toml" --state "$ST" "$@"; }
VB() { "$GX" verify --trust "$T/B/trust.toml" --state "$ST" "$@"; }

expect_rc 0 "A revokes something (serial 1 of A's list)" \
  "$GX" revoke --trust "$T/A/trust.toml" --state "$ST" -k "$T/alice.key" --id "sha256:$(printf x | sha256sum | cut -d' ' -f1)"
expect_rc 0 "B, which has no list, still verifies with the shared state" VB "$T/b.toml"
if grep -q "already seen" "$T/err"; then bad "B is reported rolled back"; else ok; fi
expect_rc 0 "B's own first revoke (its serial 1, another body) is accepted" \
  "$GX" revoke --trust "$T/B/trust.toml" --state "$ST" -k "$T/bob.key" --id "sha256:$(printf y | sha256sum | cut -d' ' -f1)"
expect_rc 0 "A still verifies" VA "$T/a.toml"
expect_rc 0 "B still verifies" VB "$T/b.toml"

# Each list keeps its own rollback protection.
cp "$T/A/revocations.toml" "$T/A-serial1.toml"
expect_rc 0 "A: serial 2" \
  "$GX" revoke --trust "$T/A/trust.toml" --state "$ST" -k "$T/alice.key" --id "sha256:$(printf z | sha256sum | cut -d' ' -f1)"
cp "$T/A-serial1.toml" "$T/A/revocations.toml"
expect_denied revocation-list-invalid "A rolled back to serial 1" VA "$T/a.toml"
check "says rollback" grep -q "rollback: serial 1 < 2 already seen" "$T/err"
rm "$T/A/revocations.toml"
expect_denied revocation-list-invalid "A's list deleted" VA "$T/a.toml"
check "says missing" grep -q "missing, but serial 2 of this list was already seen" "$T/err"
expect_rc 0 "B is unaffected by A's rollback" VB "$T/b.toml"
finish
