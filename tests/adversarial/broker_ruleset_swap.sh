#!/usr/bin/env bash
# Attack: a broker worker keeps its last Landlock ruleset for its next request (lib/ruleset_cache.h).
# Between two requests to the same worker, the caller replaces a directory its artifact may read
# (rename the old one away, make a new one at the same path), or swaps it for a symlink to a
# directory the artifact does not name, hoping the next run gets the old rules (on the old inode)
# or reads through the link with the new ones.
# Expected: the worker's next request sees exactly what a fresh build sees: the new directory is
# readable, the renamed-away one is not, and through a symlink the rule is on the link's target,
# as a standalone run (which always builds afresh) puts it.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
D=$T/data
mkdir -p "$D" "$T/elsewhere"
echo one >"$D/f"
echo secret >"$T/elsewhere/f"
start_broker || finish
# The command names its worker (its parent), reads the granted file and then the one renamed away.
# (Shell builtins only: the artifact lets the shell start no other program.)
CMD='echo "$PPID"; read -r l <'"$D/f"' && echo "$l"; read -r l <'"$T/was/f"' && echo "$l"; exit 0'
art rd --max-uses 20 --read "$D" -- /bin/sh -c "$CMD"
expect_rc 0 "control: the command runs" B "$T/rd.toml" -- /bin/sh -c "$CMD"
# The receipt key and the log were just made: a worker reloads state whose stamps are younger
# than 2 s (lib/broker_state.h), and a worker that reloaded is not reused. Let them age, and let
# the spare made meanwhile (which loaded them young) serve one request and go.
racy_window_passed
B "$T/rd.toml" -- /bin/sh -c "$CMD" >/dev/null 2>&1
worker_settle
B --report "$T/r1.json" "$T/rd.toml" -- /bin/sh -c "$CMD" >"$T/o1" 2>"$T/e1"
worker_settle
B --report "$T/r2.json" "$T/rd.toml" -- /bin/sh -c "$CMD" >"$T/o2" 2>"$T/e2"
reused() { jq -e '.sandbox.landlock.notes | any(test("ruleset was the broker worker.s last one"))' "$1" >/dev/null; }
check "two runs read the granted file: $(cat "$T/o1" "$T/e1")" test "$(sed -n 2p "$T/o1")" = one -a "$(sed -n 2p "$T/o2")" = one
w1=$(sed -n 1p "$T/o1")
if [ "$w1" != "$(sed -n 1p "$T/o2")" ]; then
  bad "the two runs had different workers ($w1, $(sed -n 1p "$T/o2")): the kept ruleset was never in play"
fi
check "the second run's report says its ruleset was the worker's kept one" reused "$T/r2.json"

# Replaced: the old directory moved away, a new one made at its name.
mv "$D" "$T/was"
mkdir "$D"
echo two >"$D/f"
worker_settle
B --report "$T/r3.json" "$T/rd.toml" -- /bin/sh -c "$CMD" >"$T/o3" 2>"$T/e3"
refute "after the swap the ruleset was built afresh (its report says so)" reused "$T/r3.json"
check "same worker: $(cat "$T/o3")" test "$(sed -n 1p "$T/o3")" = "$w1"
check "the new directory is read: $(cat "$T/o3" "$T/e3")" test "$(sed -n 2p "$T/o3")" = two
check "the one renamed away is not (the old rules are gone): $(cat "$T/e3")" grep -q 'was/f: Permission denied' "$T/e3"
refute "nothing of the old directory was printed" grep -qx one "$T/o3"

# Swapped for a symlink to a directory never named: the grant's rule goes where a fresh build
# puts it (on the link's target, as for any granted path that is a link): the worker's run reads
# exactly what a standalone run, which builds its ruleset afresh, reads.
rm -rf "$D"
ln -s "$T/elsewhere" "$D"
worker_settle
B "$T/rd.toml" -- /bin/sh -c "$CMD" >"$T/o4" 2>"$T/e4"
R "$T/rd.toml" -- /bin/sh -c "$CMD" >"$T/o5" 2>"$T/e5"
check "same worker: $(cat "$T/o4")" test "$(sed -n 1p "$T/o4")" = "$w1"
check "the worker's run reads what a fresh build lets it read: $(cat "$T/o4" "$T/e4") / $(cat "$T/o5" "$T/e5")" \
  test "$(sed -n 2p "$T/o4")" = "$(sed -n 2p "$T/o5")" -a "$(sed -n 2p "$T/o5")" = secret
expect_rc 0 "the log verifies" "$GX" log verify --state "$BS"
stop_broker
finish
