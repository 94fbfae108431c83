# Attack: change a pinned [[file]] after gx checked its digest, while the command runs, so the command reads content the approver never saw.
# A check-then-use gap on a path cannot be closed by checking better, so gx
# accepts a pin only for a file that nobody but root can change during the
# run (gx-artifact(5), docs/security.md): anything else is refused with
# environmental-integrity before anything runs, and the command never runs.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
MARK=$H/try_marker
no_marker() { if [ -e "$W/m" ]; then bad "$1: the command ran"; rm -f "$W/m"; else ok; fi; }
denied() { # CODE DESC CMD...: denied with CODE, and the marker absent
  local code=$1 desc=$2
  shift 2
  expect_denied "$code" "$desc" "$@"
  no_marker "$desc"
}
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1
# pinart NAME FILE [INIT FLAGS...]: an artifact pinning FILE with any owner,
# made by pinning a root-only file and editing path and digest before signing
# (gx init itself refuses unpinnable files, tested below).
pinart() {
  local name=$1 file=$2
  shift 2
  local digest
  digest=$(sha256sum <"$file" | cut -d' ' -f1)
  art_edit "$name" "s|^path = \"/etc/passwd\"\$|path = \"$file\"|; /^\[\[file\]\]/,/^sha256/s|^sha256 = .*|sha256 = \"$digest\"|" \
    --max-uses 10 --pin /etc/passwd --write "$W" "$@" -- "$MARK" "$W/m"
  grep -q "^path = \"$file\"\$" "$T/$name.toml" || bad "$name: pin path not edited"
}

# --- control: a file only root can change is pinnable and the command runs ---
root_only() { [ "$(stat -c '%u' "$1")" = 0 ] && [ $((0$(stat -c '%a' "$1") & 022)) = 0 ]; }
if root_only / && root_only /etc && root_only /etc/passwd; then
  art ctl --max-uses 10 --pin /etc/passwd --write "$W" -- "$MARK" "$W/m"
  expect_rc 0 "root-only pin: runs" R "$T/ctl.toml" -- "$MARK" "$W/m"
  if [ -e "$W/m" ]; then ok; rm -f "$W/m"; else bad "root-only pin: the command did not run"; fi
else
  echo "SKIP: /etc/passwd is not root-only on this machine; no pinnable control file"
  finish
fi

# --- the caller's own file: the caller could swap it mid-run ---
if [ "$ROOT" = 0 ]; then
  echo v1 >"$T/mine.conf"
  expect_denied environmental-integrity "gx init refuses to pin the caller's own file" \
    "$GX" init -f -o "$T/x.toml" --pin "$T/mine.conf" --write "$W" -- "$MARK" "$W/m"
  check "the refusal names the owner" grep -q "owned by uid $(id -u)" "$T/err"
  pinart mine "$T/mine.conf"
  denied environmental-integrity "gx run refuses a pin on the caller's own file" R "$T/mine.toml" -- "$MARK" "$W/m"
  check "the denial names file[0].path" grep -q 'field file\[0\].path' "$T/err"
else
  # As root, the same holds for a file any other user owns or can write.
  echo v1 >"$T/nobody.conf"
  chown 65534 "$T/nobody.conf"
  pinart nobody "$T/nobody.conf"
  denied environmental-integrity "a pin on another user's file" R "$T/nobody.toml" -- "$MARK" "$W/m"
  echo v1 >"$T/world.conf"
  chmod 666 "$T/world.conf"
  pinart world "$T/world.conf"
  denied environmental-integrity "a pin on a world-writable file" R "$T/world.toml" -- "$MARK" "$W/m"
  mkdir "$T/gw" && chmod 775 "$T/gw" && echo v1 >"$T/gw/dep.conf"
  pinart gw "$T/gw/dep.conf"
  denied environmental-integrity "a pin in a group-writable directory" R "$T/gw.toml" -- "$MARK" "$W/m"
  check "the denial names the directory" grep -q "directory $T/gw is writable" "$T/err"
  # Root-owned, root-only: pinnable, and another user cannot change it.
  echo v1 >"$T/dep.conf"
  art root --max-uses 10 --pin "$T/dep.conf" --write "$W" -- "$MARK" "$W/m"
  expect_rc 0 "root-only file in a root-owned sticky tree: runs" R "$T/root.toml" -- "$MARK" "$W/m"
  rm -f "$W/m"
  if command -v setpriv >/dev/null; then
    refute "another user cannot change the pinned file" \
      setpriv --reuid 65534 --regid 65534 --clear-groups sh -c "echo v2 > '$T/dep.conf'" 2>/dev/null
    check "it still holds v1" grep -qx v1 "$T/dep.conf"
  fi
  # The command itself must not be able to change it: a write grant over it.
  mkdir -p "$W/cfg" && echo v1 >"$W/cfg/dep.conf"
  art_edit inw "s|^write = \[.*|write = [\"$W\"]|" --max-uses 10 --pin "$W/cfg/dep.conf" --write "$W" -- "$MARK" "$W/m"
  denied environmental-integrity "a pin inside the artifact's own write grant" R "$T/inw.toml" -- "$MARK" "$W/m"
  check "the denial names sandbox.write" grep -q "field sandbox.write" "$T/err"
fi

# --- a symlink on the way could be re-pointed: the real path must be pinned ---
ln -s /etc/passwd "$T/passwd-link"
pinart link "$T/passwd-link"
denied environmental-integrity "a pin through a symbolic link" R "$T/link.toml" -- "$MARK" "$W/m"
check "the denial names the real path" grep -q "pin its real path /etc/passwd" "$T/err"

# --- a write grant that contains the pinned file (any user) ---
art_edit grant 's|^write = \[.*|write = ["/etc/passwd"]|' --max-uses 10 --pin /etc/passwd --write "$W" -- "$MARK" "$W/m"
check "write grant edited" grep -q '^write = \["/etc/passwd"\]' "$T/grant.toml"
denied environmental-integrity "a pin the command may write" R "$T/grant.toml" -- "$MARK" "$W/m"
finish
