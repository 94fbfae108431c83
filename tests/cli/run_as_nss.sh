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
# gx asks "getent DB -- KEY"; anything else is not what it should send.
[ "\$2" = -- ] && [ \$# = 3 ] || exit 9
set -- "\$1" "\$3"
case "\$1 \$2" in
  "passwd ldapuser") echo "ldapuser:x:4242:4243:LDAP user:/nonexistent:/usr/sbin/nologin" ;;
  "group ldapgroup") echo "ldapgroup:x:4244:ldapuser" ;;
  "passwd liar") echo "root:x:0:0:root:/root:/bin/bash" ;;
  "passwd garbled") echo "garbled:x:notanumber:1::/:/bin/sh" ;;
  "passwd nobody") echo "nobody:x:4247:4247:NSS nobody:/nonexistent:/usr/sbin/nologin" ;;
  "passwd half") echo "half:x:4248:4248::/:/bin/sh"; exit 1 ;;
  "passwd slow") sleep 30.0471 ;;
  "passwd linger") echo "linger:x:4249:4249::/:/bin/sh"; exec >&-; sleep 30.0471 ;;
  "passwd huge") printf 'huge:x:4250:4250:%070000d:/:/bin/sh\n' 0 ;;
  "group biggroup") printf 'biggroup:x:4251:'; i=0; while [ \$i -lt 9000 ]; do printf 'member%05d,' \$i; i=\$((i+1)); done; echo last ;;
  "passwd env") env >"$T/getent.env"; ls -l /proc/\$\$/fd/ >"$T/getent.fds"; echo "env:x:4245:4245::/:/bin/sh" ;;
  *) exit 2 ;;
esac
SH
chmod 755 "$T/fake-getent"
printf 'passwd: files sss\ngroup: files sss\nhosts: files\n' >"$T/nss-other"
# Two passwd lines: glibc keeps the last, which names files only.
printf 'passwd: sss\npasswd: files\ngroup:    files\n' >"$T/nss-files"
printf 'passwd: sss files\ngroup: sss files\n' >"$T/nss-first"
chmod 644 "$T/nss-other" "$T/nss-files" "$T/nss-first"
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
check "getent was asked for the user" grep -qx "passwd -- ldapuser" "$CALLS"
art ldapg --run-as ldapuser:ldapgroup --read /proc -- "$C" status
run R "$T/ldapg.toml" -- "$C" status
first_line_is "uid 4242 4242 4242 gid 4244 4244 4244 groups 0 $NOCAPS nnp 1" "[run] group from getent"

# --- getent runs with an environment of its own ---
art envu --run-as env --read /proc -- "$C" status
# Descriptor 7 is inherited without close-on-exec: getent must not get it.
exec 7</etc/hostname
run env LD_PRELOAD=/nonexistent.so GX_SECRET=1 "$GX" run --trust "$TR" --state "$S" "$T/envu.toml" -- "$C" status
exec 7<&-
check "getent ran" test -s "$T/getent.env"
refute "getent did not get the caller's environment" grep -q "LD_PRELOAD\|GX_SECRET" "$T/getent.env"
check "getent's descriptors were listed" test -s "$T/getent.fds"
refute "getent got none of gx's descriptors (state, log, sockets, inherited)" grep -q "$S\|socket:\|/tr/\|uses.db\|receipts\|/etc/hostname" "$T/getent.fds"
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
check "getent was asked for the unknown user" grep -qx "passwd -- gx-no-such-user-4711" "$CALLS"
check "the command never ran (unknown)" test ! -e "$W/ghost"

# --- getent failing, hanging, or lingering after its answer denies ---
for who in half slow linger; do
  art "$who" --run-as "$who" --write "$W" -- "$H/try_marker" "$W/$who"
done
expect_denied run-as-unavailable "getent exit 1 (even with a line)" R "$T/half.toml" -- "$H/try_marker" "$W/half"
check "the denial names the exit" grep -q "failed (exit 1)" "$T/err"
# An inherited SIG_IGN for SIGCHLD would let the kernel reap getent and lose its status.
expect_denied run-as-unavailable "getent exit 1 with SIGCHLD ignored" env --ignore-signal=CHLD "$GX" run --trust "$TR" --state "$S" "$T/half.toml" -- "$H/try_marker" "$W/half"
check "the denial names the exit (SIGCHLD ignored)" grep -q "failed (exit 1)" "$T/err"
check "the command never ran (half)" test ! -e "$W/half"
for who in slow linger; do
  t0=$(date +%s)
  expect_denied run-as-unavailable "getent $who" R "$T/$who.toml" -- "$H/try_marker" "$W/$who"
  t1=$(date +%s)
  check "getent $who: the denial names the deadline" grep -q "within 5 s" "$T/err"
  check "getent $who: denied within the deadline ($((t1 - t0)) s)" test $((t1 - t0)) -le 8
  check "the command never ran ($who)" test ! -e "$W/$who"
done
refute "no getent is left running" pgrep -f "sleep 30.0471"

