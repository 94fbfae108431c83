#!/usr/bin/env bash
# Run-as users and groups that /etc/passwd and /etc/group do not hold
# (lib/user_db.h): gx asks getent(1), which has the full NSS, and trusts its
# one line only if it names the key asked. Root only: a fake getent and
# nsswitch.conf are bind-mounted over the real ones inside the test's private
# mount namespace (tests/hermetic.sh).
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/run_env.bash"
source "$(dirname "$0")/lib/broker_env.bash"
if [ "$(id -u)" != 0 ]; then
  echo "skip: needs root to bind-mount a fake getent and nsswitch.conf (running as uid $(id -u))"
  finish
fi
GETENT=$(command -v getent)
[ -n "$GETENT" ] || { echo "skip: getent is not installed"; finish; }
# Private mounts even if the namespace we were given propagates.
mount --make-rprivate / 2>/dev/null
C=$H/try_creds
ZERO=0000000000000000
NOCAPS="caps $ZERO $ZERO $ZERO $ZERO $ZERO"
CALLS=$T/getent.calls
cat >"$T/fake-getent" <<SH
#!/bin/sh
echo "\$*" >>"$CALLS"
case "\$1 \$2" in
  "passwd ldapuser") echo "ldapuser:x:4242:4243:LDAP user:/nonexistent:/usr/sbin/nologin" ;;
  "group ldapgroup") echo "ldapgroup:x:4244:ldapuser" ;;
  "passwd liar") echo "root:x:0:0:root:/root:/bin/bash" ;;
  "passwd garbled") echo "garbled:x:notanumber:1::/:/bin/sh" ;;
  "passwd env") env >"$T/getent.env"; ls -l /proc/\$\$/fd/ >"$T/getent.fds"; echo "env:x:4245:4245::/:/bin/sh" ;;
  *) exit 2 ;;
esac
SH
chmod 755 "$T/fake-getent"
printf 'passwd: files sss\ngroup: files sss\nhosts: files\n' >"$T/nss-other"
printf 'passwd: files\ngroup:    files # only files\n' >"$T/nss-files"
chmod 644 "$T/nss-other" "$T/nss-files"
mount --bind "$T/fake-getent" "$GETENT" || { bad "cannot bind-mount over $GETENT"; finish; }
mount --bind "$T/nss-other" /etc/nsswitch.conf || { bad "cannot bind-mount over /etc/nsswitch.conf"; finish; }

first_line_is() {
  local got
  got=$(head -1 "$T/out")
  if [ "$RC" = 0 ] && [ "$got" = "$1" ]; then ok; else
    bad "$2: exit $RC, first line '$got', wanted '$1'; stderr: $(head -c 300 "$T/err")"
  fi
}

# --- a user and a group only NSS knows: asked of getent, honoured ---
art ldap --run-as ldapuser --read /proc -- "$C" status
run R "$T/ldap.toml" -- "$C" status
first_line_is "uid 4242 4242 4242 gid 4243 4243 4243 groups 0 $NOCAPS nnp 1" "[run] user from getent"
check "getent was asked for the user" grep -qx "passwd ldapuser" "$CALLS"
art ldapg --run-as ldapuser:ldapgroup --read /proc -- "$C" status
run R "$T/ldapg.toml" -- "$C" status
first_line_is "uid 4242 4242 4242 gid 4244 4244 4244 groups 0 $NOCAPS nnp 1" "[run] group from getent"

# --- getent runs with an environment of its own ---
art envu --run-as env --read /proc -- "$C" status
run env LD_PRELOAD=/nonexistent.so GX_SECRET=1 "$GX" run --trust "$TR" --state "$S" "$T/envu.toml" -- "$C" status
check "getent ran" test -s "$T/getent.env"
refute "getent did not get the caller's environment" grep -q "LD_PRELOAD\|GX_SECRET" "$T/getent.env"
check "getent's descriptors were listed" test -s "$T/getent.fds"
refute "getent got none of gx's descriptors (state, log, sockets)" grep -q "$S\|socket:\|/tr/\|uses.db\|receipts" "$T/getent.fds"
# The same from a broker's worker, which holds the client's socket and stdio.
start_broker || finish
rm -f "$T/getent.fds" "$T/getent.env"
run B "$T/envu.toml" -- "$C" status
check "brokered: runs as the getent user" grep -q "^uid 4245 4245 4245 " "$T/out"
check "brokered: getent's descriptors were listed" test -s "$T/getent.fds"
refute "brokered: getent got none of the worker's descriptors" grep -q "$BS\|socket:\|/tr/\|uses.db\|receipts" "$T/getent.fds"
stop_broker

# --- an answer for another entry, or a malformed one, denies; nothing runs ---
art liar --run-as liar --write "$W" -- "$H/try_marker" "$W/liar"
expect_denied run-as-unavailable "getent answering another entry" R "$T/liar.toml" -- "$H/try_marker" "$W/liar"
check "the denial says so" grep -q "another entry than 'liar'" "$T/err"
check "the command never ran (liar)" test ! -e "$W/liar"
art garbled --run-as garbled --write "$W" -- "$H/try_marker" "$W/garbled"
expect_denied run-as-unavailable "a malformed getent line" R "$T/garbled.toml" -- "$H/try_marker" "$W/garbled"
check "the command never ran (garbled)" test ! -e "$W/garbled"

# --- not found anywhere: getent asked, denied as before ---
art ghost --run-as gx-no-such-user-4711 --write "$W" -- "$H/try_marker" "$W/ghost"
expect_denied run-as-unavailable "unknown user" R "$T/ghost.toml" -- "$H/try_marker" "$W/ghost"
check "the denial names run.user" grep -q "field run.user = 'gx-no-such-user-4711'" "$T/err"
check "getent was asked for the unknown user" grep -qx "passwd gx-no-such-user-4711" "$CALLS"
check "the command never ran (unknown)" test ! -e "$W/ghost"

# --- a user /etc/passwd holds: getent is not asked ---
: >"$CALLS"
art nobody --run-as nobody --read /proc -- "$C" status
run R "$T/nobody.toml" -- "$C" status
check "nobody runs" test "$RC" = 0
check "getent not asked for a user in /etc/passwd" test ! -s "$CALLS"

# --- nsswitch.conf with files only: getent is never asked ---
mount --bind "$T/nss-files" /etc/nsswitch.conf
expect_denied run-as-unavailable "files only: ldapuser is unknown" R "$T/ldap.toml" -- "$C" status
check "getent not asked when nsswitch.conf names files only" test ! -s "$CALLS"
mount --bind "$T/nss-other" /etc/nsswitch.conf

# --- a getent others may write is not asked ---
chmod 775 "$T/fake-getent"
art ldap2 --run-as ldapuser --write "$W" -- "$H/try_marker" "$W/ldap2"
expect_denied run-as-unavailable "a group-writable getent" R "$T/ldap2.toml" -- "$H/try_marker" "$W/ldap2"
check "the denial names getent" grep -q "writable only by root: not asked" "$T/err"
check "the command never ran (unsafe getent)" test ! -e "$W/ldap2"
check "the unsafe getent was not run" test ! -s "$CALLS"
chmod 755 "$T/fake-getent"

# Unmounted before finish removes the files they show.
while umount /etc/nsswitch.conf 2>/dev/null; do :; done
umount "$GETENT"
finish
