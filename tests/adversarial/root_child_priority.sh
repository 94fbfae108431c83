#!/usr/bin/env bash
# Attack: a root command (no [run] user) takes real-time priority or a negative nice value and starves every other process on the host (review helper-41: SCHED_FIFO with the process group). A privileged gx now drops CAP_SYS_NICE from an unswitched command, as it drops CAP_SETFCAP and CAP_FSETID.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
if [ "$(id -u)" != 0 ]; then
  echo "# skip: only a root command has CAP_SYS_NICE to lose (uid $(id -u))"
  finish
  exit
fi
PY=/usr/bin/python3
TRY='import os, sys
def attempt(name, f):
    try:
        f()
        print(name, "ok")
    except OSError as e:
        print(name, "errno", e.errno)
attempt("fifo", lambda: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1)))
attempt("nice", lambda: os.setpriority(os.PRIO_PROCESS, 0, -5))
attempt("raise-nice", lambda: os.setpriority(os.PRIO_PROCESS, 0, 5))
open(sys.argv[1], "w").write("ran")'
art prio --max-uses 5 --group process --write "$W" -- $PY -c "$TRY" "$W/m"
run R "$T/prio.toml" -- $PY -c "$TRY" "$W/m"
check "the command ran (rc $RC, $(head -c 200 "$T/err"))" test -e "$W/m"
check "no real-time priority ($(grep fifo "$T/out"))" grep -qx "fifo errno 1" "$T/out"
check "no negative nice value ($(grep '^nice' "$T/out"))" grep -qx "nice errno 13" "$T/out"
check "control: lowering its own priority still works" grep -qx "raise-nice ok" "$T/out"
finish
