#!/usr/bin/env bash
# Attack: a FIFO in place of the artifact makes gx verify/run/sign/revoke block forever on open.
source "$(dirname "$0")/../cli/lib/common.bash"
mkkey alice
mkfifo "$T/art.toml"
for cmd in "verify --trust $T/trust.toml --state $T/st $T/art.toml" \
           "run --trust $T/trust.toml --state $T/st $T/art.toml -- /bin/touch $T/marker" \
           "sign -k $T/alice.key $T/art.toml" \
           "revoke --trust $T/trust.toml --state $T/st -k $T/alice.key $T/art.toml"; do
  # shellcheck disable=SC2086
  run timeout 10 "$GX" $cmd
  if [ "$RC" = 124 ]; then bad "gx $cmd hung on a FIFO"; continue; fi
  if [ "$RC" = 125 ] || [ "$RC" = 126 ]; then ok; else bad "gx $cmd: exit $RC, wanted 125/126"; fi
  check "gx ${cmd%% *}: says the artifact is a fifo" grep -q "art.toml is a fifo, not a regular file" "$T/err"
done
check "the command never ran" test ! -e "$T/marker"
check "no revocation list was written" test ! -e "$T/revocations.toml"
finish
