#!/usr/bin/env bash
# Attack: poison the signature cache (write a "verified" tag, or steal its secret to forge one) so a later gx run accepts an artifact whose signature does not verify.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"

art ok --max-uses 10 --write "$W" -- "$H/try_marker" "$W/ok"
expect_rc 0 "a legitimate run fills the cache" R "$T/ok.toml" -- "$H/try_marker" "$W/ok"
cp "$S/signatures.cache" "$T/cache.before"

# 1. A governed child granted write on the whole tree around the state
#    directory cannot append to the cache (Landlock expands the grant around
#    gx's state), nor read the secret with a read grant covering it.
art wr --max-uses 2 --write "$T" -- "$H/try_write" "$S/signatures.cache"
run R "$T/wr.toml" -- "$H/try_write" "$S/signatures.cache"
check "the child's write to the cache failed (exit $RC: $(cat "$T/out"))" test "$RC" = 1
check "the child saw EACCES" grep -qx EACCES "$T/out"
# gx itself added the wr artifact's tag; the child's "x\n" is nowhere.
check "the cache holds only whole tags" test $(($(stat -c %s "$S/signatures.cache") % 32)) = 0
check "the cache still starts with what gx wrote" cmp -s -n 32 "$S/signatures.cache" "$T/cache.before"
art rd --max-uses 2 --read "$T" -- "$H/try_read" "$S/signatures.key"
run R "$T/rd.toml" -- "$H/try_read" "$S/signatures.key"
check "the child could not read the secret (exit $RC: $(cat "$T/out"))" grep -qx EACCES "$T/out"

# 2. Someone without the secret appends tags (random, and each tag of the
#    cache as it was) and hands gx an altered artifact: no tag matches it,
#    so its signature is verified in full and refused.
sed 's/max_uses = 10/max_uses = 1000/' "$T/ok.toml" >"$T/forged.toml"
for _ in 1 2 3 4; do head -c 32 /dev/urandom >>"$S/signatures.cache"; done
cat "$T/cache.before" >>"$S/signatures.cache"
rm -f "$W/ok"
expect_denied invalid-signature "altered artifact with a stuffed cache" R "$T/forged.toml" -- "$H/try_marker" "$W/ok"
check "the forged run never ran" test ! -e "$W/ok"

# 3. A secret the attacker chose (a symlink to their file, or a readable
#    file) disables the cache instead of being used.
mv "$S/signatures.key" "$T/secret.saved"
head -c 32 /dev/zero >"$T/attacker.key"
chmod 600 "$T/attacker.key"
ln -s "$T/attacker.key" "$S/signatures.key"
expect_denied invalid-signature "altered artifact with a symlinked secret" R "$T/forged.toml" -- "$H/try_marker" "$W/ok"
check "the command never ran" test ! -e "$W/ok"
finish