# --- signals forwarded while a brokered request was being denied do not reach the next command ---
# The worker is reused (lib/broker.h, "Reuse"): a signal it got for a request
# that never started a child must not stay pending for the next caller's
# (review helper-53). The getent lookup holds the request for 5 s; the spare
# forked meanwhile is killed, so the denied request's worker is the next spare.
art nap --max-uses 5 -- /bin/sleep 1
start_broker || finish
"$GX" run --broker "$SOCK" "$T/slow.toml" -- "$H/try_marker" "$W/slow" >/dev/null 2>&1 &
client=$!
sleep 1
kill -USR1 "$client"
kill -HUP "$client"
sleep 3
for p in $(pgrep -P "$BROKER_PID"); do
  pgrep -P "$p" >/dev/null || kill -KILL "$p" # the spare: the busy worker has getent as its child
done
wait "$client"
check "the slow request was denied" test ! -e "$W/slow"
for i in 1 2; do
  expect_rc 0 "the next brokered command is not hit by those signals ($i)" B "$T/nap.toml" -- /bin/sleep 1
done
stop_broker

# --- answers over 64 KiB: refused for a user; a group keeps its name and gid ---
art huge --run-as huge --write "$W" -- "$H/try_marker" "$W/huge"
expect_denied run-as-unavailable "a passwd line over 64 KiB" R "$T/huge.toml" -- "$H/try_marker" "$W/huge"
check "the denial names the size" grep -q "more than 64 KiB" "$T/err"
check "the command never ran (huge)" test ! -e "$W/huge"
art bigg --run-as nobody:biggroup --read /proc -- "$C" status
run R "$T/bigg.toml" -- "$C" status
first_line_is "uid 65534 65534 65534 gid 4251 4251 4251 groups 0 $NOCAPS nnp 1" "a group whose members pass 64 KiB"

# --- another source before files: its answer wins, even for a name /etc/passwd holds ---
mount --bind "$T/nss-first" /etc/nsswitch.conf
: >"$CALLS"
art nobody1 --run-as nobody --read /proc -- "$C" status
run R "$T/nobody1.toml" -- "$C" status
first_line_is "uid 4247 4247 4247 gid 4247 4247 4247 groups 0 $NOCAPS nnp 1" "sss before files: getent's nobody"
check "getent was asked for nobody" grep -qx "passwd -- nobody" "$CALLS"
mount --bind "$T/nss-other" /etc/nsswitch.conf

# --- a user /etc/passwd holds: getent is not asked ---
: >"$CALLS"
art nobody --run-as nobody --read /proc -- "$C" status
run R "$T/nobody.toml" -- "$C" status
check "nobody runs" test "$RC" = 0
check "getent not asked for a user in /etc/passwd" test ! -s "$CALLS"

# --- nsswitch.conf with files only: getent is never asked ---
mount --bind "$T/nss-files" /etc/nsswitch.conf
expect_denied run-as-unavailable "files only: ldapuser is unknown" R "$T/ldap.toml" -- "$C" status
check "getent not asked when nsswitch.conf's last passwd line names files only" test ! -s "$CALLS"
mount --bind "$T/nss-other" /etc/nsswitch.conf

# --- an nsswitch.conf that exists but cannot be read denies, even for a user /etc/passwd holds ---
art nssdev --run-as nobody --write "$W" -- "$H/try_marker" "$W/nssdev"
mount --bind /dev/null /etc/nsswitch.conf
expect_denied run-as-unavailable "nsswitch.conf not a regular file" R "$T/nssdev.toml" -- "$H/try_marker" "$W/nssdev"
check "the denial names nsswitch.conf" grep -q "/etc/nsswitch.conf is a character device, not a regular file, so who answers is unknown" "$T/err"
check "the command never ran (nsswitch.conf a device)" test ! -e "$W/nssdev"
{ cat "$T/nss-files"; head -c 1100000 /dev/zero | tr '\0' '#'; } >"$T/nss-big"
mount --bind "$T/nss-big" /etc/nsswitch.conf
expect_denied run-as-unavailable "nsswitch.conf over 1 MiB" R "$T/nssdev.toml" -- "$H/try_marker" "$W/nssdev"
check "the denial names the limit" grep -q "nsswitch.conf is larger than the limit" "$T/err"
check "the command never ran (nsswitch.conf too large)" test ! -e "$W/nssdev"
mount --bind "$T/nss-other" /etc/nsswitch.conf

# --- uid 4294967295 in /etc/passwd itself (the in-process files path) is refused ---
{ cat /etc/passwd; echo "minusone:x:4294967295:100::/nonexistent:/usr/sbin/nologin"; } >"$T/passwd-minus"
chmod 644 "$T/passwd-minus"
mount --bind "$T/passwd-minus" /etc/passwd
: >"$CALLS"
art minus --run-as minusone --write "$W" -- "$H/try_marker" "$W/minus"
expect_denied run-as-unavailable "uid 4294967295 in /etc/passwd" R "$T/minus.toml" -- "$H/try_marker" "$W/minus"
check "the denial names the id" grep -q "id 4294967295 in /etc/passwd" "$T/err"
check "the command never ran (uid -1)" test ! -e "$W/minus"
umount /etc/passwd

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
