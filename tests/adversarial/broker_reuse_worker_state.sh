#!/usr/bin/env bash
# Attack: callers of one broker send hostile requests (denied, signalled, disconnected mid-run, a dry run, stdio flags and F_SETOWN changed, a descendant left running) so that the worker serving them, once reused, hands the next caller a changed process: another cwd, umask, mask, ignored or pending signal, limit, priority, descriptor, environment.
# Holds: a reused worker is, after each request, the process it was before its first
# (lib/process_baseline.h; docs/security.md, "A reused worker"). Checked two ways: the next
# caller's command sees exactly what the first caller's saw, and the worker's /proc state
# (status, limits, scheduling; as root also cwd, environment, descriptors, namespaces) is
# unchanged. Every request is kept on one worker by killing the spares the broker starts.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
PY=$(command -v python3) || {
  echo "SKIP: python3 is not installed"
  finish
}

# What a command sees of the process it was started by (its pid and parent aside).
PROBE=(
  "$PY" -c '
import os, resource
st = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
print("cwd", os.getcwd(), "umask", oct(os.umask(0o22)), "uid", os.getresuid(), "gid", os.getresgid(),
      "groups", sorted(os.getgroups()))
for k in ("NoNewPrivs", "Seccomp", "Cpus_allowed_list", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
          "SigBlk", "SigIgn", "SigPnd", "ShdPnd"):
    print(k, st[k].strip())
print("nice", os.nice(0), "sched", os.sched_getscheduler(0), "env", sorted(os.environ))
print("limits", [resource.getrlimit(getattr(resource, r)) for r in sorted(dir(resource)) if r.startswith("RLIMIT_")])
print("fds", sorted(os.listdir("/proc/self/fd")))
')
art probe --max-uses 10 --read /proc -- "${PROBE[@]}"
art nap --max-uses 10 -- /bin/sleep 3
art bg --max-uses 10 --exec /bin/sleep --exec /usr/bin/sleep -- /bin/sh -c '/bin/sleep 30 & exit 0'
art flags --max-uses 10 -- "$PY" -c '
import fcntl, os
for fd in (0, 1, 2):
    fcntl.fcntl(fd, fcntl.F_SETFL, os.O_NONBLOCK | os.O_APPEND)
    fcntl.fcntl(fd, fcntl.F_SETOWN, os.getppid())
'

children() { pgrep -P "$BROKER_PID" | sort; }
only_child_is() { [ "$(children)" = "$1" ]; }
threads_are() { [ "$(ls "/proc/$1/task" 2>/dev/null | wc -l)" = "$2" ]; }

# keep W CMD...: runs CMD in the background and kills every other child of
# the broker until it is over and W is the broker's idle spare again.
# Returns CMD's status, or LOST when W is gone: the broker lets an idle
# worker go when it has a spare, and it starts one after 250 ms of a busy
# request (and again 1 s after one was killed) -- one may come up just as W
# goes idle, faster than this loop kills it. The test then starts over.
LOST=99
keep() {
  local w=$1 c rc
  shift
  "$@" &
  c=$!
  while kill -0 "$c" 2>/dev/null; do
    for p in $(children); do [ "$p" = "$w" ] || kill -KILL "$p" 2>/dev/null; done
    sleep 0.02
  done
  wait "$c"
  rc=$?
  for _ in $(seq 100); do
    kill -0 "$w" 2>/dev/null || return "$LOST"
    only_child_is "$w" && threads_are "$w" 1 && return "$rc"
    for p in $(children); do [ "$p" = "$w" ] || kill -KILL "$p" 2>/dev/null; done
    sleep 0.05
  done
  return "$LOST"
}

# A snapshot of the worker's process state; what its uid may not read of a
# non-dumpable process (as an unprivileged user) is left out, the same way
# both times.
snapshot() {
  local p=$1 n
  # (SigQ counts the signals queued to the whole uid, in any of its processes)
  grep -vE '^(Vm|Rss|HugetlbPages|voluntary_ctxt|nonvoluntary_ctxt|Mems_allowed|State|SigQ)' "/proc/$p/status"
  cat "/proc/$p/limits"
  # nice, priority, policy, rt priority (not the flags: PF_SUPERPRIV, set by use)
  awk '{print "stat", $18, $19, $40, $41}' "/proc/$p/stat"
  cat "/proc/$p/cgroup"
  echo "oom_score_adj $(cat "/proc/$p/oom_score_adj") timerslack $(cat "/proc/$p/timerslack_ns" 2>/dev/null)"
  echo "cwd $(readlink "/proc/$p/cwd" 2>/dev/null) root $(readlink "/proc/$p/root" 2>/dev/null)"
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | sort | md5sum
  for n in "/proc/$p"/ns/*; do echo "ns ${n##*/} $(readlink "$n" 2>/dev/null)"; done
  for n in $(ls "/proc/$p/fd" 2>/dev/null); do
    echo "fd $n $(readlink "/proc/$p/fd/$n") $(grep -E '^(flags|mnt_id|ino)' "/proc/$p/fdinfo/$n" | tr '\n' ' ')"
  done
  cat "/proc/$p/timers" 2>/dev/null || true # unreadable to its uid when not root
}

