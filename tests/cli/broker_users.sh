#!/usr/bin/env bash
# gx broker as root, asked by other users: an unprivileged user (gxtest) cannot
# read or write the broker's state nor choose it; its command runs as itself
# (no capabilities) unless the artifact names a user; uid bindings are checked
# against the kernel's word for the caller, also from inside the caller's own
# user namespace; one use is one use across different clients; a user the
# allow lists do not name is refused, recorded, and nothing runs.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib/common.bash"
source "$HERE/lib/run_env.bash"
source "$HERE/lib/broker_env.bash"
if [ "$(id -u)" != 0 ]; then
  echo "skip: these tests switch users and start a root broker (running as uid $(id -u)); tests/cli/broker.sh covers a broker of one's own"
  finish
fi
id gxtest >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin gxtest ||
  { bad "cannot create user gxtest"; finish; }
command -v runuser >/dev/null || { bad "runuser is missing"; finish; }
U=$(id -u gxtest)
UG=$(id -g gxtest)
NOBODY=$(id -u nobody)
NOBODY_GID=$(id -g nobody)
C=$H/try_creds
ZERO=0000000000000000
NOCAPS="caps $ZERO $ZERO $ZERO $ZERO $ZERO"
as_user() { local u=$1; shift; runuser -u "$u" -- "$@"; }
chmod 777 "$W"  # the governed commands of other users write markers here
no_marker() {
  if [ -e "${2:-$W/m}" ]; then bad "$1: the command ran (marker exists)"; rm -f "${2:-$W/m}"; else ok; fi
}

start_broker --allow-user gxtest || finish

# --- the unprivileged user cannot read, write or choose the broker's state ---
art ctl --no-bind-user --max-uses 100 --write "$W" -- "$H/try_marker" "$W/m"
expect_rc 0 "gxtest runs through the broker" as_user gxtest "$GX" run --broker "$SOCK" "$T/ctl.toml" -- "$H/try_marker" "$W/m"
check "its command ran" test -e "$W/m"
rm -f "$W/m"
check "the broker's state is private" test "$(stat -c '%u %a' "$BS")" = "0 700"
refute "gxtest cannot list the state" as_user gxtest ls "$BS"
refute "gxtest cannot read the receipt log" as_user gxtest cat "$BS/receipts.log"
refute "gxtest cannot write the state" as_user gxtest touch "$BS/x"
expect_rc 125 "gxtest cannot choose the state" as_user gxtest "$GX" run --broker "$SOCK" --state /tmp/gx-mine "$T/ctl.toml" -- "$H/try_marker" "$W/m"
check "a clear refusal for --state" grep -q -- "--state cannot be used with --broker" "$T/err"
expect_rc 125 "gxtest cannot choose the trust store" as_user gxtest "$GX" run --broker "$SOCK" --trust /tmp/t.toml "$T/ctl.toml" -- "$H/try_marker" "$W/m"
no_marker "refused flags ran nothing"

# --- without [run], the command runs as the caller, with no capabilities ---
art creds --no-bind-user --max-uses 100 --read /proc -- "$C" status
run as_user gxtest "$GX" run --broker "$SOCK" "$T/creds.toml" -- "$C" status
got=$(head -1 "$T/out")
case $got in
  "uid $U $U $U gid $UG $UG $UG groups "*" $NOCAPS nnp 1") ok ;;
  *) bad "without [run] the child runs as the caller gxtest: exit $RC, '$got'; $(head -c 300 "$T/err")" ;;
esac
r=$(last_receipt)
check "the receipt names the peer gxtest" test "$(jq -r '[.brokered, .peer_uid, .peer_gid] | map(tostring) | join(" ")' <<<"$r")" = "true $U $UG"
check "the receipt's uid is the broker's" test "$(jq -r .uid <<<"$r")" = 0

