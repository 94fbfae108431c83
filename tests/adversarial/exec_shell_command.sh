#!/usr/bin/env bash
# Attack: with exec = [], the governed shell runs other programs (sh -c "prog; ld.so prog").
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
LDSO=/lib64/ld-linux-x86-64.so.2
script="$H/try_marker $W/m1; $LDSO $H/try_marker $W/m2; $LDSO /usr/bin/id > $W/id.out"
art shc --write "$W" --read "$H" -- /bin/sh -c "$script"
run R "$T/shc.toml" -- /bin/sh -c "$script"
check "the shell itself ran and reported the refusals (rc $RC, err $(head -c 300 "$T/err"))" \
  grep -qi "not permitted" "$T/err"
check "the direct program never ran" test ! -e "$W/m1"
check "the loader-started program never ran" test ! -e "$W/m2"
check "id never ran" test ! -s "$W/id.out"
# Control: with the helpers' directory granted for exec, the shell runs it.
art shc_ok --write "$W" --read "$H" --exec "$H" -- /bin/sh -c "$H/try_marker $W/m1"
run R "$T/shc_ok.toml" -- /bin/sh -c "$H/try_marker $W/m1"
check "control: exec grant lets the shell run the marker (rc $RC)" test -e "$W/m1"
finish
