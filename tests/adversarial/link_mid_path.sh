#!/usr/bin/env bash
# Attack: a directory symlink in the MIDDLE of the path of gx's own files (--trust $T/a/cfg/trust.toml with cfg -> real, --state $T/a/sl/state with sl -> real): gx protected where the path resolved, not the link entry, so a command with a write grant on $T/a re-pointed the link at a trust store or state directory of its own (review helper-38). Also StrictModes for links owned by someone else.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"

# The attacker's trust store: mallory's key only.
"$GX" keygen -o "$T/mallory" >/dev/null 2>&1 || bad "keygen mallory"
mkdir -p "$T/evil"
"$GX" trust add "$T/mallory.pub" --name mallory --trust "$T/evil/trust.toml" >/dev/null 2>&1 || bad "trust add mallory"

# 1. The trust store reached through a link in the middle of its path.
mkdir -p "$T/a/sub" "$T/real"
cp "$TR" "$T/real/trust.toml"
ln -s "$T/real" "$T/a/cfg"
RA() { "$GX" run --trust "$T/a/cfg/trust.toml" --state "$S" "$@"; }
# The swap: the link replaced by a directory of the child's own (no symlink
# needed), holding the attacker's trust store or an empty state directory.
SWAP='import os, shutil, sys
src, link, mark, inside = sys.argv[1:5]
try:
    os.unlink(link)
    os.mkdir(link, 0o700)
    if src != "-":
        shutil.copy(src, link + "/trust.toml")
except OSError as e:
    print("swap:", e, file=sys.stderr)
open(inside, "w").write("in")
open(mark, "w").write("ran")'
PY=/usr/bin/python3
art swap --max-uses 5 --group filesystem --read "$T/evil" --write "$T/a" --write "$W" -- $PY -c "$SWAP" "$T/evil/trust.toml" "$T/a/cfg" "$W/m" "$T/a/sub/x"
run RA "$T/swap.toml" -- $PY -c "$SWAP" "$T/evil/trust.toml" "$T/a/cfg" "$W/m" "$T/a/sub/x"
check "a write grant on the directory holding the link runs (rc $RC, $(head -c 300 "$T/err"))" test -e "$W/m"
check "the link was not replaced ($(ls -ld "$T/a/cfg"))" test -L "$T/a/cfg" -a "$(readlink "$T/a/cfg")" = "$T/real"
check "the rest of the granted directory stays writable (expanded around the link)" test -s "$T/a/sub/x"
rm -f "$W/m"
"$GX" init -f -o "$T/mal.toml" --max-uses 5 --write "$W" -- /bin/sh -c 'echo ran >"$1"' sh "$W/m2" >/dev/null 2>&1 &&
  "$GX" sign -k "$T/mallory.key" "$T/mal.toml" >/dev/null 2>&1 || bad "sign mal"
expect_denied untrusted-key "mallory's artifact against the trust store through the link" \
  RA "$T/mal.toml" -- /bin/sh -c 'echo ran >"$1"' sh "$W/m2"
check "mallory's command never ran" test ! -e "$W/m2"

# 2. The state directory reached through a link in the middle: a one-use
#    artifact that replaces the link would run again on a fresh state.
mkdir -p "$T/b" "$T/realstate"
chmod 700 "$T/realstate"
ln -s "$T/realstate" "$T/b/sl"
RB() { "$GX" run --trust "$TR" --state "$T/b/sl/state" "$@"; }
art once --max-uses 1 --group filesystem --write "$T/b" --write "$W" -- $PY -c "$SWAP" - "$T/b/sl" "$W/m" "$W/x"
run RB "$T/once.toml" -- $PY -c "$SWAP" - "$T/b/sl" "$W/m" "$W/x"
check "the one-use artifact ran once (rc $RC, $(head -c 300 "$T/err"))" test -e "$W/m"
rm -f "$W/m"
check "the state link was not replaced ($(ls -ld "$T/b/sl"))" test -L "$T/b/sl"
expect_denied replay "the one-use artifact again, state through the same link" \
  RB "$T/once.toml" -- $PY -c "$SWAP" - "$T/b/sl" "$W/m" "$W/x"
check "it never ran a second time" test ! -e "$W/m"

# 3. A read grant over the link's directory is not narrowed (reading a link
#    changes nothing).
LS='for f in "$1"/*; do echo "${f##*/}"; done >"$2"'
art reader --max-uses 5 --read "$T/a" --write "$W" -- /bin/sh -c "$LS" sh "$T/a" "$W/m"
run RA "$T/reader.toml" -- /bin/sh -c "$LS" sh "$T/a" "$W/m"
check "a read grant over the link's directory lists it (rc $RC, $(head -c 300 "$T/err"))" grep -qx cfg "$W/m"
rm -f "$W/m"

