#!/usr/bin/env bash
# Attack: a grant path that leads, through /proc/<pid>/root of a process in another mount namespace, to gx's receipt key: there $M/a is a bind mount of the state directory, here $M/a is a symlink to it, so the kernel's name for the opened grant ("$M/a/receipt.key") reaches the key here only through that link and, compared as a string, is not inside the state directory.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"
M=$T/m
mkdir -p "$M"
art control --max-uses 5 --write "$W" -- /bin/sh -c 'echo ran >"$1"' sh "$W/m"
R "$T/control.toml" -- /bin/sh -c 'echo ran >"$1"' sh "$W/m" >/dev/null 2>&1 # creates the state
has_marker "control: the state is made and a plain run runs"
check "receipt key exists" test -s "$S/receipt.key"
ln -s "$S" "$M/a"

# The other namespace: unprivileged, a user namespace of its own as well.
ns=(unshare -m --propagation private)
[ "$(id -u)" = 0 ] || ns=(unshare -U -r -m --propagation private)
"${ns[@]}" sh -c 'mount -t tmpfs tmpfs "$1" && mkdir "$1/a" && mount --bind "$2" "$1/a" && touch "$3" && exec sleep 60' \
  sh "$M" "$S" "$T/ns-ready" 2>"$T/ns.err" &
NS=$!
for _ in $(seq 100); do [ -e "$T/ns-ready" ] && break; sleep 0.05; done
if [ ! -e "$T/ns-ready" ] || [ ! -e "/proc/$NS/root$M/a/receipt.key" ]; then
  kill "$NS" 2>/dev/null
  echo "skip: no mount namespace with a bind mount here ($(head -c 200 "$T/ns.err"))"
  finish
fi
ln -s "/proc/$NS/root$M/a/receipt.key" "$T/input"

ATTACK='read -r l <"$1" && echo "leaked: $l" >"$2"'
art leak --max-uses 5 --read "$T/input" --write "$W" -- /bin/sh -c "$ATTACK" sh "$S/receipt.key" "$W/m"
run R "$T/leak.toml" -- /bin/sh -c "$ATTACK" sh "$S/receipt.key" "$W/m"
kill "$NS" 2>/dev/null
wait "$NS" 2>/dev/null
check "refused, naming the grant (exit $RC, $(head -c 300 "$T/err"))" \
  grep -qF "cannot resolve opened sandbox path $T/input" "$T/err"
check "refused with gx's error exit (exit $RC)" test "$RC" = 125
no_marker "the command never ran, so read no key"
check "receipt log verifies" "$GX" log verify --state "$S"
finish
