#!/usr/bin/env bash
# Attack: under a wide grant (--write "$T", which contains gx's state), reach the state anyway: through a symlink planted beside it, by renaming the state dir away, or by creating a file in an expanded directory.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
ln -s "$S" "$T/link-to-state"
ATTACK='
(read -r l <"$1/link-to-state/receipt.key") 2>/dev/null && echo "read key via link"
(echo x >>"$1/link-to-state/uses.db") 2>/dev/null && echo "wrote uses.db via link"
mv "$1/state" "$1/moved-state" 2>/dev/null && echo "renamed the state"
(echo x >"$1/planted") 2>/dev/null && echo "created in an expanded dir"
(echo x >"$1/w/allowed") 2>/dev/null && echo "control: wrote beside it"
exit 0'
art wide --max-uses 3 --write "$T" --exec /usr/bin/mv -- /bin/sh -c "$ATTACK" sh "$T"
R "$T/wide.toml" -- /bin/sh -c "$ATTACK" sh "$T" >/dev/null 2>&1  # creates the state (receipt key, uses.db)
check "state exists" test -s "$S/receipt.key" -a -s "$S/uses.db"
key=$(sha256sum <"$S/receipt.key")
run R "$T/wide.toml" -- /bin/sh -c "$ATTACK" sh "$T"
check "the run went ahead (exit $RC, $(head -c 200 "$T/err"))" test "$RC" = 0
check "control: the expanded grant still writes beside the state" grep -qx "control: wrote beside it" "$T/out"
check "control file exists" test -e "$T/w/allowed"
refute "no read of the receipt key through a symlink" grep -q "read key" "$T/out"
refute "no write to the use store through a symlink" grep -q "wrote uses.db" "$T/out"
refute "state dir not renamed" grep -q "renamed the state" "$T/out"
check "state dir still in place" test -d "$S" -a ! -e "$T/moved-state"
refute "nothing created directly in an expanded directory" grep -q "created in an expanded dir" "$T/out"
check "no planted file" test ! -e "$T/planted"
check "receipt key unchanged" test "$(sha256sum <"$S/receipt.key")" = "$key"
check "receipt log verifies" "$GX" log verify --state "$S"
finish
