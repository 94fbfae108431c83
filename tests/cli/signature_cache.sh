#!/usr/bin/env bash
# The signature cache (lib/signature_cache.h): an unchanged artifact is not
# ECDSA-verified again, but every change of what it was checked against --
# the artifact's bytes, the trust store, a revocation -- takes effect on the
# very next run. For each denial, the marker the command would make is absent.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/run_env.bash"

art touch --max-uses 100 --write "$W" -- "$H/try_marker" "$W/marker"
expect_rc 0 "first run verifies in full and records the signature" R "$T/touch.toml" -- "$H/try_marker" "$W/marker"
check "the cache holds one tag" test "$(stat -c %s "$S/signatures.cache")" = 32
check "its secret is private" test "$(stat -c %a "$S/signatures.key")" = 600
rm -f "$W/marker"
expect_rc 0 "second run (cached signature) runs" R "$T/touch.toml" -- "$H/try_marker" "$W/marker"
check "the second run ran" test -e "$W/marker"
check "a cached signature adds no tag" test "$(stat -c %s "$S/signatures.cache")" = 32
rm -f "$W/marker"

# A changed byte of the signed body is another body: verified in full, refused.
sed 's/max_uses = 100/max_uses = 101/' "$T/touch.toml" >"$T/altered.toml"
expect_denied invalid-signature "altered body after caching" R "$T/altered.toml" -- "$H/try_marker" "$W/marker"
check "altered: the command never ran" test ! -e "$W/marker"

# The trust store is read afresh: a key removed after caching counts for nothing.
cp "$TR" "$T/tr/trust.saved"
"$GX" trust remove "$(cat "$T/alice.id")" --trust "$TR" >/dev/null 2>&1 || bad "trust remove"
expect_denied untrusted-key "key removed from the trust store after caching" R "$T/touch.toml" -- "$H/try_marker" "$W/marker"
check "untrusted: the command never ran" test ! -e "$W/marker"
cp "$T/tr/trust.saved" "$TR"
expect_rc 0 "trusted again: runs" R "$T/touch.toml" -- "$H/try_marker" "$W/marker"
rm -f "$W/marker"

# A revocation list signed after caching: the artifact, then the key.
"$GX" revoke "$T/touch.toml" -k "$T/alice.key" --reason test --trust "$TR" --state "$S" >/dev/null 2>"$T/rev.err" ||
  bad "revoke artifact: $(cat "$T/rev.err")"
expect_denied revoked "artifact revoked after caching" R "$T/touch.toml" -- "$H/try_marker" "$W/marker"
check "revoked: the command never ran" test ! -e "$W/marker"

# Garbage in the cache (not a whole number of tags, or tags under another
# secret) is ignored, never trusted: the signature is verified in full.
art other --max-uses 5 --write "$W" -- "$H/try_marker" "$W/other"
head -c 33 /dev/urandom >"$S/signatures.cache"
expect_rc 0 "a torn cache is ignored" R "$T/other.toml" -- "$H/try_marker" "$W/other"
check "torn cache started over with one tag" test "$(stat -c %s "$S/signatures.cache")" = 32

# Dry runs read the cache but never create it.
mkdir -m 700 "$T/fresh"
expect_rc 0 "dry run on a fresh state" "$GX" run --dry-run --trust "$TR" --state "$T/fresh" "$T/other.toml" -- "$H/try_marker" "$W/other"
check "dry run made no secret" test ! -e "$T/fresh/signatures.key"
finish
