#!/usr/bin/env bash
# One device flush per run (lib/run_record.h): the authorized receipt is the durable record of a
# spent use and uses.db a cache of the log. Through the real binary:
#  - a power loss simulated by restoring uses.db/uses.db-wal to their bytes from before a run, with
#    the store's recorded boot id from an earlier boot (what a reboot leaves): a max-uses 1
#    artifact is denied replay, and the child never runs;
#  - a malformed receipt in the range the store is reconciled from: refused, naming the file and
#    byte, nothing runs;
#  - N concurrent runs of a max-uses N artifact plus one: exactly N children run, one replay;
#  - uses.db-wal stays bounded over many runs (every process is SQLite's first connection);
#  - one fdatasync per run, before the exec (strace, when available).
source "$(dirname "$0")/lib/common.bash"
mkdir -p "$T/k" "$T/w"
"$GX" keygen -o "$T/k/a" >/dev/null 2>&1
"$GX" trust add "$T/k/a.pub" --name a --trust "$T/k/trust.toml" >/dev/null 2>&1
cd "$T/w"
S=$T/state
art() {  # art NAME MAXUSES -- CMD...
  local name=$1 uses=$2
  shift 3
  "$GX" init -o "$T/$name.toml" --max-uses "$uses" --write "$T/w" --group filesystem -- "$@" 2>/dev/null &&
    "$GX" sign -k "$T/k/a.key" "$T/$name.toml" 2>/dev/null
}
R() { "$GX" run --trust "$T/k/trust.toml" --state "$S" "$@"; }

art warm 100 -- /bin/true
art once 1 -- /usr/bin/touch "$T/w/m.once"
expect_rc 0 "a first run creates and reconciles the store" R "$T/warm.toml" -- /bin/true

if command -v sqlite3 >/dev/null; then
  # --- power loss: the store loses the run's commit, the log keeps its synced receipt ---
  cp "$S/uses.db" "$T/uses.db.before" && cp "$S/uses.db-wal" "$T/uses.db-wal.before"
  expect_rc 0 "the one use" R "$T/once.toml" -- /usr/bin/touch "$T/w/m.once"
  check "the child ran once" test -e "$T/w/m.once"
  rm -f "$T/w/m.once"
  cp "$T/uses.db.before" "$S/uses.db" && cp "$T/uses.db-wal.before" "$S/uses.db-wal" && rm -f "$S/uses.db-shm"
  expect_rc 0 "the restored store alone has forgotten the use (same boot: trusted as is)" \
    R --dry-run "$T/once.toml" -- /usr/bin/touch "$T/w/m.once"
  # After a reboot the store's boot id is the previous boot's.
  sqlite3 "$S/uses.db" "UPDATE log_sync SET boot_id = 'the-boot-before-the-power-loss'"
  rm -f "$S/uses.db-shm"
  expect_denied replay "dry run after the power loss" R --dry-run "$T/once.toml" -- /usr/bin/touch "$T/w/m.once"
  expect_denied replay "run after the power loss" R "$T/once.toml" -- /usr/bin/touch "$T/w/m.once"
  check "the child never ran again" test ! -e "$T/w/m.once"
  d=$("$GX" log show --state "$S" --json | jq -r 'select(.decision == "authorized" and .argv[0] == "/usr/bin/touch") | .artifact_digest' | head -1)
  check "the store counts it again" test "$(sqlite3 "$S/uses.db" "SELECT spent FROM uses WHERE digest = '$d'")" = 1
  check "log verifies" "$GX" log verify --state "$S"

  # --- a malformed record in the reconciled range: refused, nothing runs ---
  S=$T/state2
  art mal 10 -- /usr/bin/touch "$T/w/m.mal"
  for i in 1 2; do expect_rc 0 "run $i" R "$T/mal.toml" -- /usr/bin/touch "$T/w/m.mal"; done
  rm -f "$T/w/m.mal"
  # Receipt 2 of 4 given another seq in place (same length: the log's tail and head still agree).
  off=$(python3 - "$S/receipts.log" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
second = b.index(b"\n") + 1
at = b.index(b'"seq":2,', second)
b[at + 6] = ord("7")
open(p, "wb").write(bytes(b))
print(second)
PY
)
  sqlite3 "$S/uses.db" "UPDATE log_sync SET boot_id = 'the-boot-before-the-power-loss'"
  expect_denied log-tampered "malformed receipt in the reconciled range" R "$T/mal.toml" -- /usr/bin/touch "$T/w/m.mal"
  check "the reason names the file and byte" grep -q "receipts.log at byte $off (seq 2): sequence number 7" "$T/err"
  check "the child never ran" test ! -e "$T/w/m.mal"
  S=$T/state
else
  echo "sqlite3 not installed: power-loss cases skipped"
fi

# --- N concurrent runs of a max-uses N artifact, plus one ---
S=$T/state3
N=8
art conc "$N" -- /bin/sh -c "echo ran >>$T/w/conc.count"
: >"$T/w/conc.count"
for i in $(seq $((N + 1))); do R "$T/conc.toml" -- /bin/sh -c "echo ran >>$T/w/conc.count" >/dev/null 2>&1 & done
wait
check "exactly $N children ran (got $(wc -l <"$T/w/conc.count"))" test "$(wc -l <"$T/w/conc.count")" = "$N"
check "one replay denial" test "$("$GX" log show --state "$S" --json --denied | jq -r .reason | grep -c replay)" = 1
check "log verifies after the race" "$GX" log verify --state "$S"

