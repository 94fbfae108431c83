#!/usr/bin/env bash
# Attack: an agent (nested runs on) flips a symlink at $W/l, inside its write tree, to a directory it cannot reach, while it asks again and again for nested tools whose read or write grant is $W/l, hoping the grant is checked while the link is absent (a planned path inside $W) and opened for its rule while it points outside; standalone and through gx broker.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/nested_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
# The secret lies outside everything the agent may read ($T).
SEC=$(mktemp -d /tmp/gx-secret.XXXXXX)
chmod 755 "$SEC"
trap 'stop_broker KILL; rm -rf "$T" "$SEC"' EXIT
echo TOPSECRET >"$SEC/secret.txt"
LIMIT=${GX_RACE_SECONDS:-2.5} # per race: four races, well under 20 s

# race_MODE.py: a forked copy of the agent flips $W/l between absent and a
# symlink to $SEC; the agent asks for the MODE tool until the time is up or
# one succeeds, and prints attempts= and wins=.
for mode in read write; do
  cat >"$T/race_$mode.py" <<PY
import os, signal, subprocess, time
W, SEC, T = "$W", "$SEC", "$T"
mode = "$mode"
link = W + "/l"
fd = int(os.environ["GX_CHANNEL"])
flipper = os.fork()
if flipper == 0:
    while True:
        try: os.symlink(SEC, link)
        except FileExistsError: pass
        try: os.unlink(link)
        except FileNotFoundError: pass
cmd = {"read": ["/bin/cat", SEC + "/secret.txt"], "write": ["$MARK", SEC + "/written"]}[mode]
attempts = wins = 0
deadline = time.monotonic() + $LIMIT
with open(W + "/leak", "ab") as leak, open(W + "/race-" + mode + ".err", "ab") as err:
    while time.monotonic() < deadline and attempts < 2000 and wins == 0:
        attempts += 1
        rc = subprocess.call(["$GX", "run", T + "/race_" + mode + ".toml", "--", *cmd], pass_fds=[fd], stdout=leak,
                             stderr=err)
        wins += rc == 0
os.kill(flipper, signal.SIGKILL)
os.waitpid(flipper, 0)
print("attempts=%d wins=%d" % (attempts, wins), flush=True)
PY
  agent_py_art "agent_$mode" "$T/race_$mode.py" --delegate-exec /bin/cat --group filesystem
done
child_art race_read agent_read agent --max-uses 5 --read "$W/l" -- /bin/cat "$SEC/secret.txt"
child_art race_write agent_write agent --max-uses 5 --write "$W/l" -- "$MARK" "$SEC/written"
check "the read tool's grant is the planned \$W/l" grep -qF "\"$W/l\"" "$T/race_read.toml"
check "the write tool's grant is the planned \$W/l" grep -qF "\"$W/l\"" "$T/race_write.toml"

# race RUNNER STATE MODE: one race, its result checked.
race() {
  local runner=$1 state=$2 mode=$3 line
  run "$runner" "$T/agent_$mode.toml" -- /usr/bin/python3 "$T/race_$mode.py"
  line=$(grep attempts= "$T/out")
  check "$runner $mode: the agent ran its race to the end (rc $RC, $line; $(head -c 300 "$T/err"))" test "$RC" = 0 -a -n "$line"
  check "$runner $mode: no attempt succeeded ($line)" grep -q "attempts=[1-9][0-9]* wins=0$" "$T/out"
  check "$runner $mode: the tool never read the secret" bash -c '! grep -q TOPSECRET "$1"' sh "$W/leak"
  check "$runner $mode: the tool never wrote beside it" test ! -e "$SEC/written"
  check "$runner $mode: no tool was authorized" test "$("$GX" log show --state "$state" --json |
    jq -r "select(.decision == \"authorized\" and .artifact_digest == \"$(digest "$T/race_$mode.toml")\") | .id")" = ""
  # How the attempts were refused (for the log; which one wins a round is the race's).
  echo "$runner $mode: $line; refusals: $(grep -c 'as its sandbox was built' "$W/race-$mode.err") on the opened grant," \
    "$(grep -c 'cannot open sandbox path' "$W/race-$mode.err") absent at open," \
    "$(grep -c 'depth 1): child is wider' "$W/race-$mode.err") at the lineage check"
  rm -f "$W/race-$mode.err"
}
race R "$S" read
race R "$S" write
expect_rc 0 "the receipt log verifies" "$GX" log verify --state "$S"

# The same through gx broker: the nested runs are served by a broker worker.
start_broker || finish
race B "$BS" read
race B "$BS" write
expect_rc 0 "the broker's receipt log verifies" "$GX" log verify --state "$BS"
stop_broker
finish
