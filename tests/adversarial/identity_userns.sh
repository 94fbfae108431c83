#!/usr/bin/env bash
# Attack: an unprivileged caller fakes the runtime identity in its own user namespace (unshare -U -r -u -m, hostname prod-db1, bind-mounted machine-id, mapped uid) to run an artifact bound to another host.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
FAKE_HOST=prod-db1
FAKE_ID=0123456789abcdef0123456789abcdef
# As root, attack as nobody (the realistic attacker); otherwise as ourselves.
as_attacker=()
if [ "$(id -u)" = 0 ]; then
  command -v setpriv >/dev/null || { echo "skip: no setpriv to drop root"; finish; }
  as_attacker=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
if ! "${as_attacker[@]}" unshare -U -r -u -m true 2>/dev/null; then
  echo "skip: unprivileged user namespaces are disabled here ($("${as_attacker[@]}" unshare -U -r -u -m true 2>&1 | head -c 200))"
  finish
fi
body_bind() { # NAME BINDINGS-TOML: artifact for the marker, with these bindings
  gx_init "$T/$1.toml" --no-bind-host --no-bind-user --write "$T/ns" -- "$H/try_marker" "$T/ns/m" || bad "init $1"
  printf '%b' "$2" >>"$T/$1.toml"
  "$GX" sign -k "$T/alice.key" "$T/$1.toml" >/dev/null 2>&1 || bad "sign $1"
}
mkdir -p "$T/ns" && chmod 777 "$T/ns"
"${as_attacker[@]}" mkdir "$T/ns/state"  # the attacker's own state directory
echo "$FAKE_ID" >"$T/ns/machine-id"
chmod 644 "$T"/*.toml "$TR" 2>/dev/null
chmod 755 "$T/tr"
body_bind bound "[bindings]\nhostname = \"$FAKE_HOST\"\nmachine_id = \"$FAKE_ID\"\nuid = 0\n"
body_bind free ""
chmod 644 "$T/bound.toml" "$T/free.toml"
inside() { # CMD...: runs CMD as the attacker inside a fresh user/UTS/mount namespace with the faked identity
  "${as_attacker[@]}" unshare -U -r -u -m sh -c \
    "hostname $FAKE_HOST && mount --bind $T/ns/machine-id /etc/machine-id && cd $T/ns && exec \"\$@\"" sh "$@"
}
inside sh -c 'echo "$(hostname) $(cat /etc/machine-id) $(id -u)"' >"$T/seen" 2>&1
check "the namespace shows the faked identity ($(cat "$T/seen"))" grep -qx "$FAKE_HOST $FAKE_ID 0" "$T/seen"
# Two layers refuse here. Inside `unshare -U -r` every directory owned by an
# unmapped uid (the real root's /, /tmp) shows as the overflow uid, so the trust
# store's owner check (StrictModes) already refuses it, fail-closed; where it is
# passed, the identity check refuses (tests/verify_test.cc proves that layer on
# its own: "runtime identity ... user namespace"). Either way: denied, and the
# bound command never runs.
denied_here() {
  test "$RC" = 126 && grep -qE "gx: denied \((runtime-identity|trust-store-invalid)\)" "$T/err" &&
    { ! grep -q "runtime-identity" "$T/err" || grep -q "user namespace" "$T/err"; }
}
run inside "$GX" verify --trust "$TR" --state "$T/ns/state" "$T/bound.toml"
check "gx verify refuses (rc $RC, err $(head -c 300 "$T/err"))" denied_here
run inside "$GX" run --trust "$TR" --state "$T/ns/state" "$T/bound.toml" -- "$H/try_marker" "$T/ns/m"
check "gx run refuses (rc $RC, err $(head -c 300 "$T/err"))" denied_here
check "the bound command never ran" test ! -e "$T/ns/m"
finish