# --- the use store's WAL stays bounded (UseStore::bound_wal), counts intact ---
S=$T/state4
art many 200 -- /usr/bin/touch "$T/w/m.many"
for i in $(seq 90); do R "$T/many.toml" -- /usr/bin/touch "$T/w/m.many" >/dev/null 2>&1 || break; done
check "90 runs ran" test "$("$GX" log show --state "$S" --json | jq -r .decision | grep -c finished)" = 90
wal=$(stat -c %s "$S/uses.db-wal")
check "uses.db-wal stays near 256 KiB after 90 runs (got $wal bytes)" test "$wal" -le $((256 * 1024 + 16384))
if command -v sqlite3 >/dev/null; then
  d=$("$GX" log show --state "$S" --json | jq -r 'select(.decision == "authorized") | .artifact_digest' | head -1)
  check "the store still counts 90 spent uses" test "$(sqlite3 "$S/uses.db" "SELECT spent FROM uses WHERE digest = '$d'")" = 90
fi
S=$T/state3

# --- one device flush per run, before the exec ---
# (Skipped where strace is missing or ptrace is not allowed.)
if command -v strace >/dev/null &&
  strace -f -o "$T/strace" -e trace=fsync,fdatasync,execveat "$GX" run --trust "$T/k/trust.toml" --state "$S" \
    "$T/warm.toml" -- /bin/true >/dev/null 2>&1 && grep -q "execveat(" "$T/strace"; then
  syncs=$(grep -Ec "fsync\(|fdatasync\(" "$T/strace")
  first_exec=$(grep -n "execveat(" "$T/strace" | head -1 | cut -d: -f1)
  # Where the sync RETURNED: its own line, or "<... fdatasync resumed>" when it ran on gx's other
  # thread while the child set itself up (spawn_confined's gate).
  last_sync=$(grep -nE "f(data)?sync\([0-9]+\) += |<\.\.\. f(data)?sync resumed>" "$T/strace" | tail -1 | cut -d: -f1)
  check "one sync per run (got $syncs)" test "$syncs" = 1
  check "the sync returned before the exec began (lines ${last_sync:-none}, $first_exec)" \
    test -n "$last_sync" -a "${last_sync:-0}" -lt "${first_exec:-0}"
  # The sync goes through the descriptor the authorized receipt was written through, never one
  # opened afterwards: a new description does not report a writeback error another process's
  # fsync has already seen (errseq), so it could "succeed" for a receipt that never reached the
  # disk (lib/receipt_log.h, AppendedReceipt::written_through).
  strace -f -o "$T/strace2" -e trace=openat,write,close,fdatasync,clone,clone3 "$GX" run \
    --trust "$T/k/trust.toml" --state "$S" "$T/warm.toml" -- /bin/true >/dev/null 2>&1
  verdict=$(python3 - "$T/strace2" <<'PY'
import re, sys
log_fds, written, closed_after_write = set(), None, False
opening = set()  # pids in an unfinished openat of receipts.log (gx opens it on two threads)
# gx's own threads share its descriptor table (CLONE_FILES); the child it starts has its own,
# and its closes (of everything it must not inherit) say nothing about gx's descriptors.
# Found in a first pass: a thread's own lines may come before its creator's "= TID".
lines = open(sys.argv[1]).read().splitlines()
own, cloning = set(), {}
for line in lines:
    pid = line.split(None, 1)[0]
    if not own:
        own.add(pid)
    m = re.search(r'clone3?\((.*)', line)
    if m and pid in own:
        cloning[pid] = "CLONE_FILES" in m.group(1)
    m = re.search(r'clone3?\(.* = (\d+)$', line) or re.search(r'<\.\.\. clone3? resumed>.* = (\d+)$', line)
    if m and cloning.pop(pid, False):
        own.add(m.group(1))
for line in lines:
    pid = line.split(None, 1)[0]
    if pid not in own:
        continue
    m = re.search(r'openat\(.*"receipts\.log".* = (\d+)$', line)
    if m:
        log_fds.add(m.group(1))
        continue
    if re.search(r'openat\(.*"receipts\.log".*<unfinished \.\.\.>', line):
        opening.add(pid)
        continue
    m = re.search(r'<\.\.\. openat resumed>.* = (\d+)$', line)
    if m and pid in opening:
        opening.discard(pid)
        log_fds.add(m.group(1))
        continue
    m = re.search(r'write\((\d+), "\{', line)
    if m and m.group(1) in log_fds and written is None:
        written = m.group(1)
        continue
    # strace -f: a call another thread interrupts shows as "fdatasync(11 <unfinished ...>".
    m = re.search(r'close\((\d+)[ )]', line)
    if m and written is not None and m.group(1) == written:
        closed_after_write = True
    # A log descriptor closed before the receipt's write is no longer one: its number may be
    # reused (by gx's other thread) for another file that gx writes JSON to, a cache or the head.
    if m and written is None:
        log_fds.discard(m.group(1))
    m = re.search(r'fdatasync\((\d+)[ )]', line)
    if m and written is not None:
        print("same" if m.group(1) == written and not closed_after_write else "other")
        break
else:
    print("none")
PY
)
  check "the receipt is synced through the descriptor that wrote it (got: $verdict)" test "$verdict" = same
fi
finish