# --- run-as: an artifact naming another user runs as that user, no capabilities ---
art asnobody --no-bind-user --max-uses 10 --read /proc --run-as nobody -- "$C" status
run as_user gxtest "$GX" run --broker "$SOCK" "$T/asnobody.toml" -- "$C" status
check "[run] user = nobody: runs as nobody with no capabilities ($(head -1 "$T/out"))" \
  test "$(head -1 "$T/out")" = "uid $NOBODY $NOBODY $NOBODY gid $NOBODY_GID $NOBODY_GID $NOBODY_GID groups 0 $NOCAPS nnp 1"

# --- uid bindings are checked against the peer, not the broker ---
art rootbound --max-uses 10 --write "$W" -- "$H/try_marker" "$W/m"  # bound to uid 0 (gx init's default)
check "the artifact is bound to uid 0" grep -qx "uid = 0" "$T/rootbound.toml"
expect_denied runtime-identity "an artifact bound to root, asked by gxtest" \
  as_user gxtest "$GX" run --broker "$SOCK" "$T/rootbound.toml" -- "$H/try_marker" "$W/m"
no_marker "bound to root, asked by gxtest"
art_edit userbound "s/^uid = 0$/uid = $U/" --max-uses 10 --write "$W" -- "$H/try_marker" "$W/m"
check "the artifact is bound to gxtest" grep -qx "uid = $U" "$T/userbound.toml"
expect_rc 0 "bound to gxtest, asked by gxtest" as_user gxtest "$GX" run --broker "$SOCK" "$T/userbound.toml" -- "$H/try_marker" "$W/m"
check "it ran" test -e "$W/m"
rm -f "$W/m"
expect_denied runtime-identity "bound to gxtest, asked by root" B "$T/userbound.toml" -- "$H/try_marker" "$W/m"
no_marker "bound to gxtest, asked by root"

# --- a caller inside its own user namespace is its real uid ---
if as_user gxtest unshare -U -r true 2>/dev/null; then
  run as_user gxtest unshare -U -r "$GX" run --broker "$SOCK" "$T/creds.toml" -- "$C" status
  case $(head -1 "$T/out") in
    "uid $U $U $U "*) ok ;;
    *) bad "a caller in its own user namespace runs as its real uid: exit $RC, '$(head -1 "$T/out")'; $(head -c 300 "$T/err")" ;;
  esac
  check "the receipt names the real uid, not the namespace's 0" test "$(last_receipt | jq -r .peer_uid)" = "$U"
  expect_denied runtime-identity "namespace root is not root: an artifact bound to uid 0 is denied" \
    as_user gxtest unshare -U -r "$GX" run --broker "$SOCK" "$T/rootbound.toml" -- "$H/try_marker" "$W/m"
  no_marker "namespace root"
else
  echo "skip: unprivileged user namespaces are not available here"
fi

# --- one use across two different clients ---
art once --no-bind-user --max-uses 1 --write "$W" -- "$H/try_marker" "$W/m"
expect_rc 0 "one-use artifact, first client (gxtest)" as_user gxtest "$GX" run --broker "$SOCK" "$T/once.toml" -- "$H/try_marker" "$W/m"
rm -f "$W/m"
expect_denied replay "one-use artifact, second client (root)" B "$T/once.toml" -- "$H/try_marker" "$W/m"
no_marker "second client"
expect_denied replay "even with a fresh --state of its own, gx run --broker cannot be steered" \
  as_user gxtest "$GX" run --broker "$SOCK" "$T/once.toml" -- "$H/try_marker" "$W/m"
no_marker "third try"

# --- one use, two different clients racing on two connections ---
for round in 1 2 3; do
  art "race$round" --no-bind-user --max-uses 1 --write "$W" -- /bin/sh -c 'echo x >> "$0"' "$W/race$round"
  as_user gxtest "$GX" run --broker "$SOCK" "$T/race$round.toml" -- /bin/sh -c 'echo x >> "$0"' "$W/race$round" \
    >/dev/null 2>"$T/race$round.user" &
  p1=$!
  B "$T/race$round.toml" -- /bin/sh -c 'echo x >> "$0"' "$W/race$round" >/dev/null 2>"$T/race$round.root" &
  p2=$!
  wait "$p1" "$p2"
  check "round $round: gxtest and root racing, exactly one ran" test "$(wc -l <"$W/race$round" 2>/dev/null)" = 1
  check "round $round: the other was a replay" \
    test "$(cat "$T/race$round.user" "$T/race$round.root" | grep -c 'denied (replay)')" = 1
