# Attack: symlinks around --state: one in an ancestor must work (resolved once), one inside (uses.db, receipts.log) or a swappable ancestor must be refused.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"
art many --max-uses 20 --write "$W" -- "$MARK" "$W/m"
mkdir -m 755 "$T/real" && ln -s "$T/real" "$T/link"
L=$T/link/state
expect_rc 0 "symlinked ancestor of --state" "$GX" run --trust "$TR" --state "$L" "$T/many.toml" -- "$MARK" "$W/m"
has_marker "symlinked ancestor of --state"
check "the state landed in the resolved directory" test -s "$T/real/state/receipts.log"
expect_rc 0 "gx log verify through the link" "$GX" log verify --state "$L"
expect_rc 0 "gx state show through the link" "$GX" state show --state "$L"

mkdir -m 700 "$T/s2" && ln -s "$T/elsewhere.db" "$T/s2/uses.db"
expect_refused state-unavailable "symlink" "symlinked uses.db" "$GX" run --trust "$TR" --state "$T/s2" "$T/many.toml" -- "$MARK" "$W/m"
no_marker "symlinked uses.db"
check "the link target was not created" test ! -e "$T/elsewhere.db"
mkdir -m 700 "$T/s3" && ln -s "$T/elsewhere.log" "$T/s3/receipts.log"
expect_refused log-unavailable "symlink" "symlinked receipts.log" "$GX" run --trust "$TR" --state "$T/s3" "$T/many.toml" -- "$MARK" "$W/m"
no_marker "symlinked receipts.log"
check "the log link target was not created" test ! -e "$T/elsewhere.log"

# An ancestor others can write (no sticky bit) lets them swap the directory.
mkdir -m 755 "$T/open" && chmod 777 "$T/open"
expect_refused state-unavailable "writable by group or others" "group/other-writable ancestor" "$GX" run --trust "$TR" --state "$T/open/state" "$T/many.toml" -- "$MARK" "$W/m"
no_marker "group/other-writable ancestor"
chmod 1777 "$T/open"
expect_rc 0 "a sticky world-writable ancestor (like /tmp) is fine" "$GX" run --trust "$TR" --state "$T/open/state" "$T/many.toml" -- "$MARK" "$W/m"
has_marker "a sticky world-writable ancestor (like /tmp) is fine"
finish
