#!/usr/bin/env bash
# Attack: an unprivileged caller mounts a tmpfs over a directory inside an exec-granted tree in its own user + mount namespace, puts any program there and hands the broker an fd to it as stdin; the command execs /proc/self/fd/0 and Landlock, walking up the caller's mount to /usr/lib, allows it.
# Fixed: check_stdio refuses a regular file on a mount that neither the broker's mount namespace
# nor the initial one has (lib/broker_stdio.cc check_file_mount).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
if [ "$(id -u)" != 0 ] || ! id gxtest >/dev/null 2>&1 || ! [ -d /usr/lib/tmpfiles.d ]; then
  echo "skipped: needs root, the user gxtest and /usr/lib/tmpfiles.d (a directory under the exec grant)"
  finish
fi
if ! su gxtest -s /bin/sh -c "unshare -Urm sh -c 'mount -t tmpfs t /usr/lib/tmpfiles.d'" >/dev/null 2>&1; then
  echo "skipped: unprivileged user + mount namespaces are not available"
  finish
fi
chmod 755 "$T/work"
chmod 777 "$W"
art x --no-bind-user --max-uses 10 --write "$W" --exec /usr/lib -- "$H/try_exec" /proc/self/fd/0 "$W/m"
chmod 644 "$T/x.toml"
start_broker --allow-user gxtest || finish
ask() { su gxtest -s /bin/sh -c "cd $T/work && $GX run --broker $SOCK $T/x.toml -- $H/try_exec /proc/self/fd/0 $W/m < $1" 2>&1; }

# Control: the same program as a plain file outside /usr/lib is refused by Landlock.
cp "$H/try_marker" "$T/plain"
chmod 755 "$T/plain"
ask "$T/plain" >"$T/control.out"
check "control: a file outside the exec rules is refused (EACCES): $(cat "$T/control.out")" grep -q EACCES "$T/control.out"
check "control: the marker was not made" test ! -e "$W/m"

su gxtest -s /bin/sh -c "cd $T/work && unshare -Urm sh -c 'mount -t tmpfs t /usr/lib/tmpfiles.d &&
  cp $H/try_marker /usr/lib/tmpfiles.d/p && chmod 755 /usr/lib/tmpfiles.d/p &&
  $GX run --broker $SOCK $T/x.toml -- $H/try_exec /proc/self/fd/0 $W/m < /usr/lib/tmpfiles.d/p'" >"$T/attack.out" 2>&1
echo "attack: $(cat "$T/attack.out")" >&2
check "a file on the caller's own mount is never executed" test ! -e "$W/m"
check "the refusal names the fd and its mount: $(cat "$T/attack.out")" grep -q "mount only the caller's namespace has" "$T/attack.out"
stop_broker
finish
