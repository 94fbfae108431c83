#!/usr/bin/env bash
# "Read my home": --read / and --read/--write $HOME contain gx's own state and
# trust store; gx expands the grant around them, so everything else stays
# reachable and gx's files do not (issue 10 item 2).
source "$(dirname "$0")/lib/corpus.bash"
H=$T/uh                               # a home with gx's XDG paths inside
HS=$H/.local/state/gx HT=$H/.config/gx/trust.toml
mkdir -p "$H/docs" "$H/.config/gx" "$H/.local/share"
echo "my notes" >"$H/docs/notes.txt"
"$GX" trust add "$T/k/alice.pub" --name alice --trust "$HT" >/dev/null 2>&1 || bad "trust add (home)"
# Probe with shell builtins only: every line says ok or denied.
PROBE='for f in "$@"; do case $f in
  w:*) f=${f#w:}; if (echo x >>"$f") 2>/dev/null; then echo "write $f ok"; else echo "write $f denied"; fi ;;
  *) if (read -r l <"$f") 2>/dev/null; then echo "read $f ok"; else echo "read $f denied"; fi ;;
esac; done'
TARGETS=("$H/docs/notes.txt" "w:$H/docs/new.txt" "$HS/receipt.key" "$HS/uses.db" "$HT" "w:$HS/uses.db" "w:$HT" "w:$HS/planted")
R() { "$GX" run --trust "$HT" --state "$HS" "$@"; }
art() {  # art NAME INIT-FLAGS... : signed artifact for the probe
  local name=$1
  shift
  (cd "$H" && "$GX" init -o "$T/$name.toml" --max-uses 5 "$@" -- /bin/sh -c "$PROBE" sh "${TARGETS[@]}") >/dev/null 2>&1 ||
    bad "init $name"
  "$GX" sign -k "$T/k/alice.key" "$T/$name.toml" >/dev/null 2>&1 || bad "sign $name"
}
cd "$H" || exit 1
# A first run creates the state (receipt key, use store) inside the home.
art warmup
(cd "$H" && R "$T/warmup.toml" -- /bin/sh -c "$PROBE" sh "${TARGETS[@]}") >/dev/null 2>&1
check "state created inside the home" test -s "$HS/receipt.key" -a -s "$HS/uses.db"
key_before=$(sha256sum <"$HS/receipt.key")
db_size=$(stat -c %s "$HS/uses.db")

expect_protected() {  # expect_protected DESC: gx's files unreachable, the rest as granted
  for f in "$HS/receipt.key" "$HS/uses.db" "$HT"; do
    check "$1: read $f denied" grep -qx "read $f denied" "$T/out"
  done
  for f in "$HS/uses.db" "$HT" "$HS/planted"; do
    check "$1: write $f denied" grep -qx "write $f denied" "$T/out"
  done
  check "$1: receipt key unchanged" test "$(sha256sum <"$HS/receipt.key")" = "$key_before"
  check "$1: nothing planted in the state" test ! -e "$HS/planted"
}

n=0
for grant in "--read /" "--read $H" "--write $H" "--read / --write $H"; do
  name=g$((++n))
  # shellcheck disable=SC2086 # the grant is two words on purpose
  art "$name" $grant
  run R "$T/$name.toml" -- /bin/sh -c "$PROBE" sh "${TARGETS[@]}"
  check "$grant: runs (exit $RC, $(head -c 300 "$T/err"))" test "$RC" = 0
  check "$grant: reads the home" grep -qx "read $H/docs/notes.txt ok" "$T/out"
  if [[ $grant == *--write* ]]; then
    check "$grant: writes the home" grep -qx "write $H/docs/new.txt ok" "$T/out"
  else
    check "$grant: cannot write" grep -qx "write $H/docs/new.txt denied" "$T/out"
  fi
  expect_protected "$grant"
done
check "use store not written by the child (only grew by gx's own uses)" test "$(stat -c %s "$HS/uses.db")" -ge "$db_size"

# The expansion is shown: --dry-run --json, and the receipt.
run R --dry-run --json "$T/g2.toml" -- /bin/sh -c "$PROBE" sh "${TARGETS[@]}"
check "dry-run JSON lists the expansion" \
  test "$(jq -r '.sandbox.landlock.expanded[0] | .grant + " " + (.excluded | join(","))' "$T/out")" = "$H $H/.config/gx,$H/.local/state/gx"
check "dry-run JSON lists what was granted instead" \
  test "$(jq -r '.sandbox.landlock.expanded[0].granted | index("'"$H"'/docs")' "$T/out")" != null
check "the receipt records the expansion" \
  bash -c "grep -q '\"expanded\"' '$HS/receipts.log' && \"$GX\" log verify --state '$HS' >/dev/null 2>&1"

# A grant inside gx's state is still refused outright (nothing runs).
art inside --write "$HS"
run R "$T/inside.toml" -- /bin/sh -c "$PROBE" sh "${TARGETS[@]}"
check "write grant equal to the state dir: denied (policy-mismatch)" grep -q "denied (policy-mismatch)" "$T/err"
check "...and the probe never ran" test ! -s "$T/out"
finish