start_broker || finish
# A receipt key younger than 2 s is loaded again by every request (racy
# stamp), and a worker that loaded state is not reused: let it age first.
racy_window_passed
expect_rc 0 "a first request" B "$T/nap.toml" -- /bin/sleep 3
[ "$(id -u)" = 0 ] || echo "not root: the worker is not dumpable, so its cwd, environment and descriptors are not compared"

# step NAME CMD...: CMD on W; its status in $T/rc.NAME. Fails when W was lost.
step() {
  local name=$1 rc
  shift
  keep "$W" "$@"
  rc=$?
  echo "$rc" >"$T/rc.$name"
  [ "$rc" != "$LOST" ]
}
probe() { B "$T/probe.toml" -- "${PROBE[@]}" >"$T/$1" 2>"$T/$1.err"; }
denied() { B "$T/probe.toml" -- "$PY" -c 'print("not signed")' >/dev/null 2>"$T/denied.err"; }
dry() { B --dry-run "$T/probe.toml" -- "${PROBE[@]}" >/dev/null 2>"$T/dry.err"; }
signalled() {
  "$GX" run --broker "$SOCK" "$T/nap.toml" -- /bin/sleep 3 &
  local c=$!
  sleep 0.5
  kill -USR1 "$c"
  kill -HUP "$c"
  wait "$c"
}
disconnected() {
  "$GX" run --broker "$SOCK" "$T/nap.toml" -- /bin/sleep 3 &
  local c=$!
  sleep 0.5
  kill -KILL "$c"
  wait "$c"
  sleep 0.5 # the worker terminates the command and records it
}
stdio_flags() {
  B "$T/flags.toml" -- "$PY" -c '
import fcntl, os
for fd in (0, 1, 2):
    fcntl.fcntl(fd, fcntl.F_SETFL, os.O_NONBLOCK | os.O_APPEND)
    fcntl.fcntl(fd, fcntl.F_SETOWN, os.getppid())
' </dev/null >/dev/null 2>&1
}
background() { B "$T/bg.toml" -- /bin/sh -c '/bin/sleep 30 & exit 0' </dev/null >/dev/null 2>&1; }

# One pass on one worker W: its state, the first probe, the hostile
# requests, the last probe, its state again. Fails when W was lost.
attempt() {
  wait_for one_child || return 1
  W=$(children)
  wait_for threads_are "$W" 1 || return 1
  snapshot "$W" >"$T/before"
  step probe1 probe probe1 || return 1
  step denied denied || return 1
  step dry dry || return 1
  step signalled signalled || return 1
  step disconnected disconnected || return 1
  step flags stdio_flags || return 1
  step background background || return 1
  step probe2 probe probe2 || return 1
  snapshot "$W" >"$T/after"
  return 0
}
one_child() { [ "$(children | wc -l)" = 1 ]; }
for try in 1 2 3; do
  attempt && break
  echo "attempt $try: the worker under test was let go (a spare came up as it went idle); again" >&2
  W=""
done
check "one worker served a whole pass (attempts: $try)" test -n "$W"
rc() { cat "$T/rc.$1" 2>/dev/null; }
check "the first probe ran (exit $(rc probe1)): $(head -c 300 "$T/probe1.err")" grep -q '^fds ' "$T/probe1"
check "an unsigned argv is denied (exit $(rc denied))" grep -q "gx: denied (policy-mismatch)" "$T/denied.err"
check "the dry run was allowed (exit $(rc dry)): $(head -c 300 "$T/dry.err")" test "$(rc dry)" = 0
check "a forwarded signal ended the command (exit $(rc signalled): 129 SIGHUP or 138 SIGUSR1)" \
  test "$(rc signalled)" = 129 -o "$(rc signalled)" = 138
check "the stdio-flags command ran (exit $(rc flags))" test "$(rc flags)" = 0
check "the command leaving a descendant ran (exit $(rc background))" test "$(rc background)" = 0
check "the last probe ran (exit $(rc probe2)): $(head -c 300 "$T/probe2.err")" grep -q '^fds ' "$T/probe2"
check "the next caller's command sees what the first caller's saw: $(diff "$T/probe1" "$T/probe2" | head -c 600)" \
  cmp -s "$T/probe1" "$T/probe2"
# The worker's last Landlock ruleset is kept on purpose (lib/ruleset_cache.h): two descriptors of
# one ruleset, and nothing else that differs.
kept=$(grep -c 'anon_inode:\[landlock-ruleset\]' "$T/after")
# (Not as another user: the worker is not dumpable and its descriptors are not listed, above.)
[ "$(id -u)" = 0 ] && check "the kept ruleset's two descriptors are all that is new ($kept)" test "$kept" = 2
grep -v 'anon_inode:\[landlock-ruleset\]' "$T/before" >"$T/before.cmp"
grep -v 'anon_inode:\[landlock-ruleset\]' "$T/after" >"$T/after.cmp"
diff "$T/before.cmp" "$T/after.cmp" >&2
check "the worker's process state is unchanged: $(diff "$T/before.cmp" "$T/after.cmp" | head -c 600)" \
  cmp -s "$T/before.cmp" "$T/after.cmp"
check "the broker log has no 'not reused' line" bash -c "! grep -q 'is not reused' '$T/broker.log'"
stop_broker
finish
