#!/usr/bin/env bash
# gx broker + gx run --broker, as one user (root or not): stdio passthrough in a
# pipeline, exit codes and 128+N, forwarded signals, refused flags, the broker's
# fixed state (one use across clients, racing connections, revocation), receipts'
# peer fields, --dry-run/--json/--report, a client that disconnects mid-run, and
# the broker killed mid-run. Other users and run-as: broker_users.sh (root).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib/common.bash"
source "$HERE/lib/run_env.bash"
source "$HERE/lib/broker_env.bash"
MARK=$H/try_marker
no_marker() {
  if [ -e "${2:-$W/m}" ]; then bad "$1: the command ran (marker exists)"; rm -f "${2:-$W/m}"; else ok; fi
}

start_broker --request-timeout-ms 1000 || finish

# --- the broker and its spare are not dumpable before any request ---
# (a spare holds the receipt key and prepared nonces: review helper-54.) Root
# reads any process's /proc files, so this is checked as another user only.
if [ "$(id -u)" != 0 ]; then
  wait_for pgrep -P "$BROKER_PID" >/dev/null
  spare=$(pgrep -P "$BROKER_PID" | head -n 1)
  check "the broker has a spare" test -n "$spare"
  refute "the spare's environment is unreadable to its own uid (spare ${spare:-none})" \
    bash -c "cat /proc/$spare/environ >/dev/null 2>&1"
  refute "the broker's memory map is unreadable to its own uid" bash -c "cat /proc/$BROKER_PID/maps >/dev/null 2>&1"
else
  echo "as root: the non-dumpable check needs an unprivileged user (CI runs the suite as gxtest too)"
fi

# --- stdio: a pipeline through the brokered command, both directions ---
art cat --max-uses 100 -- /bin/cat
out=$(printf 'hello\nworld\n' | B "$T/cat.toml" -- /bin/cat | tr a-z A-Z)
check "stdin and stdout pass through a pipeline" test "$out" = "$(printf 'HELLO\nWORLD')"
B "$T/cat.toml" -- /bin/cat <"$T/tr/trust.toml" >"$T/copy" 2>"$T/err"
check "redirections: a file in, a file out" cmp -s "$T/tr/trust.toml" "$T/copy"
art ls --max-uses 100 -- /bin/ls /nonexistent-gx-broker
expect_rc 2 "the command's own exit status" B "$T/ls.toml" -- /bin/ls /nonexistent-gx-broker
check "stderr passes through" grep -q "nonexistent-gx-broker" "$T/err"

# --- exit codes and signals ---
art exit7 --max-uses 10 -- /bin/sh -c 'exit 7'
expect_rc 7 "exit code 7" B "$T/exit7.toml" -- /bin/sh -c 'exit 7'
art selfkill --max-uses 10 -- /bin/sh -c 'kill -TERM $$'
expect_rc 143 "killed by SIGTERM: 128+15" B "$T/selfkill.toml" -- /bin/sh -c 'kill -TERM $$'
art sleep --max-uses 100 -- /bin/sleep 30
"$GX" run --broker "$SOCK" "$T/sleep.toml" -- /bin/sleep 30 >/dev/null 2>&1 &
client=$!
wait_for pgrep -f -x "/bin/sleep 30" >/dev/null || bad "the brokered sleep never started"
started=$(date +%s)
kill -USR1 "$client"
wait "$client"
RC=$?
check "SIGUSR1 forwarded: the child died of it (128+10), exit $RC" test "$RC" = 138
check "forwarded promptly" test $(($(date +%s) - started)) -lt 10
r=$(last_receipt)
check "finished receipt records signal 10" test "$(jq -r '.decision + " " + (.signal|tostring)' <<<"$r")" = "finished 10"
# A signal the client's caller ignores (nohup) is ignored by the brokered command too.
(trap '' USR1; exec "$GX" run --broker "$SOCK" "$T/sleep.toml" -- /bin/sleep 30) >/dev/null 2>&1 &
client=$!
wait_for pgrep -f -x "/bin/sleep 30" >/dev/null || bad "the second brokered sleep never started"
kill -USR1 "$client"
sleep 0.3
check "SIGUSR1 ignored by the client's caller: the brokered command ignores it too" pgrep -f -x "/bin/sleep 30" >/dev/null
kill -TERM "$client"
wait "$client"
RC=$?
check "SIGTERM still forwarded afterwards (128+15), exit $RC" test "$RC" = 143
art traps --max-uses 3 -- /bin/bash -c 'trap -p'
want=$( (trap '' HUP USR1; /bin/bash -c 'trap -p') )
got=$( (trap '' HUP USR1; B "$T/traps.toml" -- /bin/bash -c 'trap -p') )
check "the client's ignored signals reach the brokered command ($got)" test "$got" = "$want"
got=$(B "$T/traps.toml" -- /bin/bash -c 'trap -p')
check "nothing ignored by the client: nothing ignored in the brokered command ($got)" test -z "$got"
art mask --max-uses 2 -- /usr/bin/python3 -c "$MASK_PY"
got=$(with_usr2_alrm_blocked "$GX" run --broker "$SOCK" "$T/mask.toml" -- /usr/bin/python3 -c "$MASK_PY")
check "the client's blocked signals stay blocked in the brokered command ($got)" test "$got" = "[12, 14]"

