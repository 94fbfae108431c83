#!/usr/bin/env bash
# Attack: an agent (nested runs on) whose artifact reads $W/data and writes $W/sub, both inside its own write tree $W, replaces them with symlinks to a directory it cannot reach, then asks for nested tools that read and write that directory, hoping the parent's trees are resolved again (to the symlinks' target) when the tools are checked.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/nested_env.bash"
# The secret lies outside everything the agent may read ($T).
SEC=$(mktemp -d /tmp/gx-secret.XXXXXX)
chmod 755 "$SEC"
trap 'rm -rf "$T" "$SEC"' EXIT
echo TOPSECRET >"$SEC/secret.txt"
mkdir -p "$W/data" "$W/sub"

cat >"$T/agent.py" <<PY
import os, shutil, subprocess
W, SEC, T = "$W", "$SEC", "$T"
try:
    open(SEC + "/secret.txt").read()
    print("agent-read=ok", flush=True)
except OSError as e:
    print("agent-read=%d" % e.errno, flush=True)
# Its own trees, inside its write tree: swapped for symlinks to the secret.
for d in ("data", "sub"):
    shutil.rmtree(W + "/" + d)
    os.symlink(SEC, W + "/" + d)
fd = int(os.environ["GX_CHANNEL"])
def tool(name, *cmd, out=None):
    rc = subprocess.call(["$GX", "run", T + "/" + name + ".toml", "--", *cmd], pass_fds=[fd], stdout=out)
    print("%s=%d" % (name, rc), flush=True)
with open(W + "/leak", "w") as leak:
    tool("reader", "/bin/cat", SEC + "/secret.txt", out=leak)
with open(W + "/leak2", "w") as leak:
    tool("byname", "/bin/cat", W + "/data/secret.txt", out=leak)
tool("writer", "$MARK", SEC + "/written")
PY
agent_py_art agent "$T/agent.py" --read "$W/data" --write "$W/sub" --delegate-exec /bin/cat --group filesystem
check "the agent reads \$W/data inside its own write tree" grep -qF "\"$W/data\"" "$T/agent.toml"
PARENT=$(digest "$T/agent.toml")
# The tools name the agent's run as parent; they are not pre-filled (that would
# drop the secret directory): gx verify --parent refuses them.
tool_art() {
  local name=$1
  shift
  gx_init "$T/$name.toml" --parent "$PARENT" --ttl 10m "$@" || { bad "init $name: $(cat "$T/init.err")"; return 1; }
  "$GX" sign -k "$T/agent.key" "$T/$name.toml" >/dev/null 2>&1 || bad "sign $name"
}
tool_art reader --read "$SEC" -- /bin/cat "$SEC/secret.txt"
tool_art byname --read "$W/data" -- /bin/cat "$W/data/secret.txt"
tool_art writer --write "$SEC" -- "$MARK" "$SEC/written"
expect_denied lineage-inconsistency "before the run, the reader is wider than the agent" \
  "$GX" verify --trust "$TR" --parent "$T/agent.toml" "$T/reader.toml"
check "...in its read grant of the secret ($(head -c 300 "$T/err"))" grep -qF "field sandbox.read" "$T/err"
expect_denied lineage-inconsistency "before the run, the writer is wider than the agent" \
  "$GX" verify --trust "$TR" --parent "$T/agent.toml" "$T/writer.toml"

expect_rc 0 "the agent ran to its end" R "$T/agent.toml" -- /usr/bin/python3 "$T/agent.py"
check "the agent itself cannot read the secret ($(grep agent-read= "$T/out"))" bash -c '! grep -qx agent-read=ok "$1"' sh "$T/out"
check "the symlinks were made" test -L "$W/data" -a -L "$W/sub"
for tool in reader byname writer; do
  check "the $tool is denied: 126 ($(grep "^$tool=" "$T/out"))" grep -qx "$tool=126" "$T/out"
done
check "as lineage-inconsistency, naming the read grant of the secret" \
  grep -qF "gx: denied (lineage-inconsistency): link $(digest "$T/reader.toml") (depth 1): child is wider than its parent in sandbox.read" "$T/err"
check "the grant by the agent's own name is judged by where it leads now" \
  grep -qF "$W/data (as $(realpath "$SEC"))" "$T/err"
check "the write grant of the secret is refused too" \
  grep -qF "link $(digest "$T/writer.toml") (depth 1): child is wider than its parent in sandbox.write" "$T/err"
check "no tool read the secret" bash -c '! grep -q TOPSECRET "$1" "$2"' sh "$W/leak" "$W/leak2"
check "no tool wrote beside it" test ! -e "$SEC/written"
denials=$("$GX" log show --state "$S" --json | jq -r 'select(.decision == "denied") | .reason' | sort | uniq -c | awk '{print $1, $2}')
check "three denied receipts, lineage-inconsistency ($denials)" test "$denials" = "3 lineage-inconsistency"
check "no tool was authorized" \
  test "$("$GX" log show --state "$S" --json | jq -r 'select(.decision == "authorized") | .artifact_digest' | sort -u)" = "$PARENT"
expect_rc 0 "the receipt log verifies" "$GX" log verify --state "$S"
finish
