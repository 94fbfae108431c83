#!/usr/bin/env bash
# The gate's last look at a program executed in place (lib/run_pipeline.cc,
# before_exec): a writer that comes after the digest is refused with
# environmental-integrity, deterministically. gx is held between its digest
# and its gate by the receipt log's lock (taken after matching), the writer
# comes, the lock is released. Root gx holds a read lease, so the writer's
# open breaks it ("opened for writing"); a gx that is not root cannot lease
# root's file and compares the file's stamp instead ("was changed"). Either
# way the program must never start: it is the marker program.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"

if [ "$(id -u)" != 0 ]; then
  echo "# skip: gx executes in place only programs that root alone can change; changing one needs root (uid $(id -u))"
  finish
  exit
fi

mkdir -p "$T/sys" && chmod 755 "$T/sys"
cp "$MARK" "$T/sys/prog" && chmod 755 "$T/sys/prog"
PROG_INO=$(stat -c %i "$T/sys/prog")

# hold_log_lock STATE: takes the receipt log's lock (flock, as gx does) until
# $T/release exists; $T/held once it is held.
hold_log_lock() {
  rm -f "$T/held" "$T/release"
  python3 - "$1/receipts.log" "$T/held" "$T/release" <<'EOF' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.01)
EOF
  HOLDER=$!
  for _ in $(seq 1 500); do [ -e "$T/held" ] && return 0; sleep 0.01; done
  return 1
}
# waits_on_lock FILE: someone is blocked on FILE's flock (/proc/locks "->")
waits_on_lock() {
  local ino
  ino=$(stat -c %i "$1")
  grep -- '->' /proc/locks | grep -q ":$ino "
}
wait_for() { # CMD...: up to 10 s
  for _ in $(seq 1 1000); do "$@" && return 0; sleep 0.01; done
  return 1
}
lease_on_prog() { grep -q "LEASE.*:$PROG_INO " /proc/locks; }
# refused_at_gate STATE MARKER TEXT DESC: releases the log's lock, then gx
# (GXPID) must end not started with environmental-integrity and TEXT, the
# marker absent, and STATE's newest receipt a not-started one saying so.
refused_at_gate() {
  local state=$1 marker=$2 text=$3 desc=$4 rc last
  touch "$T/release"
  wait "$HOLDER"
  wait "$GXPID"
  rc=$?
  if [ "$rc" = 127 ] && grep -q "gx: not started (environmental-integrity)" "$T/err" &&
    grep -qF "the program $T/sys/prog $text after it was verified" "$T/err"; then ok; else
    bad "$desc: exit $rc, wanted 127 not started, environmental-integrity ($text); stderr: $(head -c 400 "$T/err")"
  fi
  no_marker "$desc: the program never started" "$marker"
  last=$("$GX" log show --state "$state" --json --tail 1 | tail -n 1)
  check "$desc: its receipt says not started, environmental-integrity ($last)" \
    test "$(jq -r '.decision + " " + .reason' <<<"$last")" = "not-started environmental-integrity"
}

# ---- root gx: a read lease, broken by an open for writing ------------------
art prog --max-uses 10 --write "$W" -- "$T/sys/prog" "$W/m"
run R --report "$T/rep.json" "$T/prog.toml" -- "$T/sys/prog" "$W/m"
check "control: runs (rc $RC, $(head -c 200 "$T/err"))" test "$RC" = 0
check "control: in place ($(jq -c .exec_image "$T/rep.json"))" test "$(jq -r .exec_image.in_place "$T/rep.json")" = true
has_marker "control: the program ran"

hold_log_lock "$S" || bad "could not take the receipt log's lock"
R "$T/prog.toml" -- "$T/sys/prog" "$W/m" >"$T/out" 2>"$T/err" &
GXPID=$!
check "gx waits on the log's lock" wait_for waits_on_lock "$S/receipts.log"
check "holding a lease on the program meanwhile ($(grep LEASE /proc/locks))" lease_on_prog
# The writer: O_NONBLOCK, so it does not wait out the lease; its open still
# breaks it (fcntl(2)), which is what the gate asks.
check "the writer is held off (EWOULDBLOCK)" python3 -c '
import errno, os, sys
try:
    os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
except OSError as e:
    sys.exit(0 if e.errno == errno.EWOULDBLOCK else 1)
sys.exit(1)' "$T/sys/prog"
refused_at_gate "$S" "$W/m" "was opened for writing by another process" "a writer after the digest"
expect_rc 0 "the next run, no writer: runs" R "$T/prog.toml" -- "$T/sys/prog" "$W/m"
has_marker "and the program ran"

# ---- gx as another user: no lease on root's file, the stamp is compared ----
if ! command -v setpriv >/dev/null; then
  echo "# skip: unprivileged part: no setpriv"
  finish
  exit
fi
NB="setpriv --reuid 65534 --regid 65534 --clear-groups"
U=$T/u
mkdir -p "$U/state" "$U/w" && chown 65534:65534 "$U/state" "$U/w" && chmod 755 "$U"
art nb --no-bind-user --max-uses 10 --write "$U/w" -- "$T/sys/prog" "$U/w/m"
chmod 644 "$T/nb.toml"
NR() { $NB env HOME=/nonexistent "$GX" run --trust "$TR" --state "$U/state" "$@"; }
run NR --report "$U/w/rep.json" "$T/nb.toml" -- "$T/sys/prog" "$U/w/m"
check "control (uid 65534): runs (rc $RC, $(head -c 200 "$T/err"))" test "$RC" = 0
check "control (uid 65534): in place, no lease possible ($(jq -c .exec_image "$U/w/rep.json" 2>&1 | head -c 300))" \
  test "$(jq -r .exec_image.in_place "$U/w/rep.json")" = true
has_marker "control (uid 65534): the program ran" "$U/w/m"

hold_log_lock "$U/state" || bad "could not take the receipt log's lock (uid 65534's state)"
NR "$T/nb.toml" -- "$T/sys/prog" "$U/w/m" >"$T/out" 2>"$T/err" &
GXPID=$!
check "gx (uid 65534) waits on the log's lock" wait_for waits_on_lock "$U/state/receipts.log"
refute "no lease: root's file cannot be leased by uid 65534" lease_on_prog
# The file's bytes and size stay; only its stamp moves (a same-size rewrite
# would look the same to the gate).
chmod 755 "$T/sys/prog"
touch -d '2001-01-01' "$T/sys/prog"
refused_at_gate "$U/state" "$U/w/m" "was changed (written, replaced or its attributes)" \
  "a changed stamp after the digest (uid 65534)"
expect_rc 0 "gx log verify (root's state)" "$GX" log verify --state "$S"
finish