# --- receipts name the peer, as the kernel reported it ---
expect_rc 0 "a plain run" B "$T/cat.toml" -- /bin/cat </dev/null
r=$(last_receipt)
check "receipt is brokered" test "$(jq -r .brokered <<<"$r")" = true
check "receipt peer_uid is the caller's uid" test "$(jq -r .peer_uid <<<"$r")" = "$(id -u)"
check "receipt peer_gid is the caller's gid" test "$(jq -r .peer_gid <<<"$r")" = "$(id -g)"
check "receipt peer_pid is set" test "$(jq -r .peer_pid <<<"$r")" -gt 1
check "receipt version 3" test "$(jq -r .version <<<"$r")" = 3
check "the caller's own state was not used" test ! -e "$S/receipts.log"
# SO_PEERPIDFD (Linux 6.5+): the report says whether the peer's pid was pinned by a pidfd.
expect_rc 0 "a run with --report" B --report "$T/peer.json" "$T/cat.toml" -- /bin/cat </dev/null
check "the report names the peer's uid and pid" \
  test "$(jq -r '[.peer.uid, (.peer.pid > 1)] | map(tostring) | join(" ")' "$T/peer.json")" = "$(id -u) true"
if python3 -c 'import socket; a, b = socket.socketpair(); a.getsockopt(socket.SOL_SOCKET, 77)' 2>/dev/null; then
  check "this kernel has SO_PEERPIDFD: the peer's pid is pinned" test "$(jq -r .peer.pid_pinned "$T/peer.json")" = true
  check "the broker's log says so" grep -q "pids pinned by SO_PEERPIDFD" "$T/broker.log"
else
  echo "skip: this kernel has no SO_PEERPIDFD"
  check "no SO_PEERPIDFD: not pinned" test "$(jq -r .peer.pid_pinned "$T/peer.json")" = false
fi
expect_rc 0 "the broker's log verifies" "$GX" log verify --state "$BS"

# --- without --report, --json or --dry-run the client asks for no report ---
# (protocol flag bit 2): the broker's warnings and the decision still reach it.
mkdir -m 0755 "$T/sbin"
printf '#!/bin/sh\necho "script $0"\n' >"$T/sbin/s.sh" && chmod 0755 "$T/sbin/s.sh"
art script --max-uses 10 -- "$T/sbin/s.sh"
chmod g+w "$T/sbin"
expect_rc 0 "a script in a group-writable directory, no report asked" B "$T/script.toml" -- "$T/sbin/s.sh"
check "...the broker's warning reaches the client" \
  grep -q "warning: script handed to its interpreter as /dev/fd/[0-9]*.*$T/sbin is writable by group or others" "$T/err"
expect_rc 0 "the same with --report" B --report "$T/script.json" "$T/script.toml" -- "$T/sbin/s.sh"
check "...the report is whole" test "$(jq -r '.decision.decision + " " + (.outcome.exit_code|tostring)' "$T/script.json")" = "allow 0"
chmod g-w "$T/sbin"
expect_denied policy-mismatch "a denial, no report asked: the reason reaches the client" B "$T/script.toml" -- "$T/sbin/s.sh" x
check "...naming the field" grep -q "argv" "$T/err"