done

# --- a user the allow lists do not name is refused, recorded, and nothing runs ---
expect_denied runtime-identity "nobody is not allowed" as_user nobody "$GX" run --broker "$SOCK" "$T/ctl.toml" -- "$H/try_marker" "$W/m"
no_marker "not allowed"
check "the broker's log names the refused uid" grep -q "refused uid $NOBODY gid $NOBODY_GID pid [0-9]*: not in allow" "$T/broker.log"
r=$(last_receipt)
check "a denied receipt records the refused peer" \
  test "$(jq -r '[.decision, .reason, .brokered, .peer_uid] | map(tostring) | join(" ")' <<<"$r")" = "denied runtime-identity true $NOBODY"

# --- examples/broker/deploy.sh: the privileged step of a deploy, as another user ---
EXB=${GX_SRC:-$HERE/../..}/examples/broker
mkdir -p "$T/srv/current" "$T/www" && echo v2 >"$T/srv/current/VERSION" && chmod -R a+rX "$T/srv"
chown nobody "$T/www" && chmod 755 "$T/www"
mkdir -p "$T/gxbin" && ln -sf "$GX" "$T/gxbin/gx"
(cd / && "$GX" init --run-as nobody --no-bind-user --max-uses 5 --group filesystem --read "$T/srv" --write "$T/www" \
  -f -o "$T/publish.toml" -- /bin/cp -r -T "$T/srv/current" "$T/www" >/dev/null 2>&1) || bad "init publish"
"$GX" sign -k "$T/alice.key" "$T/publish.toml" >/dev/null 2>&1 || bad "sign publish"
deploy() { as_user gxtest env PATH="$T/gxbin:$PATH" GX_BROKER="$SOCK" APPROVAL="$T/publish.toml" SRC="$T/srv/current" DEST="$T/www" sh "$EXB/deploy.sh"; }
expect_rc 0 "deploy.sh publishes through the broker" deploy
check "the release is published" test "$(cat "$T/www/VERSION" 2>/dev/null)" = v2
check "... by the approved user, not the caller nor root" test "$(stat -c %U "$T/www/VERSION" 2>/dev/null)" = nobody
check "receipts name the caller" test "$(last_receipt | jq -r '[.decision, .peer_uid] | map(tostring) | join(" ")')" = "finished $U"
rm -rf "$T/www/VERSION"
expect_denied policy-mismatch "deploy.sh with another destination is denied" \
  as_user gxtest env PATH="$T/gxbin:$PATH" GX_BROKER="$SOCK" APPROVAL="$T/publish.toml" SRC="$T/srv/current" DEST="$T/www2" sh "$EXB/deploy.sh"
check "... and says nothing ran without approval" grep -q "nothing was run without approval" "$T/err"
check "... nothing published" test ! -e "$T/www/VERSION" -a ! -e "$T/www2"

# --- an allowed group ---
stop_broker
start_broker --allow-group nogroup || finish
expect_rc 0 "nobody, allowed by its group" as_user nobody "$GX" run --broker "$SOCK" "$T/ctl.toml" -- "$H/try_marker" "$W/m"
check "it ran" test -e "$W/m"
rm -f "$W/m"
expect_denied runtime-identity "gxtest is no longer allowed" as_user gxtest "$GX" run --broker "$SOCK" "$T/ctl.toml" -- "$H/try_marker" "$W/m"
no_marker "gxtest after the allow list changed"
expect_rc 0 "the broker's log verifies" "$GX" log verify --state "$BS"
stop_broker
finish
