#!/usr/bin/env bash
# Attack: with exec = [], write a binary into the write tree and run it, directly and through the ELF loader.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
LDSO=/lib64/ld-linux-x86-64.so.2
[ -e "$LDSO" ] || { echo "skip: no $LDSO on this machine"; finish; }
cmd=("$H/try_write_exec" "$H/try_marker" "$W/prog" "$LDSO" "$W/m")
art selfwrite --write "$W" --read "$H" -- "${cmd[@]}"
run R "$T/selfwrite.toml" -- "${cmd[@]}"
check "the child wrote its program (rc $RC, err $(head -c 200 "$T/err"))" test -x "$W/prog"
check "both execs refused with EPERM (out '$(head -1 "$T/out")')" test "$(head -1 "$T/out")" = "EPERM EPERM"
check "the self-written program never ran" test ! -e "$W/m"
# Control: outside gx the same helper does run what it wrote.
rm -f "$W/prog"
"${cmd[@]}" >"$T/plain.out" 2>&1
check "control: unconfined, the written program runs ($(head -1 "$T/plain.out"))" test -e "$W/m"
finish
