#!/usr/bin/env bash
# Run-as ([run] user/group/groups/capabilities, gx init --run-as): whose
# rights the governed command gets. The child reports its credentials from
# /proc/self/status through tests/helpers/try_creds.c.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/run_env.bash"
C=$H/try_creds
ZERO=0000000000000000
NOCAPS="caps $ZERO $ZERO $ZERO $ZERO $ZERO"
# first_line_is WANT DESC: gx exited 0 and the child's first line is WANT
first_line_is() {
  local got
  got=$(head -1 "$T/out")
  if [ "$RC" = 0 ] && [ "$got" = "$1" ]; then ok; else
    bad "$2: exit $RC, first line '$got', wanted '$1'; stderr: $(head -c 300 "$T/err")"
  fi
}
line_is() { # N WANT DESC
  local got
  got=$(sed -n "$1p" "$T/out")
  if [ "$got" = "$2" ]; then ok; else bad "$3: line $1 '$got', wanted '$2'"; fi
}

# --- init: --run-as writes [run], and validates its argument ---
expect_rc 0 "gx init --run-as" "$GX" init --run-as nobody:nogroup -- "$C" status
check "[run] user written" grep -qx 'user = "nobody"' "$T/out"
check "[run] group written" grep -qx 'group = "nogroup"' "$T/out"
check "no supplementary groups by default" grep -qx 'groups = \[\]' "$T/out"
check "no capabilities by default" grep -qx 'capabilities = \[\]' "$T/out"
expect_rc 0 "gx init without --run-as" "$GX" init -- "$C" status
refute "no [run] without --run-as" grep -q '^\[run\]' "$T/out"
expect_rc 125 "gx init --run-as with a bad name" "$GX" init --run-as "a b" -- "$C" status
check "the usage error names --run-as" grep -q "field --run-as = 'a b'" "$T/err"
expect_rc 125 "gx init --run-as with an empty group" "$GX" init --run-as "nobody:" -- "$C" status

# --- a name that does not resolve denies, naming the field; nothing runs ---
art ghost --run-as gx-no-such-user-4711 --write "$W" -- "$H/try_marker" "$W/ghost"
expect_denied run-as-unavailable "unknown [run] user" R "$T/ghost.toml" -- "$H/try_marker" "$W/ghost"
check "the denial names run.user" grep -q "field run.user = 'gx-no-such-user-4711'" "$T/err"
check "the command never ran (unknown user)" test ! -e "$W/ghost"

if [ "$(id -u)" != 0 ]; then
  echo "skip: the switching tests need root (running as uid $(id -u)); checking the unprivileged denial instead"
  # Non-root gx: [run] naming someone else is denied, never run as the caller.
  art other --run-as root --write "$W" -- "$H/try_marker" "$W/other"
  expect_denied run-as-unavailable "non-root gx, [run] user = root" R "$T/other.toml" -- "$H/try_marker" "$W/other"
  check "the denial says why" grep -q "cannot run the command as user 'root'" "$T/err"
  check "the command never ran (non-root gx)" test ! -e "$W/other"
  # [run] naming the caller itself: nothing to switch, it runs.
  # Its supplementary groups must be named too (a non-root gx cannot drop any).
  mine=$(id -G | tr ' ' '\n' | grep -vx "$(id -g)" | sed 's/.*/"&"/' | paste -sd, -)
  art_edit me "s/^groups = \[\]/groups = [$mine]/" --run-as "$(id -u):$(id -g)" --read /proc -- "$C" status
  run R "$T/me.toml" -- "$C" status
  got=$(head -1 "$T/out")
  case $got in
    # (unswitched: the bounding set stays as it was; an unprivileged gx cannot drop it)
    "uid $(id -u) $(id -u) $(id -u) gid $(id -g) $(id -g) $(id -g) groups "*" caps $ZERO $ZERO $ZERO "*" $ZERO nnp 1") ok ;;
    *) bad "non-root gx, [run] user = the caller: exit $RC, '$got'; stderr: $(head -c 300 "$T/err")" ;;
  esac
  finish
fi

# --- root gx: [run] user = "nobody" runs as 65534 with no capabilities ---
NOBODY_GID=$(id -g nobody)
mkdir -p "$T/rootonly" && chmod 755 "$T/rootonly"
echo original >"$T/rootonly/file" && chmod 644 "$T/rootonly/file"
art nobody --read /proc --run-as nobody --write "$T/rootonly" -- "$C" status write "$T/rootonly/file" write "$T/rootonly/new"
run R "$T/nobody.toml" -- "$C" status write "$T/rootonly/file" write "$T/rootonly/new"
first_line_is "uid 65534 65534 65534 gid $NOBODY_GID $NOBODY_GID $NOBODY_GID groups 0 $NOCAPS nnp 1" \
  "[run] user = nobody: ids, no groups, no capabilities at all"
