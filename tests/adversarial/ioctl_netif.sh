# Attack: under network = "none", a root child reconfigures a host network interface through an AF_UNIX socket: brings it up (SIOCSIFFLAGS), changes its MTU (SIOCSIFMTU), renames it (SIOCSIFNAME).
# Scratch object: a dummy interface in a private network namespace (root);
# without root only the seccomp denial is checked (on "lo", which the
# kernel would refuse anyway without CAP_NET_ADMIN — hence the skip note).
if [ "$(id -u)" = 0 ] && [ -z "${GX_IN_NETNS:-}" ] && unshare -n true 2>/dev/null; then
  GX_IN_NETNS=1 exec unshare -n bash "$0" "$@"
fi
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
IF=lo
SCRATCH=
if [ -n "${GX_IN_NETNS:-}" ] && ip link add gxdummy0 type dummy 2>/dev/null; then
  IF=gxdummy0 SCRATCH=1
elif [ -n "${GX_IN_NETNS:-}" ]; then
  echo "note: no dummy interface (module missing): using the private namespace's own lo as the scratch interface"
  SCRATCH=1
else
  echo "skip: not root (no private network namespace): checking the seccomp denial on lo only, no controls"
fi
state() { ip -o link show "$1" 2>/dev/null | sed -E 's/.*<([^>]*)>.*mtu ([0-9]+).*/\1 \2/'; }
before=$(state "$IF")
for r in SIOCSIFFLAGS SIOCSIFMTU SIOCSIFNAME; do
  art "if_$r" -- "$H/try_ioctl" "$r" "$IF"
  run R "$T/if_$r.toml" -- "$H/try_ioctl" "$r" "$IF"
  if [ "$RC" = 1 ] && [ "$(head -1 "$T/out")" = EPERM ]; then ok; else
    bad "$r under gx: exit $RC output '$(head -1 "$T/out")', wanted EPERM; stderr: $(head -c 300 "$T/err")"
  fi
done
check "interface $IF unchanged ($before -> $(state "$IF"))" test "$(state "$IF")" = "$before"
refute "no interface renamed" ip link show gxpwned0 2>/dev/null
if [ -n "$SCRATCH" ]; then
  # control: outside gx each request succeeds on the scratch interface
  check "control: SIOCSIFMTU outside gx" test "$("$H/try_ioctl" SIOCSIFMTU "$IF")" = ok
  check "control: MTU changed to 1280" sh -c "ip -o link show $IF | grep -q 'mtu 1280'"
  check "control: SIOCSIFFLAGS outside gx" test "$("$H/try_ioctl" SIOCSIFFLAGS "$IF")" = ok
  check "control: interface is up" sh -c "ip -o link show $IF | grep -q '[<,]UP[,>]'"
  ip link set "$IF" down
  out=$("$H/try_ioctl" SIOCSIFNAME "$IF")
  check "control: SIOCSIFNAME outside gx reaches the kernel ($out)" test "$out" != EPERM
fi
finish
