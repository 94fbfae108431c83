#!/usr/bin/env bash
# Attack: make gx run a changed program under a cached digest (rewrite it keeping its mtime, stuff the digest cache with foreign tags, or write the cache from inside the sandbox).
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"

# gx runs a program in place, with a cached digest, only when root alone
# can modify it (lib/executable.h): as another user, only parts 3 and 4 apply.
ROOT=$([ "$(id -u)" = 0 ] && echo 1)
[ -n "$ROOT" ] || echo "SKIP parts 1-2 (in-place execution and its cache): not root, no root-owned program to run"
P=$T/bin/prog
cp "$H/try_marker" "$P"
chmod 755 "$P"
[ -z "$ROOT" ] || sleep 2.1  # past the racy window (lib/digest_cache.h): the stamp may be cached
art prog --max-uses 20 --write "$W" -- "$P" "$W/m"
in_place() { jq -r '.exec_image.in_place' "$T/rep.json"; }
cached() { jq -r '.exec_image.digest_cached' "$T/rep.json"; }

if [ -n "$ROOT" ]; then
expect_rc 0 "first run hashes the root-only program" R --report "$T/rep.json" "$T/prog.toml" -- "$P" "$W/m"
check "it ran from its own file" test "$(in_place)" = true
check "its digest was recorded (one tag)" test "$(stat -c %s "$S/digests.cache")" = 32
rm -f "$W/m"
expect_rc 0 "second run uses the cached digest" R --report "$T/rep.json" "$T/prog.toml" -- "$P" "$W/m"
check "the second run took the digest from the cache" test "$(cached)" = true
check "the second run ran" test -e "$W/m"
rm -f "$W/m"

# 1. Rewrite the program (other bytes, same size) and restore its mtime:
#    the ctime moved, so the stamp is new and the file is hashed again.
cp "$P" "$T/prog.saved"
printf 'X' | dd of="$P" bs=1 seek=200 conv=notrunc status=none
touch -d "@$(stat -c %Y "$T/prog.saved")" "$P"
check "the mtime is the old one" test "$(stat -c %Y "$P")" = "$(stat -c %Y "$T/prog.saved")"
expect_denied digest-mismatch "rewritten program with its mtime restored" R "$T/prog.toml" -- "$P" "$W/m"
check "rewritten: the command never ran" test ! -e "$W/m"

# 2. Tags from another state directory (another secret) that cached the
#    changed program, plus random bytes: none matches here.
S2=$T/state2
art prog2 --max-uses 5 --write "$W" -- "$P" "$W/m2"
sleep 2.1
"$GX" run --trust "$TR" --state "$S2" "$T/prog2.toml" -- "$P" "$W/m2" >/dev/null 2>&1 || bad "run in the second state"
"$GX" run --trust "$TR" --state "$S2" "$T/prog2.toml" -- "$P" "$W/m2" >/dev/null 2>&1 || bad "second run in the second state"
cat "$S2/digests.cache" >>"$S/digests.cache"
head -c 64 /dev/urandom >>"$S/digests.cache"
expect_denied digest-mismatch "changed program with a stuffed digest cache" R "$T/prog.toml" -- "$P" "$W/m"
check "stuffed cache: the command never ran" test ! -e "$W/m"
fi

# 3. A governed child granted write around the state directory cannot write
#    the cache (the state directory is never writable from the sandbox).
[ -z "$ROOT" ] || cp "$T/prog.saved" "$P"
art wr --max-uses 2 --write "$T" -- "$H/try_write" "$S/digests.cache"
run R "$T/wr.toml" -- "$H/try_write" "$S/digests.cache"
check "the child's write to the digest cache failed (exit $RC: $(cat "$T/out"))" grep -qx EACCES "$T/out"

# 4. A program others may write is never executed in place (nor cached).
chmod o+w "$P"
rm -f "$W/m"
expect_rc 0 "an other-writable program still runs, as a sealed copy" R --report "$T/rep.json" "$T/prog.toml" -- "$P" "$W/m"
check "it was copied, not executed in place" test "$(in_place)" = false
if [ -n "$ROOT" ]; then
  check "the copy's reason names the writable file" grep -q "writable by group or others" <(jq -r '.exec_image.copy_reason' "$T/rep.json")
else
  check "the copy's reason names the owner" grep -q "owned by uid $(id -u)" <(jq -r '.exec_image.copy_reason' "$T/rep.json")
fi
finish
