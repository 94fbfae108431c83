# Attack: copy another state directory's uses.db into A where both receipts.log have the same inode number (each on its own fresh tmpfs), so the store's boot-id/inode binding matches and A's spent max-uses 1 artifact runs again.
# Two file systems are needed for the inode numbers to collide: as root the
# script re-runs itself in a private mount namespace and mounts two tmpfs.
# Unprivileged it skips: a user namespace could mount them, but there every
# ancestor directory is owned by the unmapped (overflow) uid, which gx
# rightly refuses for a state directory.
if [ "$(id -u)" = 0 ] && [ -z "${GX_IN_MNTNS:-}" ] && unshare -m --propagation private true 2>/dev/null; then
  GX_IN_MNTNS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"
if [ -z "${GX_IN_MNTNS:-}" ]; then
  echo "skip: mounting the two tmpfs whose logs share an inode number needs root (a private mount namespace)"
  finish
fi
A=$T/A B=$T/B
mkdir -p "$A" "$B"
mount -t tmpfs -o mode=0700 gx-a "$A" && mount -t tmpfs -o mode=0700 gx-b "$B" || {
  bad "cannot mount the two tmpfs"
  finish
}
S=$A
art once --max-uses 1 --write "$W" -- "$MARK" "$W/m"
art other --max-uses 9 -- /bin/true
# The first run in each state directory creates its files; on one CPU gx
# creates them in one order (with two, a side thread opens the log and the
# store beside the main thread, and the inode numbers vary).
one_cpu=$(taskset -pc $$ | sed 's/.*: //; s/[,-].*//')
expect_rc 0 "the one use, in state A" taskset -c "$one_cpu" "$GX" run --trust "$TR" --state "$A" "$T/once.toml" -- "$MARK" "$W/m"
has_marker "the one use, in state A"
expect_denied replay "the second use, in state A" R "$T/once.toml" -- "$MARK" "$W/m"
no_marker "the second use, in state A"
expect_rc 0 "another artifact, in state B" taskset -c "$one_cpu" "$GX" run --trust "$TR" --state "$B" "$T/other.toml" -- /bin/true
ino_a=$(stat -c %i "$A/receipts.log") ino_b=$(stat -c %i "$B/receipts.log")
check "precondition: both logs have inode number $ino_a (B: $ino_b)" test "$ino_a" = "$ino_b"
# B's store (which never saw the artifact) replaces A's: same boot, same inode number.
cp "$B/uses.db" "$B/uses.db-wal" "$A/" && rm -f "$A/uses.db-shm"
[ -e "$B/uses.db-shm" ] && cp "$B/uses.db-shm" "$A/"
expect_denied replay "dry run with B's store" \
  "$GX" run --dry-run --trust "$TR" --state "$A" "$T/once.toml" -- "$MARK" "$W/m"
expect_denied replay "run with B's store" R "$T/once.toml" -- "$MARK" "$W/m"
no_marker "run with B's store"
expect_rc 0 "A still runs what B's store knew nothing of" R "$T/other.toml" -- /bin/true
expect_rc 0 "A's log verifies" "$GX" log verify --state "$A"
umount "$A" "$B"
finish
