# Attack: the child changes limits, priority, scheduling, I/O priority or CPU affinity of a process outside its tree (gx itself, or an unrelated process), e.g. prlimit64(gx, RLIMIT_FSIZE, 1).
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
sleep 300 &
VICTIM=$!
limits() { grep "Max open files" "/proc/$VICTIM/limits"; cat "/proc/$VICTIM/stat" | cut -d' ' -f19; taskset -p "$VICTIM" 2>/dev/null; }
before=$(limits)
ALL='s/^groups = .*/groups = ["default", "process"]/'
for op in prlimit setpriority affinity scheduler ioprio migrate; do
  art_edit "pid_$op" "$ALL" -- "$H/try_pid_limits" "$op" "$VICTIM"
  run R "$T/pid_$op.toml" -- "$H/try_pid_limits" "$op" "$VICTIM"
  if [ "$RC" = 1 ] && [ "$(head -1 "$T/out")" = EPERM ]; then ok; else
    bad "$op on an unrelated pid: exit $RC output '$(head -1 "$T/out")', wanted EPERM; stderr: $(head -c 300 "$T/err")"
  fi
done
art_edit pid_user "$ALL" -- "$H/try_pid_limits" setpriority-user -
probe_out=$(R "$T/pid_user.toml" -- "$H/try_pid_limits" setpriority-user - 2>/dev/null)
check "setpriority(PRIO_USER) refused ($probe_out)" test "$probe_out" = EPERM
check "the unrelated process is unchanged" test "$(limits)" = "$before"
# gx itself: its parent pid is gx (try_kill_parent style): use "$PPID" from the child via sh
# a script's $PPID is gx: the helper targets it
printf '#!/bin/sh\nexec %s prlimit "$PPID"\n' "$T/bin/limit-gx.helper" >"$T/bin/limit-gx.sh"
cp "$H/try_pid_limits" "$T/bin/limit-gx.helper"
chmod +x "$T/bin/limit-gx.sh"
art_edit pid_gx2 "$ALL" --exec "$T/bin" --exec /usr/bin/dash --exec /bin/dash -- "$T/bin/limit-gx.sh"
run R "$T/pid_gx2.toml" -- "$T/bin/limit-gx.sh"
check "prlimit64 on gx refused ($(head -1 "$T/out"); $(head -c 200 "$T/err"))" test "$(head -1 "$T/out")" = EPERM
check "gx exited with the child's status (1), not killed" test "$RC" = 1
# controls: the same calls on the child itself (pid 0) still work
for op in prlimit setpriority affinity; do
  art_edit "self_$op" "$ALL" -- "$H/try_pid_limits" "$op" 0
  run R "$T/self_$op.toml" -- "$H/try_pid_limits" "$op" 0
  check "control: $op on itself (pid 0) works ($(head -1 "$T/out"))" test "$(head -1 "$T/out")" = ok
done
# control: outside gx the helper can change the victim (so the EPERMs are the filter's)
if [ "$(id -u)" = 0 ]; then
  check "control: prlimit on the victim outside gx" test "$("$H/try_pid_limits" prlimit "$VICTIM")" = ok
fi
kill "$VICTIM" 2>/dev/null
finish
