#!/usr/bin/env bash
# Attack: an agent without a real channel points GX_CHANNEL at an fd it controls (its stdout, a number that is not open, a seqpacket socketpair it made itself) so that its inner gx run runs the tool unsupervised or unlogged.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/nested_env.bash"
cat >"$T/fake.py" <<PY
import os, socket, subprocess
def inner(env_value, fds=()):
    env = dict(os.environ, GX_CHANNEL=env_value)
    return subprocess.call(["$GX", "run", "$T/tool.toml", "--", "$MARK", "$W/ran"], env=env, pass_fds=list(fds))
print("stdout=%d" % inner("1"), flush=True)
print("closed=%d" % inner("77"), flush=True)
print("word=%d" % inner("three"), flush=True)
# A seqpacket pair of its own, nobody serving the other end.
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
b.close()
print("selfmade=%d" % inner(str(a.fileno()), [a.fileno()]), flush=True)
PY
# The agent's artifact allows no nested runs: it gets no channel, only its own fakes.
gx_init "$T/agent.toml" --max-uses 5 --max-depth 1 --delegate "$T/agent.pub" --delegate-exec "$MARK" --exec "$GX" \
  --read "$T" --write "$W" -- /usr/bin/python3 "$T/fake.py" || bad "init agent"
"$GX" sign -k "$T/alice.key" "$T/agent.toml" >/dev/null 2>&1 || bad "sign agent"
child_art tool agent agent --write "$W" -- "$MARK" "$W/ran"
expect_rc 0 "the agent ran to its end" R "$T/agent.toml" -- /usr/bin/python3 "$T/fake.py"
for case in stdout closed word selfmade; do
  check "GX_CHANNEL at $case: denied 126 ($(grep "$case=" "$T/out"))" grep -qx "$case=126" "$T/out"
done
check "every refusal is lineage-inconsistency naming GX_CHANNEL" \
  test "$(grep -c "gx: denied (lineage-inconsistency): GX_CHANNEL does not name a usable nested-run channel" "$T/err")" = 4
check "the tool never ran" test ! -e "$W/ran"
check "no receipt but the agent's own run" \
  test "$("$GX" log show --state "$S" --json | jq -r .artifact_digest | sort -u)" = "$(digest "$T/agent.toml")"
# Outside any sandbox a stray GX_CHANNEL is refused too, never ignored.
expect_denied lineage-inconsistency "a stray GX_CHANNEL outside a sandbox" env GX_CHANNEL=1 "$GX" run \
  "$T/tool.toml" -- "$MARK" "$W/ran"
check "the tool never ran" test ! -e "$W/ran"
finish