# --- which clients ask for no report, and a broker that does not know the bit ---
# A stand-in broker records each request's flags (field 6) and answers the
# first with what a broker older than bit 2 says, every later one "busy".
cat >"$T/oldbroker.py" <<'PY'
import os, socket, struct, sys
path, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); s.listen(8)
s.settimeout(20)  # a client that never came: the check below names what did
def frame(t, fields):
    p = b"".join(struct.pack(">HI", tag, len(v)) + v for tag, v in fields)
    return b"GXBR" + bytes([1, t, 0, 0]) + struct.pack(">I", len(p)) + p
for i in range(n):
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    c.settimeout(None)
    head, fds, _, _ = socket.recv_fds(c, 12, 8)
    for fd in fds: os.close(fd)
    length = struct.unpack(">I", head[8:12])[0]
    body = b""
    while len(body) < length: body += c.recv(length - len(body))
    flags, at = None, 0
    while at < len(body):
        tag, ln = struct.unpack(">HI", body[at:at + 6])
        if tag == 6: flags = struct.unpack(">I", body[at + 6:at + 10])[0]
        at += 6 + ln
    with open(out, "a") as f: f.write("%s\n" % flags)
    if i == 0:
        c.sendall(frame(5, [(1, b"invalid-value"), (2, b"flags=4: broker request frame has unknown flag bits")]))
    else:
        c.sendall(frame(5, [(1, b"busy"), (2, b"stand-in broker")]))
    c.close()
PY
python3 "$T/oldbroker.py" "$T/old.sock" "$T/flags" 4 &
oldbroker=$!
wait_for test -S "$T/old.sock"
expect_rc 125 "a broker older than bit 2: asked again without it" "$GX" run --broker "$T/old.sock" "$T/cat.toml" -- /bin/cat
check "...the second answer is the one reported" grep -q "stand-in broker" "$T/err"
expect_rc 125 "--report asks for the report" "$GX" run --broker "$T/old.sock" --report "$T/r.json" "$T/cat.toml" -- /bin/cat
expect_rc 125 "--json asks for it" "$GX" run --broker "$T/old.sock" --json "$T/cat.toml" -- /bin/cat
wait "$oldbroker"
check "flags sent: no report (4), then without it (0), --report (0), --json (2) ($(tr '\n' ' ' <"$T/flags"))" \
  test "$(tr '\n' ' ' <"$T/flags")" = "4 0 0 2 "

# --- the client connects before it reads the artifact ---
closed_before=$(grep -c "refused: connection closed" "$T/broker.log")
expect_denied missing-authorization "a missing artifact is the client's own error" B "$T/missing.toml" -- /bin/true
check "...named" grep -q "no artifact at $T/missing.toml" "$T/err"
expect_denied missing-authorization "...also when no broker listens: the request's error comes first" \
  "$GX" run --broker "$T/nobroker.sock" "$T/missing.toml" -- /bin/true
expect_rc 125 "no broker listening, the artifact there: cannot connect" "$GX" run --broker "$T/nobroker.sock" "$T/cat.toml" -- /bin/cat
check "...said so" grep -q "cannot connect to the broker at $T/nobroker.sock" "$T/err"
expect_rc 0 "the broker serves the next request" B "$T/cat.toml" -- /bin/cat </dev/null
check "...and logged the connection that sent nothing" \
  wait_for bash -c '[ "$(grep -c "refused: connection closed" "$1")" -gt "$2" ]' _ "$T/broker.log" "$closed_before"

# --- flags that choose state, trust, revocations or the receipt key are refused ---
for flag in "--state $T/other" "--trust $TR" "--revocations $T/none.toml" "--receipt-key $T/k" --syslog; do
  # shellcheck disable=SC2086
  expect_rc 125 "refused in broker mode: $flag" B $flag "$T/cat.toml" -- /bin/cat
  check "clear message for $flag" grep -q "cannot be used with --broker" "$T/err"
