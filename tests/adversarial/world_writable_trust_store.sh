#!/usr/bin/env bash
# Attack: a trust store (or revocation list) that others can write, or own, is trusted: anyone adds their key.
source "$(dirname "$0")/../cli/lib/common.bash"
mkkey alice
cd "$T" || exit 1
"$GX" init -o "$T/a.toml" --reason test -- /bin/touch "$T/marker" >/dev/null 2>&1 || bad "init"
"$GX" sign -k "$T/alice.key" "$T/a.toml" >/dev/null 2>&1 || bad "sign"
V() { "$GX" verify --trust "$T/trust.toml" --state "$T/st" "$@"; }
VD() { "$GX" verify --trust "$T/d/trust.toml" --state "$T/st" "$@"; }
expect_rc 0 "baseline: 0644 store in a 0755 directory verifies" V "$T/a.toml"

chmod 666 "$T/trust.toml"
expect_denied trust-store-invalid "0666 trust store" V "$T/a.toml"
check "names path, owner and mode" grep -q "trust.toml is owned by uid $(id -u) with mode 0666: writable by group or others" "$T/err"
expect_denied trust-store-invalid "run with a 0666 trust store" "$GX" run --trust "$T/trust.toml" --state "$T/st" "$T/a.toml" -- /bin/touch "$T/marker"
check "the command never ran" test ! -e "$T/marker"
expect_denied trust-store-invalid "trust add refuses to extend a 0666 store" "$GX" trust add "$T/alice.pub" -n x --trust "$T/trust.toml"
chmod 620 "$T/trust.toml"
expect_denied trust-store-invalid "group-writable trust store" V "$T/a.toml"
chmod 644 "$T/trust.toml"

mkdir -m 755 "$T/d"
cp "$T/trust.toml" "$T/d/trust.toml"
chmod 777 "$T/d"
expect_denied trust-store-invalid "trust store in a 0777 directory" VD "$T/a.toml"
check "names the directory" grep -q "$T/d is owned by uid $(id -u) with mode 0777" "$T/err"
chmod 1777 "$T/d"
expect_denied trust-store-invalid "sticky is not enough for the store's own directory" VD "$T/a.toml"
chmod 755 "$T/d"
expect_rc 0 "a 0755 directory is fine" VD "$T/a.toml"

# The revocation list gets the same check.
"$GX" revoke --trust "$T/trust.toml" --state "$T/st" -k "$T/alice.key" --id "sha256:$(printf x | sha256sum | cut -d' ' -f1)" >/dev/null 2>&1 || bad "revoke"
chmod 666 "$T/revocations.toml"
expect_denied revocation-list-invalid "0666 revocation list" V "$T/a.toml"
check "says writable" grep -q "revocations.toml is owned by uid $(id -u) with mode 0666" "$T/err"
chmod 644 "$T/revocations.toml"
expect_rc 0 "0644 list is fine" V "$T/a.toml"

if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  chown nobody "$T/trust.toml"
  expect_denied trust-store-invalid "trust store owned by nobody" V "$T/a.toml"
  check "says untrusted owner" grep -q "trust.toml is owned by uid $(id -u nobody) with mode 0644: untrusted owner" "$T/err"
  chown 0 "$T/trust.toml"
  chown nobody "$T/revocations.toml"
  expect_denied revocation-list-invalid "revocation list owned by nobody" V "$T/a.toml"
  chown 0 "$T/revocations.toml"
  chown nobody "$T/d"
  expect_denied trust-store-invalid "directory owned by nobody" VD "$T/a.toml"
  chown 0 "$T/d"
else
  echo "skip: chown to nobody needs root (uid $(id -u))"
fi
check "the command never ran" test ! -e "$T/marker"
finish
