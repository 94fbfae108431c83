#!/usr/bin/env bash
# An agent session under gx, its tool calls nested (README.md):
#   run.sh [WORKDIR]   (GX=path/to/gx, default: gx from PATH; as any user)
# Makes a person key (trusted) and an agent key (delegated), signs the agent's
# artifact (the person's) and one artifact per tool call (the agent key's,
# each a child of the agent's), runs the agent loop under gx run and prints
# the session's execution tree.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
GX=${GX:-$(command -v gx)}
PY=/usr/bin/python3
D=${1:-$(mktemp -d /tmp/gx-agent-session.XXXXXX)}
mkdir -p "$D"
D=$(cd "$D" && pwd)
mkdir -p "$D/keys" "$D/etc" "$D/state" "$D/approvals" "$D/work/notes"
cp "$HERE/agent.py" "$D/agent.py"
cd "$D/work"

# The project the agent works on.
printf 'buy milk\nTODO: call Bob\nfix the fence\nTODO: file taxes\n' >notes/home.txt
printf 'TODO: review PR 42\nship 1.0\n' >notes/work.txt

# Keys: the person is trusted on this machine; the agent's key is not, it can
# only sign children of the person's artifact.
"$GX" keygen -o "$D/keys/person" >/dev/null 2>&1
"$GX" keygen -o "$D/keys/agent" >/dev/null 2>&1
"$GX" trust add "$D/keys/person.pub" --name person --trust "$D/etc/trust.toml" >/dev/null 2>&1

# The tasks the agent is given: tool calls, one JSON a line. "direct" is the agent
# trying to run a program itself, past gx; "rm" is a tool the person never delegated.
N=$D/work/notes
cat >"$D/tasks.jsonl" <<JSON
{"id": "list", "tool": "ls", "argv": ["/usr/bin/ls", "$N"]}
{"id": "todos", "tool": "grep", "argv": ["/usr/bin/grep", "-rh", "TODO", "$N"]}
{"id": "count", "tool": "wc", "argv": ["/usr/bin/wc", "-l", "$N/home.txt", "$N/work.txt"]}
{"id": "digest", "tool": "sha256sum", "argv": ["/usr/bin/sha256sum", "$N/work.txt"]}
{"id": "direct", "tool": "direct", "argv": ["/usr/bin/id"]}
{"id": "cleanup", "tool": "rm", "argv": ["/usr/bin/rm", "-f", "$N/work.txt"]}
JSON

# The person's artifact for the agent's session: python3 agent.py, which may
# execute gx and nothing else, ask for nested runs (GX_CHANNEL), and have
# children signed by the agent key that run ls, grep, wc or sha256sum inside
# the notes, reading only.
AGENT=("$PY" "$D/agent.py" "$GX" "$D/tasks.jsonl" "$D/approvals")
"$GX" init -f -o "$D/agent.toml" --ttl 1h --max-uses 1 --nested-runs --delegate "$D/keys/agent.pub" \
  --delegate-exec /usr/bin/ls --delegate-exec /usr/bin/grep --delegate-exec /usr/bin/wc \
  --delegate-exec /usr/bin/sha256sum --exec "$GX" --read "$D" --read "$N" \
  --reason "agent session: summarize my notes" -- "${AGENT[@]}" 2>/dev/null
"$GX" sign -k "$D/keys/person.key" "$D/agent.toml" >/dev/null 2>&1

# One artifact per tool call, signed with the agent's key as a child of the
# agent's artifact (gx init --parent pre-fills it within the agent's bounds).
approve() { # ID ARGV...
  local id=$1
  shift
  "$GX" init -f -o "$D/approvals/$id.toml" --parent "$D/agent.toml" --read "$N" -- "$@" 2>/dev/null
  "$GX" sign -k "$D/keys/agent.key" "$D/approvals/$id.toml" >/dev/null 2>&1
}
approve list /usr/bin/ls "$N"
approve todos /usr/bin/grep -rh TODO "$N"
approve count /usr/bin/wc -l "$N/home.txt" "$N/work.txt"
approve digest /usr/bin/sha256sum "$N/work.txt"
# Signed by the agent key, but for a program the person never delegated: the
# supervisor refuses it (lineage-inconsistency) and records the denial in the tree.
approve cleanup /usr/bin/rm -f "$N/work.txt"

echo "== the session (one JSON result per task)"
"$GX" run --trust "$D/etc/trust.toml" --state "$D/state" "$D/agent.toml" -- "${AGENT[@]}" 2>"$D/session.err"
echo "== gx log tree"
"$GX" log tree --state "$D/state"
echo "== gx log verify"
"$GX" log verify --state "$D/state"
