# Attack: a child with only read grants freezes a file system (FIFREEZE), sets the immutable flag (FS_IOC_SETFLAGS) and relabels a file system (FS_IOC_SETFSLABEL) through ioctl on a read-only fd.
# Scratch objects only: as root the script re-runs itself in a private mount
# namespace and mounts a loop ext4 image (or a tmpfs when no loop device can
# be made); unprivileged, it uses a file under its own scratch directory.
if [ "$(id -u)" = 0 ] && [ -z "${GX_IN_MNTNS:-}" ] && unshare -m --propagation private true 2>/dev/null; then
  GX_IN_MNTNS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
M=$T/mnt
mkdir -p "$M"
KIND=dir
if [ -n "${GX_IN_MNTNS:-}" ]; then
  truncate -s 16M "$T/fs.img"
  if mkfs.ext4 -q -L gxscratch "$T/fs.img" 2>/dev/null && mount -o loop "$T/fs.img" "$M" 2>/dev/null; then
    KIND=ext4
  elif mount -t tmpfs -o size=4m gxscratch "$M"; then
    KIND=tmpfs
  fi
fi
echo "scratch object: $KIND"
[ "$KIND" = dir ] && echo "skip: the FIFREEZE/FS_IOC_SETFSLABEL controls need root (a mount namespace); only the seccomp denial is checked"
echo data >"$M/file"
echo data >"$M/control"

# One artifact per request: the child may READ the scratch tree, nothing else.
try() { # REQUEST
  art "ioc_$1" --read "$M" -- "$H/try_ioctl" "$1" "$M/file"
  run R "$T/ioc_$1.toml" -- "$H/try_ioctl" "$1" "$M/file"
  if [ "$RC" = 1 ] && [ "$(head -1 "$T/out")" = EPERM ]; then ok; else
    bad "$1 under gx: exit $RC output '$(head -1 "$T/out")', wanted EPERM; stderr: $(head -c 300 "$T/err")"
  fi
}

try FIFREEZE
# nothing happened: the file system still takes writes (a frozen one blocks)
check "scratch file system not frozen" timeout 5 sh -c "echo more >>'$M/file' && sync '$M/file'"
try FS_IOC_SETFLAGS
if command -v lsattr >/dev/null && lsattr -d "$M/file" >/dev/null 2>&1; then
  refute "no immutable flag on the file" sh -c "lsattr '$M/file' | cut -d' ' -f1 | grep -q i"
fi
check "file still writable" sh -c "echo more >>'$M/file'"
try FS_IOC_SETFSLABEL
if [ "$KIND" = ext4 ]; then
  check "label unchanged" test "$(e2label "$T/fs.img" 2>/dev/null || blkid -o value -s LABEL "$T/fs.img")" = gxscratch
fi

# Controls: outside gx the same helper reaches the kernel (a different answer
# than EPERM: ok, or the file system's own EOPNOTSUPP/ENOTTY), so the EPERMs
# above are seccomp's.
if [ "$KIND" != dir ]; then
  for r in FIFREEZE FS_IOC_SETFLAGS FS_IOC_SETFSLABEL; do
    out=$("$H/try_ioctl" "$r" "$M/control")
    check "control: $r outside gx reaches the kernel ($out)" test "$out" != EPERM
  done
  chattr -i "$M/control" 2>/dev/null
  [ "$KIND" = ext4 ] && check "control relabelled the scratch fs" test "$(e2label "$T/fs.img" 2>/dev/null)" = gxpwned
  umount "$M"
fi

# An artifact may opt in by name (and then the kernel decides).
art_edit ioc_optin 's/^log_denials = .*/&\nioctls = ["FS_IOC_SETFLAGS"]/' --read "$T/w" -- "$H/try_ioctl" FS_IOC_SETFLAGS "$T/w/f"
echo x >"$T/w/f"
run R "$T/ioc_optin.toml" -- "$H/try_ioctl" FS_IOC_SETFLAGS "$T/w/f"
if [ "$(id -u)" = 0 ]; then
  check "opt-in by name: the request is no longer refused by seccomp ($(head -1 "$T/out"))" test "$(head -1 "$T/out")" != EPERM
else
  # Unprivileged, the kernel itself answers EPERM (CAP_LINUX_IMMUTABLE), so
  # EPERM cannot tell seccomp's refusal from the kernel's here.
  echo "skip: the opt-in control needs root (the kernel refuses FS_IOC_SETFLAGS to others with EPERM too)"
fi
chattr -i "$T/w/f" 2>/dev/null
finish
