#!/usr/bin/env bash
# Attack: with exec = [], start another program through the implicitly granted ELF loader (ld.so PROG).
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
LDSO=/lib64/ld-linux-x86-64.so.2
[ -e "$LDSO" ] || { echo "skip: no $LDSO on this machine"; finish; }
cmd=("$H/try_exec" "$LDSO" "$H/try_marker" "$W/m")
art ldso --write "$W" --read "$H" -- "${cmd[@]}"
check "the artifact grants no exec path" grep -qx 'exec = \[\]' "$T/ldso.toml"
run R "$T/ldso.toml" -- "${cmd[@]}"
check "execve of the loader refused with EPERM (rc $RC, out '$(head -1 "$T/out")', err $(head -c 200 "$T/err"))" \
  test "$RC" = 1 -a "$(head -1 "$T/out")" = EPERM
check "the program behind the loader never ran" test ! -e "$W/m"
check "the run is recorded as finished, exit 1" \
  test "$("$GX" log show --state "$S" --json --tail 1 | jq -r '.decision + " " + (.exit_code|tostring)')" = "finished 1"
# Control: the same trick works when the artifact grants exec paths (the
# documented caveat), and the marker program can run at all.
art ldso_granted --write "$W" --read "$H" --exec "$H" -- "$H/try_exec" "$H/try_marker" "$W/m"
run R "$T/ldso_granted.toml" -- "$H/try_exec" "$H/try_marker" "$W/m"
check "control: with an exec grant the marker program runs (rc $RC)" test "$RC" = 0 -a -e "$W/m"
finish