done
check "a refused --state created nothing" test ! -e "$T/other"
GX_BROKER=$SOCK expect_rc 125 "GX_BROKER also refuses --state" "$GX" run --state "$T/other" "$T/cat.toml" -- /bin/cat
out=$(echo via-env | GX_BROKER=$SOCK "$GX" run "$T/cat.toml" -- /bin/cat)
check "GX_BROKER=SOCKET selects the broker" test "$out" = via-env

# --- --dry-run, --json, --report ---
art once --max-uses 1 --write "$W" -- "$MARK" "$W/m"
expect_rc 0 "dry run through the broker" B --dry-run "$T/once.toml" -- "$MARK" "$W/m"
no_marker "dry run ran nothing"
check "dry run prints the sandbox" grep -q '"sandbox"' "$T/err"
expect_rc 0 "dry run --json" B --dry-run --json "$T/once.toml" -- "$MARK" "$W/m"
check "dry run --json is the decision" test "$(jq -r .decision.decision "$T/out")" = allow

# --- one use, across two clients and two connections ---
expect_rc 0 "one-use artifact: first run" B --report "$T/report.json" "$T/once.toml" -- "$MARK" "$W/m"
check "marker made" test -e "$W/m"
rm -f "$W/m"
check "report written by the client" test "$(jq -r .decision.decision "$T/report.json")" = allow
check "report is the client's, 0600" test "$(stat -c '%u %a' "$T/report.json")" = "$(id -u) 600"
expect_denied replay "one-use artifact: second client" B "$T/once.toml" -- "$MARK" "$W/m"
no_marker "replay"
check "denied receipt in the broker's log" test "$(last_receipt | jq -r '.decision + " " + .reason')" = "denied replay"
expect_rc 126 "--json on a denial" B --json "$T/once.toml" -- "$MARK" "$W/m"
check "--json names replay" test "$(jq -r .decision.reason "$T/out")" = replay
# A dry run reads the worker's kept use store: the spent use is seen, and
# the dry run writes no receipt.
receipts=$("$GX" log show --state "$BS" --json | wc -l)
expect_denied replay "a dry run once the use is spent" B --dry-run "$T/once.toml" -- "$MARK" "$W/m"
no_marker "dry run after the use was spent"
check "a dry run writes no receipt" test "$("$GX" log show --state "$BS" --json | wc -l)" = "$receipts"

art race --max-uses 1 --write "$W" -- /bin/sh -c 'echo x >> "$0"' "$W/race"
pids=()
for i in 1 2 3 4; do
  "$GX" run --broker "$SOCK" "$T/race.toml" -- /bin/sh -c 'echo x >> "$0"' "$W/race" >/dev/null 2>"$T/race.$i" &
  pids+=($!)
done
wait "${pids[@]}"
check "racing connections: exactly one ran" test "$(wc -l <"$W/race" 2>/dev/null)" = 1
check "racing connections: the others were replays" test "$(grep -l 'denied (replay)' "$T"/race.* | wc -l)" = 3

# --- kept state: a worker that loaded the trust store before it changed ---
# The broker's next worker loads trust, revocations, key and use store before
# its connection arrives; files older than the 2 s racy window are then reused
# by stamp. A change made after that load must decide the very next request.
art trusted --max-uses 100 --write "$W" -- "$MARK" "$W/m"
racy_window_passed
expect_rc 0 "a run (the next worker loads the settled trust store now)" B "$T/cat.toml" -- /bin/cat </dev/null
sleep 0.5
"$GX" trust threshold 2 --trust "$TR" >/dev/null 2>&1 || bad "trust threshold 2"
expect_rc 126 "trust store changed under a loaded worker: denied" B "$T/trusted.toml" -- "$MARK" "$W/m"
check "denied for the new threshold" grep -q "threshold\|signature" "$T/err"
no_marker "trust store changed"
"$GX" trust threshold 1 --trust "$TR" >/dev/null 2>&1 || bad "trust threshold 1"
expect_rc 0 "trust store restored: runs" B "$T/trusted.toml" -- "$MARK" "$W/m"
check "marker made after the restore" test -e "$W/m"
rm -f "$W/m"

