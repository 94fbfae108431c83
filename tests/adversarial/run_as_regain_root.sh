#!/usr/bin/env bash
# Attack: a command that root's gx runs as `nobody` ([run] user) tries to become root again: setuid(0), setresuid, setgid(0), capset of every capability, raising an ambient capability, unlocking securebits, and exec'ing a setuid-root program.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
if [ "$(id -u)" != 0 ]; then
  echo "skip: needs root to make a setuid-root program and to switch users (running as uid $(id -u))"
  finish
fi
C=$H/try_creds
ZERO=0000000000000000
NOCAPS="caps $ZERO $ZERO $ZERO $ZERO $ZERO"
NOBODY_GID=$(id -g nobody)
# A setuid-root copy of the probe, in a directory the artifact lets it exec.
mkdir -p "$T/suid" && chmod 755 "$T/suid"
install -m 4755 -o root -g root "$C" "$T/suid/creds"
check "control: the copy is setuid root" test -u "$T/suid/creds"

mkdir -p "$T/rootdir" && chmod 755 "$T/rootdir"
ops=(setuid0 setresuid0 setgid0 capset ambient securebits write "$T/rootdir/regained" status
  exec "$T/suid/creds" status)
art regain --run-as nobody --read /proc --exec "$T/suid" --write "$T/rootdir" -- "$C" "${ops[@]}"
run R "$T/regain.toml" -- "$C" "${ops[@]}"
want="setuid0 EPERM
setresuid0 EPERM
setgid0 EPERM
capset EPERM
ambient EPERM
securebits EPERM
write EACCES
uid 65534 65534 65534 gid $NOBODY_GID $NOBODY_GID $NOBODY_GID groups 0 $NOCAPS nnp 1
exec
uid 65534 65534 65534 gid $NOBODY_GID $NOBODY_GID $NOBODY_GID groups 0 $NOCAPS nnp 1"
if [ "$RC" = 0 ] && [ "$(cat "$T/out")" = "$want" ]; then ok; else
  bad "no privilege regained: exit $RC, got [$(cat "$T/out")], wanted [$want]; stderr: $(head -c 300 "$T/err")"
fi
check "nothing written to the root-owned directory" test ! -e "$T/rootdir/regained"
finish
