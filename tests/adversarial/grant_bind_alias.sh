#!/usr/bin/env bash
# Attack: grants on bind-mount aliases, which compare as unrelated path strings but reach the same inodes (where Landlock rules attach): a write grant on an alias of gx's state directory and of the trust store's directory (the child edits receipts.log and trust.toml, reads the receipt key), and a write grant on a directory whose alias is an exec grant (the child writes a program and runs it).
if [ "$(id -u)" != 0 ]; then
  echo "skip: bind mounts need root (this test makes its own in a private mount namespace)"
  echo "0 passed, 0 failed"
  exit 0
fi
# Its own mount namespace (hermetic.sh gives one too): the mounts vanish with it.
if [ -z "${GX_ALIAS_NS:-}" ]; then
  GX_ALIAS_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"

art control --max-uses 5 --write "$W" -- /bin/sh -c 'echo ran >"$1"' sh "$W/m"
run R "$T/control.toml" -- /bin/sh -c 'echo ran >"$1"' sh "$W/m"
has_marker() { test -e "$W/m"; }
check "control: a plain run runs and makes the state (rc $RC, $(head -c 200 "$T/err"))" has_marker
check "receipt key exists" test -s "$S/receipt.key"
rm -f "$W/m"
cp "$S/receipts.log" "$T/receipts.before"
cp "$TR" "$T/trust.before"

# 1. Aliases of the state directory and of the trust store's directory.
mkdir -p "$T/salias" "$T/talias"
mount --bind "$S" "$T/salias" && mount --bind "$(dirname "$TR")" "$T/talias" || bad "bind mounts"
check "the alias shows the receipt key" test -s "$T/salias/receipt.key"
EDIT='read -r k <"$1/receipt.key"; echo "$k" >"$3"; echo garbage >>"$1/receipts.log"; echo "# child" >>"$2/trust.toml"'
art state_alias --max-uses 5 --write "$T/salias" --write "$T/talias" --write "$W" -- \
  /bin/sh -c "$EDIT" sh "$T/salias" "$T/talias" "$W/m"
expect_denied policy-mismatch "write grant on an alias of the state directory" \
  R "$T/state_alias.toml" -- /bin/sh -c "$EDIT" sh "$T/salias" "$T/talias" "$W/m"
check "names the field and gx's path ($(head -c 300 "$T/err"))" \
  grep -q "field sandbox.write\[[0-9]*\] = '$T/salias'" "$T/err"
check "says it is through another mount" grep -q "through another mount" "$T/err"
check "the child never ran: no key read" test ! -e "$W/m"
check "trust store untouched" cmp -s "$TR" "$T/trust.before"
check "receipt log only grew by the denial" cmp -s "$T/receipts.before" <(head -c "$(stat -c %s "$T/receipts.before")" "$S/receipts.log")
check "receipt log verifies" "$GX" log verify --state "$S"

# The trust store's alias alone is refused too.
art trust_alias --max-uses 5 --write "$T/talias" --write "$W" -- /bin/sh -c "$EDIT" sh "$T/salias" "$T/talias" "$W/m"
expect_denied policy-mismatch "write grant on an alias of the trust store's directory" \
  R "$T/trust_alias.toml" -- /bin/sh -c "$EDIT" sh "$T/salias" "$T/talias" "$W/m"
check "names the trust store's alias ($(head -c 300 "$T/err"))" grep -q "field sandbox.write\[[0-9]*\] = '$T/talias'" "$T/err"
check "trust store untouched (2)" cmp -s "$TR" "$T/trust.before"

# Attacks 2 and 3 use a state directory of their own: each stands alone
# (on a gx without the check, attack 1 has corrupted $S).
S2=$T/s2
R2() { "$GX" run --trust "$TR" --state "$S2" "$@"; }
run R2 "$T/control.toml" -- /bin/sh -c 'echo ran >"$1"' sh "$W/m"
check "control: a second state directory is made" test -s "$S2/receipt.key"
rm -f "$W/m"

# 2. Write on bw, execute on bx, one directory: the child writes a program and runs it.
mkdir -p "$T/bw" "$T/bx"
mount --bind "$T/bw" "$T/bx" || bad "bind mount bw on bx"
LDSO=/lib64/ld-linux-x86-64.so.2
cmd=("$H/try_write_exec" "$H/try_marker" "$T/bw/prog" "$LDSO" "$W/m")
art wx_alias --max-uses 5 --write "$T/bw" --write "$W" --read "$H" --exec "$T/bx" -- "${cmd[@]}"
expect_denied policy-mismatch "exec grant on an alias of a write grant" R2 "$T/wx_alias.toml" -- "${cmd[@]}"
check "names the exec field ($(head -c 300 "$T/err"))" grep -qF "field sandbox.exec[0] = '$T/bx'" "$T/err"
check "the overlap is found in the file system" grep -q "overlaps write grant $T/bw .*through another mount" "$T/err"
check "nothing was written or run" test ! -e "$T/bw/prog" -a ! -e "$W/m"

# 3. The state directory mounted INSIDE a write grant: expanded around, the
# rest of the grant stays writable, the state does not.
mkdir -p "$T/data/inner" "$T/data/other"
mount --bind "$S2" "$T/data/inner" || bad "bind mount of the state inside a grant"
INSIDE='echo ok >"$1/other/f"; echo garbage >>"$1/inner/receipts.log" || echo refused >"$2"'
art inside --max-uses 5 --write "$T/data" --write "$W" -- /bin/sh -c "$INSIDE" sh "$T/data" "$W/m"
run R2 "$T/inside.toml" -- /bin/sh -c "$INSIDE" sh "$T/data" "$W/m"
check "ran, the rest of the grant writable (rc $RC, $(head -c 300 "$T/err"))" test -s "$T/data/other/f"
check "the state's mount was left out of the grant" grep -qx refused "$W/m"
check "receipt log verifies (3)" "$GX" log verify --state "$S2"
check "no line of the child's in the log" bash -c '! grep -qx garbage "$1"' sh "$S2/receipts.log"
umount "$T/salias" "$T/talias" "$T/bx" "$T/data/inner" # before common.bash removes $T
finish
