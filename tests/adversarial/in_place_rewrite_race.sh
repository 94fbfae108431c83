#!/usr/bin/env bash
# Attack: rewrite a root-owned program gx executes in place, in the window between its digest and its exec (another root process with write access to it: a root-run command whose write grant covers it, directly or through a bind mount or hard link). gx holds writers off with a read lease from before the digest to the exec (lib/executable.h); before, the rewritten bytes ran under the artifact of the original (reviews helper-33, helper-38).
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"

if [ "$(id -u)" != 0 ]; then
  echo "# skip: gx executes in place only programs that root alone can change, and only root may lease them (uid $(id -u))"
  finish
  exit
fi

# The program: root's, in a root-only directory (executed in place). The
# impostor: the marker program, which must never run under prog's artifact.
mkdir -p "$T/sys" && chmod 755 "$T/sys"
cp /usr/bin/true "$T/sys/prog" && chmod 755 "$T/sys/prog"
cp /usr/bin/true "$T/orig"
cp "$MARK" "$T/evil"
art prog --max-uses 100000 --write "$W" -- "$T/sys/prog" "$W/m"
run R --report "$T/rep.json" "$T/prog.toml" -- "$T/sys/prog" "$W/m"
check "control: the program runs in place (rc $RC, $(head -c 200 "$T/err"))" test "$(jq -r .exec_image.in_place "$T/rep.json")" = true
check "control: the program is not the marker" test ! -e "$W/m"

# A writer that swaps the bytes back and forth as fast as it can, through
# the same inode (open for writing, truncate, write), never by rename.
# Each version stays a few milliseconds, about as long as gx takes from
# its digest to the exec.
python3 - "$T/sys/prog" "$T/orig" "$T/evil" "$T/stop" <<'EOF' &
import os, random, sys, time
prog, orig, evil, stop = sys.argv[1:5]
o, e = open(orig, "rb").read(), open(evil, "rb").read()
while not os.path.exists(stop):
    for data in (e, o):
        try:
            fd = os.open(prog, os.O_WRONLY | os.O_TRUNC)
            os.write(fd, data)
            os.close(fd)
        except OSError:
            pass  # ETXTBSY while it runs
        time.sleep(random.uniform(0.0005, 0.004))
EOF
WRITER=$!
ran=0 denied=0 other=0
end=$((SECONDS + 20))
for i in $(seq 1 400); do
  [ $SECONDS -lt $end ] || break
  R "$T/prog.toml" -- "$T/sys/prog" "$W/m" >/dev/null 2>>"$T/errs"
  case $? in
    0) ran=$((ran + 1)) ;;
    126) denied=$((denied + 1)) ;;
    *) other=$((other + 1)) ;;
  esac
  [ -e "$W/m" ] && break
done
touch "$T/stop"
wait "$WRITER"
sort "$T/errs" | cut -c1-160 | uniq -c | sort -rn | head -4 | sed "s|^|# |"
echo "# $i runs: $ran ran, $denied denied (digest changed before it was read), $other other"
no_marker "the rewritten bytes never ran under the original's artifact"
check "some runs ran the real program ($ran)" test "$ran" -gt 0
cp "$T/orig" "$T/sys/prog"

# On an overlay, the lower layer's file can be written without touching the
# overlay inode gx leases (review helper-40): such a program is copied.
mkdir -p "$T/ov/lower" "$T/ov/upper" "$T/ov/work" "$T/ov/m"
cp /usr/bin/true "$T/ov/lower/prog" && chmod 755 "$T/ov/lower/prog" "$T/ov" "$T/ov/m"
if mount -t overlay overlay -o "lowerdir=$T/ov/lower,upperdir=$T/ov/upper,workdir=$T/ov/work" "$T/ov/m" 2>/dev/null; then
  art ovl --max-uses 5 --write "$W" -- "$T/ov/m/prog"
  run R --report "$T/rep.json" "$T/ovl.toml" -- "$T/ov/m/prog"
  check "a program on overlayfs runs (rc $RC, $(head -c 200 "$T/err"))" test "$RC" = 0
  check "from a sealed copy ($(jq -c .exec_image "$T/rep.json"))" \
    test "$(jq -r '.exec_image.in_place, .exec_image.copy_reason' "$T/rep.json" | tr '\n' ' ')" = "false $T/ov/m/prog is on a union (overlay) file system "
  umount "$T/ov/m"
else
  echo "# skip: overlay part: cannot mount overlayfs here"
fi
expect_rc 0 "gx log verify" "$GX" log verify --state "$S"
finish
