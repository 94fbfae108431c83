# Shared by the nested-run tests (tests/cli/nested.sh, tests/adversarial/nested_*.sh):
# an agent key and a tool key (neither trusted), and artifacts for an agent
# whose tool calls are nested runs over its channel. Source after
# lib/common.bash and lib/run_env.bash.
MARK=$H/try_marker  # creates the file it is given: the proof a command ran
"$GX" keygen -o "$T/agent" >"$T/agent.id" 2>/dev/null || bad "keygen agent"
"$GX" keygen -o "$T/tool" >"$T/tool.id" 2>/dev/null || bad "keygen tool"
mkfifo "$W/fifo"
# nap: a 0.1 s pause with no exec (a bash builtin reading a FIFO nobody writes),
# for agent scripts whose sandbox may exec gx and nothing else.
NAP="read -t 0.1 <>$W/fifo"
digest() { echo "sha256:$(sed '/^\[\[signature\]\]$/,$d' "$1" | sha256sum | cut -d' ' -f1)"; }

# agent_art NAME SCRIPT [INIT FLAGS...]: the agent's artifact, signed by alice (the
# person): /bin/bash -c SCRIPT, nested runs allowed two levels deep, children
# signed by the agent key and running /bin/sh or the marker; the agent itself may
# execute gx and nothing else, read $T and write $W.
agent_art() {
  local name=$1 script=$2
  shift 2
  gx_init "$T/$name.toml" --max-uses 20 --nested-runs --max-depth 2 --delegate "$T/agent.pub" \
    --delegate-exec /bin/sh --delegate-exec /bin/cat --delegate-exec "$MARK" --delegate-exec "$H/try_sigwait" --exec "$GX" --read "$T" --write "$W" "$@" \
    -- /bin/bash -c "$script" || { bad "init $name: $(cat "$T/init.err")"; return 1; }
  "$GX" sign -k "$T/alice.key" "$T/$name.toml" >/dev/null 2>&1 || bad "sign $name"
}

# child_art NAME PARENT KEY [INIT FLAGS...] -- CMD...: a child of $T/PARENT.toml,
# pre-filled within it, signed by $T/KEY.key.
child_art() {
  local name=$1 parent=$2 key=$3
  shift 3
  gx_init "$T/$name.toml" --parent "$T/$parent.toml" "$@" || { bad "init $name: $(cat "$T/init.err")"; return 1; }
  "$GX" sign -k "$T/$key.key" "$T/$name.toml" >/dev/null 2>&1 || bad "sign $name"
}

# receipt_of STATE JQ-FILTER: the first receipt (JSON) of STATE matching the filter.
receipt_of() { "$GX" log show --state "$1" --json 2>/dev/null | jq -c "select($2)" | head -n 1; }

# agent_py_art NAME SCRIPT.py [INIT FLAGS...]: like agent_art, for a python3 agent
# (/usr/bin/python3 SCRIPT.py).
agent_py_art() {
  local name=$1 script=$2
  shift 2
  gx_init "$T/$name.toml" --max-uses 20 --nested-runs --max-depth 2 --delegate "$T/agent.pub" \
    --delegate-exec "$MARK" --exec "$GX" --read "$T" --write "$W" "$@" \
    -- /usr/bin/python3 "$script" || { bad "init $name: $(cat "$T/init.err")"; return 1; }
  "$GX" sign -k "$T/alice.key" "$T/$name.toml" >/dev/null 2>&1 || bad "sign $name"
}