line_is 2 "write EACCES" "nobody cannot write a root-owned file (Landlock grants it, DAC refuses)"
line_is 3 "write EACCES" "nobody cannot create files in a root-owned directory"
check "the root-owned file is unchanged" test "$(cat "$T/rootonly/file")" = original
check "nothing created in the root-owned directory" test ! -e "$T/rootonly/new"
last=$("$GX" log show --state "$S" --json 2>/dev/null | jq -c 'select(.decision == "authorized")' | tail -1)
check "the authorized receipt records run_as uid 65534" \
  test "$(jq -r '.sandbox.run_as.uid' <<<"$last")" = 65534
check "the authorized receipt records run_as gid and source" \
  test "$(jq -r '[.sandbox.run_as.gid, .sandbox.run_as.source, .sandbox.run_as.switched] | join(" ")' <<<"$last")" = "$NOBODY_GID artifact true"
check "the uid field still names who asked (root)" test "$(jq -r '.uid' <<<"$last")" = 0
expect_rc 0 "the log still verifies" "$GX" log verify --state "$S"

# --- without [run], a local gx run runs as its caller, as before ---
art caller --read /proc -- "$C" status
run R "$T/caller.toml" -- "$C" status
got=$(head -1 "$T/out")
case $got in
  "uid 0 0 0 gid 0 0 0 "*) ok ;;
  *) bad "without [run] the child runs as the caller (root): '$got'" ;;
esac
refute "without [run] the caller's capabilities are not dropped" grep -q "$NOCAPS" "$T/out"

# --- explicit root: keeps uid 0 but no capability (securebits NOROOT) ---
install -m 600 -o nobody /dev/null "$T/rootonly/nobodys"
art root --read /proc --run-as root --write "$T/rootonly" -- "$C" status write "$T/rootonly/file" write "$T/rootonly/nobodys"
run R "$T/root.toml" -- "$C" status write "$T/rootonly/file" write "$T/rootonly/nobodys"
first_line_is "uid 0 0 0 gid 0 0 0 groups 0 $NOCAPS nnp 1" "[run] user = root: uid 0, no capabilities"
line_is 2 "write 0" "control: root still writes its own file"
line_is 3 "write EACCES" "root without CAP_DAC_OVERRIDE cannot write another user's 0600 file"

# --- group and supplementary groups as named ---
art_edit grp 's/^groups = \[\]/groups = ["daemon", "65533"]/' --run-as nobody:nogroup --read /proc -- "$C" status
run R "$T/grp.toml" -- "$C" status
NOGROUP=$(getent group nogroup | cut -d: -f3)
first_line_is "uid 65534 65534 65534 gid $NOGROUP $NOGROUP $NOGROUP groups 2 $NOCAPS nnp 1" \
  "[run] group and groups: exactly those"

# --- a named capability is kept, and only it ---
art_edit cap 's/^capabilities = \[\]/capabilities = ["CAP_NET_BIND_SERVICE"]/' --run-as nobody --read /proc -- "$C" status
run R "$T/cap.toml" -- "$C" status
K=0000000000000400
first_line_is "uid 65534 65534 65534 gid $NOBODY_GID $NOBODY_GID $NOBODY_GID groups 0 caps $K $K $K $K $K nnp 1" \
  "[run] capabilities: CAP_NET_BIND_SERVICE effective, permitted, inheritable, bounding, ambient"
gx_init "$T/badcap.toml" --run-as nobody -- "$C" status
sed -i 's/^capabilities = \[\]/capabilities = ["CAP_ROOT"]/' "$T/badcap.toml"
expect_denied invalid-value "an unknown capability name is refused (at signing already)" \
  "$GX" sign -k "$T/alice.key" "$T/badcap.toml"
check "the denial names run.capabilities" grep -q "field run.capabilities = 'CAP_ROOT'" "$T/err"

# --- a group that does not resolve ---
art nogrp --run-as nobody:gx-no-such-group-4711 --write "$W" -- "$H/try_marker" "$W/nogrp"
expect_denied run-as-unavailable "unknown [run] group" R "$T/nogrp.toml" -- "$H/try_marker" "$W/nogrp"
check "the denial names run.group" grep -q "field run.group = 'gx-no-such-group-4711'" "$T/err"
check "the command never ran (unknown group)" test ! -e "$W/nogrp"

# --- a root gx without CAP_SETUID cannot switch: denied, never run as root ---
if command -v setpriv >/dev/null; then
  art nocap --run-as nobody --write "$W" -- "$H/try_marker" "$W/nocap"
  run setpriv --inh-caps=-all --bounding-set=-setuid,-setgid,-setpcap -- "$GX" run --trust "$TR" --state "$S" \
    "$T/nocap.toml" -- "$H/try_marker" "$W/nocap"
  if [ "$RC" = 126 ] && grep -q "gx: denied (run-as-unavailable)" "$T/err"; then ok; else
    bad "uid 0 without CAP_SETUID: exit $RC; stderr: $(head -c 300 "$T/err")"
  fi
  check "the command never ran (no CAP_SETUID)" test ! -e "$W/nocap"
else
  echo "skip: setpriv is not installed (the uid-0-without-CAP_SETUID case)"
fi

finish