# --- revocation: the broker's list, whatever the client says ---
art revoked --max-uses 100 --write "$W" -- "$MARK" "$W/m"
expect_rc 0 "before revocation" B "$T/revoked.toml" -- "$MARK" "$W/m"
rm -f "$W/m"
"$GX" revoke --trust "$TR" --state "$BS" -k "$T/alice.key" "$T/revoked.toml" >/dev/null 2>&1 || bad "revoke"
expect_denied revoked "revoked artifact" B "$T/revoked.toml" -- "$MARK" "$W/m"
no_marker "revoked"
# Again with a settled list that a waiting worker has already loaded.
art revoked2 --max-uses 100 --write "$W" -- "$MARK" "$W/m"
racy_window_passed
expect_rc 0 "before the second revocation" B "$T/revoked2.toml" -- "$MARK" "$W/m"
rm -f "$W/m"
sleep 0.5
"$GX" revoke --trust "$TR" --state "$BS" -k "$T/alice.key" "$T/revoked2.toml" >/dev/null 2>&1 || bad "revoke 2"
expect_denied revoked "revoked while a loaded worker waited: the next request is denied" \
  B "$T/revoked2.toml" -- "$MARK" "$W/m"
no_marker "revoked2"

# --- the spare worker (forked ahead, holding the kept state) killed: still serving ---
spare_of_broker() { pgrep -P "$BROKER_PID" | head -1; }
check "the broker keeps a spare worker" wait_for bash -c "pgrep -P $BROKER_PID >/dev/null"
kill -KILL "$(spare_of_broker)" 2>/dev/null || bad "no spare to kill"
expect_rc 0 "served at once after its spare was killed" B "$T/cat.toml" -- /bin/cat </dev/null
check "a new spare is started" wait_for bash -c "pgrep -P $BROKER_PID >/dev/null"
expect_rc 0 "served by the new spare" B "$T/cat.toml" -- /bin/cat </dev/null
check "the broker logged the dead spare" grep -q "spare worker [0-9]* ended abnormally" "$T/broker.log"
# A spare that takes the handoff frame but never acknowledges it (stopped here; a spare being
# killed is the same for the broker): after 2 s the broker kills it and a new worker serves.
check "the broker keeps a spare worker (2)" wait_for bash -c "pgrep -P $BROKER_PID >/dev/null"
stopped=$(spare_of_broker)
kill -STOP "$stopped" 2>/dev/null || bad "no spare to stop"
expect_rc 0 "served by a new worker when the spare never takes the connection" \
  timeout 20 "$GX" run --broker "$SOCK" "$T/cat.toml" -- /bin/cat </dev/null
check "the broker logged the spare that did not take it" \
  grep -q "spare worker $stopped ended abnormally (it did not take a connection)" "$T/broker.log"

# --- a malformed request leaves the broker serving ---
python3 - "$SOCK" <<'EOF' || bad "malformed frames: python client failed"
import socket, sys
for payload in [b"garbage that is not a frame", b"GXBR\x09\x01\x00\x00\x00\x00\x00\x00", b"GXBR\x01\x01\x00\x00\xff\xff\xff\xff"]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(payload)
    s.settimeout(5)
    data = s.recv(4096)
    assert data.startswith(b"GXBR"), data
    s.close()
EOF
expect_rc 0 "serving after malformed frames" B "$T/cat.toml" -- /bin/cat </dev/null
check "the broker logged the refusal" grep -q "refused" "$T/broker.log"

# --- a worker serves requests one after another (lib/broker.h, "Reuse") ---
# The command's parent is the worker that served it.
art ppid --max-uses 1000 -- /bin/sh -c 'echo $PPID'
ppids=()
for i in 1 2 3 4; do
  ppids+=("$(B "$T/ppid.toml" -- /bin/sh -c 'echo $PPID')")
  sleep 0.3 # time to go idle, even under a sanitizer build's load