# 3b. ".." after a link, as the kernel takes it (review helper-39): gx used
#     to load <lnk's target>/../cfg but protect the lexical $T/a2/cfg.
mkdir -p "$T/a2" "$T/deep/x" "$T/deep/cfg"
cp "$TR" "$T/deep/cfg/trust.toml"
ln -s "$T/deep/x" "$T/a2/lnk"
OVW='import shutil, sys
try:
    shutil.copy(sys.argv[1], sys.argv[2])
except OSError as e:
    print("overwrite:", e, file=sys.stderr)
open(sys.argv[3], "w").write("ran")'
RD() { "$GX" run --trust "$T/a2/lnk/../cfg/trust.toml" --state "$S" "$@"; }
art ovw --max-uses 5 --group filesystem --read "$T/evil" --write "$T/deep" --write "$W" -- $PY -c "$OVW" "$T/evil/trust.toml" "$T/deep/cfg/trust.toml" "$W/m"
run RD "$T/ovw.toml" -- $PY -c "$OVW" "$T/evil/trust.toml" "$T/deep/cfg/trust.toml" "$W/m"
check "the trust store reached through '..' after a link was not rewritten (rc $RC, $(head -c 200 "$T/err"))" \
  cmp -s "$TR" "$T/deep/cfg/trust.toml"
rm -f "$W/m"
expect_denied untrusted-key "mallory's artifact against that trust store" \
  RD "$T/mal.toml" -- /bin/sh -c 'echo ran >"$1"' sh "$W/m2"
check "mallory's command never ran ('..')" test ! -e "$W/m2"

# 4. StrictModes: a link on the way owned by someone else could be re-pointed
#    by its owner (in a sticky directory, too). Needs root to give it away.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  mkdir -p "$T/c" && ln -s "$T/real" "$T/c/cfg" && chown -h nobody "$T/c/cfg"
  art ctl --max-uses 5 --write "$W" -- /bin/sh -c 'echo ran >"$1"' sh "$W/m"
  expect_denied trust-store-invalid "a trust store through a link another user owns" \
    "$GX" run --trust "$T/c/cfg/trust.toml" --state "$S" "$T/ctl.toml" -- /bin/sh -c 'echo ran >"$1"' sh "$W/m"
  check "names the link and its owner ($(head -c 300 "$T/err"))" grep -q "symbolic link $T/c/cfg .*owned by uid" "$T/err"
  check "the command never ran" test ! -e "$W/m"
  mkdir -p "$T/d" && ln -s "$T/realstate" "$T/d/sl" && chown -h nobody "$T/d/sl"
  expect_refused state-unavailable "symbolic link $T/d/sl" "a state directory through a link another user owns" \
    "$GX" run --trust "$TR" --state "$T/d/sl/state" "$T/ctl.toml" -- /bin/sh -c 'echo ran >"$1"' sh "$W/m"
  check "the command never ran (state)" test ! -e "$W/m"
else
  echo "# skip: part 4 needs root to give a link to another user (uid $(id -u))"
fi
# 5. The same directory reached through a bind mount: rules go on inodes,
#    so the grant on the alias is expanded around the link too. Needs root
#    (the suite runs each test in a mount namespace of its own).
mkdir -p "$T/alias"
if [ "$(id -u)" = 0 ] && mount --bind "$T/a" "$T/alias" 2>/dev/null; then
  art via_alias --max-uses 5 --group filesystem --read "$T/evil" --write "$T/alias" --write "$W" -- \
    $PY -c "$SWAP" "$T/evil/trust.toml" "$T/alias/cfg" "$W/m" "$T/alias/sub/y"
  run RA "$T/via_alias.toml" -- $PY -c "$SWAP" "$T/evil/trust.toml" "$T/alias/cfg" "$W/m" "$T/alias/sub/y"
  check "a write grant on a bind mount of the link's directory runs (rc $RC, $(head -c 300 "$T/err"))" test -e "$W/m"
  check "the link was not replaced through the alias ($(ls -ld "$T/a/cfg"))" test -L "$T/a/cfg"
  check "the alias stays writable around it" test -s "$T/a/sub/y"
  rm -f "$W/m"
  umount "$T/alias"
else
  echo "# skip: part 5 needs root and a bind mount (uid $(id -u))"
fi
finish
