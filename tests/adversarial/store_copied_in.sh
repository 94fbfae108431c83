# Attack: copy another state directory's uses.db (same boot, so its boot id matches) beside a log whose max-uses 1 artifact is spent, to run that artifact again.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"
art once --max-uses 1 --write "$W" -- "$MARK" "$W/m"
art other --max-uses 9 --write "$W" -- /bin/true
expect_rc 0 "the one use, in state A" R "$T/once.toml" -- "$MARK" "$W/m"
has_marker "the one use, in state A"
expect_rc 0 "another artifact, in state B" "$GX" run --trust "$TR" --state "$T/B" "$T/other.toml" -- /bin/true
cp -a "$S" "$T/A.good"
# B's store (which never saw the artifact) replaces A's; its boot id is this boot's.
cp "$T/B/uses.db" "$T/B/uses.db-wal" "$S/" && rm -f "$S/uses.db-shm"
expect_denied replay "dry run with a store from another state directory" \
  "$GX" run --dry-run --trust "$TR" --state "$S" "$T/once.toml" -- "$MARK" "$W/m"
expect_denied replay "run with a store from another state directory" R "$T/once.toml" -- "$MARK" "$W/m"
no_marker "run with a store from another state directory"
expect_rc 0 "the copied store still runs what it knew nothing of" R "$T/other.toml" -- /bin/true
# A whole state directory copied (log and store together: new inodes, same boot) keeps its counts.
rm -rf "$T/A2" && cp -a "$T/A.good" "$T/A2"
expect_denied replay "a copied state directory still counts the use" \
  "$GX" run --trust "$TR" --state "$T/A2" "$T/once.toml" -- "$MARK" "$W/m"
no_marker "a copied state directory still counts the use"
expect_rc 0 "a copied state directory runs other artifacts" "$GX" run --trust "$TR" --state "$T/A2" "$T/other.toml" -- /bin/true
finish