done
distinct=$(printf '%s\n' "${ppids[@]}" | sort -u | wc -l)
check "consecutive requests were served by one worker (${ppids[*]})" test "$distinct" -lt 4
# A denied request (another argv than signed) in between leaves it serving.
expect_denied policy-mismatch "a denied request between reused ones" B "$T/ppid.toml" -- /bin/sh -c 'echo other'
# So does a dry run (it reads through the kept state). Each request here
# takes ~20 ms (~100 ms under a sanitizer, counted from the client's
# connection, which comes before it builds its request); past 250 ms the
# broker starts another spare and lets this worker go. So a loaded machine
# gets a few tries; a dry run that retires its worker fails every one.
kept=""
for try in 1 2 3 4 5; do
  before=$(B "$T/ppid.toml" -- /bin/sh -c 'echo $PPID')
  sleep 0.3
  B --dry-run "$T/ppid.toml" -- /bin/sh -c 'echo $PPID' >/dev/null 2>&1 || { kept="dry run failed"; break; }
  sleep 0.3
  after=$(B "$T/ppid.toml" -- /bin/sh -c 'echo $PPID')
  kept="$kept $before>$after"
  [ "$before" = "$after" ] && break
done
check "the worker of a dry run serves the next request (tries:$kept)" test "$before" = "$after"
out=$(timeout 20 bash -c "printf 'x\ny\n' | $GX run --broker $SOCK $T/cat.toml -- /bin/cat | wc -l")
check "a pipeline through a reused worker ends (no descriptor kept: got '$out')" test "$out" = 2
# At most 256 requests a worker: 258 back to back never share one worker.
for i in $(seq 258); do B "$T/ppid.toml" -- /bin/sh -c 'echo $PPID'; done >"$T/ppids" 2>>"$T/err"
most=$(sort "$T/ppids" | uniq -c | sort -rn | awk 'NR==1{print $1}')
check "258 requests were served ($(wc -l <"$T/ppids"))" test "$(wc -l <"$T/ppids")" = 258
check "workers were reused (most by one: $most)" test "${most:-0}" -ge 2
check "no worker served more than 256 ($most)" test "${most:-0}" -le 256
check "no worker was refused reuse: $(grep -m1 "is not reused" "$T/broker.log")" bash -c "! grep -q \"is not reused\" \"$T/broker.log\""

# --- a client that disconnects mid-run: its child is terminated and recorded ---
art sleep2 --max-uses 10 -- /bin/sleep 31
"$GX" run --broker "$SOCK" "$T/sleep2.toml" -- /bin/sleep 31 >/dev/null 2>&1 &
client=$!
wait_for pgrep -f -x "/bin/sleep 31" >/dev/null || bad "the brokered sleep 31 never started"
kill -KILL "$client"
wait "$client" 2>/dev/null
check "the child of a vanished client is terminated" wait_for bash -c '! pgrep -f -x "/bin/sleep 31" >/dev/null'
check "its finished receipt is written (SIGTERM)" \
  wait_for bash -c "[ \"\$(\"$GX\" log show --state \"$BS\" --json --tail 1 | jq -r '.decision + \" \" + (.signal|tostring)')\" = 'finished 15' ]"

# --- the broker killed with SIGKILL mid-run: the child dies with it ---
art sleep3 --max-uses 10 -- /bin/sleep 32
"$GX" run --broker "$SOCK" "$T/sleep3.toml" -- /bin/sleep 32 >/dev/null 2>"$T/kill.err" &
client=$!
wait_for pgrep -f -x "/bin/sleep 32" >/dev/null || bad "the brokered sleep 32 never started"
stop_broker KILL
check "the child died with the broker" wait_for bash -c '! pgrep -f -x "/bin/sleep 32" >/dev/null'
wait "$client"
RC=$?
check "the client reports the lost broker (125), got $RC" test "$RC" = 125
expect_rc 0 "the log still verifies" "$GX" log verify --state "$BS"
expect_rc 0 "log show" "$GX" log show --state "$BS"
check "log show marks the run interrupted" grep -q "interrupted" "$T/out"

# --- restarted, it serves again with the same state ---
start_broker || finish
expect_denied replay "after a restart the use is still spent" B "$T/once.toml" -- "$MARK" "$W/m"
no_marker "replay after restart"
stop_broker
check "the socket is removed on stop" test ! -e "$SOCK"
finish
