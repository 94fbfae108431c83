#!/usr/bin/env bash
# Attack: a program whose ELF interpreter (PT_INTERP) names a different file in gx than in the child (/proc/self/cwd/..., relative) or a directory, so that gx's implicit execute grant for the loader lands on a tree the artifact never granted (review helper-38: a delegated tool read its parent's secrets this way).
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
if ! command -v cc >/dev/null; then
  echo "skip: no C compiler to build programs with a chosen PT_INTERP"
  finish
fi
printf 'int main(void) { return 0; }\n' >"$T/p.c"
mkdir -p "$T/secretdir"
for interp in /proc/self/cwd/ldso "$T/secretdir" "$T/x/../secretdir/ld.so"; do
  name=$(printf '%s' "$interp" | tr -c 'a-z0-9' _)
  cc -o "$T/bin/$name" "$T/p.c" "-Wl,--dynamic-linker=$interp" 2>"$T/cc.err" || { bad "cc $interp: $(cat "$T/cc.err")"; continue; }
  art "$name" --max-uses 5 --write "$W" -- "$T/bin/$name"
  expect_denied invalid-value "PT_INTERP $interp" R "$T/$name.toml" -- "$T/bin/$name"
  check "names the interpreter ($(head -c 300 "$T/err"))" grep -q "field exec.path = '$interp'" "$T/err"
done
# Control: the system's loader.
cc -o "$T/bin/plain" "$T/p.c" 2>"$T/cc.err" || bad "cc plain"
art plain --max-uses 5 --write "$W" -- "$T/bin/plain"
expect_rc 0 "control: a program with the system's loader runs" R "$T/plain.toml" -- "$T/bin/plain"
finish
