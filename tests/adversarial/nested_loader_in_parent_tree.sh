#!/usr/bin/env bash
# Attack: a delegate signs a tool whose ELF interpreter (PT_INTERP) lies in the agent's own write tree. The kernel opens the interpreter by name at exec time, so the still-running agent could change it between gx's check and that open and run code of its choice as the tool. gx now refuses an implicit execute grant inside a running parent's write trees (check_grants_within).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/nested_env.bash"
if ! command -v cc >/dev/null; then
  echo "# skip: no C compiler to build a program with a chosen PT_INTERP"
  finish
  exit
fi
LOADER=$(readelf -l /usr/bin/true 2>/dev/null | sed -n 's/.*interpreter: \(.*\)]/\1/p')
[ -n "$LOADER" ] || { echo "# skip: cannot read the system's ELF interpreter"; finish; exit; }
mkdir -p "$W/lib" "$W/out" "$T/tools"
cp "$(readlink -f "$LOADER")" "$W/lib/ld.so"
printf '#include <fcntl.h>\nint main(int c, char **v) { return c > 1 && open(v[1], O_CREAT | O_WRONLY, 0644) < 0; }\n' >"$T/p.c"
cc -o "$T/tools/tool" "$T/p.c" "-Wl,--dynamic-linker=$W/lib/ld.so" 2>"$T/cc.err" || bad "cc: $(cat "$T/cc.err")"
cc -o "$T/tools/plain" "$T/p.c" 2>"$T/cc.err" || bad "cc plain: $(cat "$T/cc.err")"

agent_art agent "for t in tool plain; do $GX run $T/\$t.toml -- $T/tools/\$t $W/out/\$t.ran; echo \$t=\$?; done" \
  --delegate-exec "$T/tools/tool" --delegate-exec "$T/tools/plain"
for t in tool plain; do
  child_art "$t" agent agent --write "$W/out" -- "$T/tools/$t" "$W/out/$t.ran"
done
run R "$T/agent.toml" -- /bin/bash -c "for t in tool plain; do $GX run $T/\$t.toml -- $T/tools/\$t $W/out/\$t.ran; echo \$t=\$?; done"
check "the agent ran (rc $RC, $(head -c 300 "$T/err"))" test "$RC" = 0
check "control: a tool with the system's loader runs ($(grep '^plain=' "$T/out"))" test -e "$W/out/plain.ran"
check "the tool with its loader in the agent's write tree is denied ($(grep '^tool=' "$T/out"))" grep -qx "tool=126" "$T/out"
check "it never ran" test ! -e "$W/out/tool.ran"
check "the denial names the interpreter ($(grep -o 'implicit_exec[^]]*' "$T/err" | head -1))" \
  grep -q "lineage-inconsistency.*lies in a tree the parent may write.*field implicit_exec\[0\] = '$W/lib/ld.so'" "$T/err"
finish
