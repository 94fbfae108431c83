#!/usr/bin/env bash
# Attack: one allowed caller holds every worker slot (silent connections wait
# out request_timeout_ms each, and can be renewed forever), so every other
# allowed user is refused as busy. The broker now caps the requests one user
# may have running (max_per_user, default half of max_concurrent once an allow
# list names anyone): the flood takes its own share, and another user is still
# served. Review helper-44 then found two ways around it, fixed here: a flood
# of connect() kept the accept loop from reaping, so finished workers kept
# their slots; and a user with subordinate uids (/etc/subuid) connected as
# each of them from a user namespace of its own.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
OTHER=""
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  OTHER=65534
  mkdir -p "$T/u" && chown 65534 "$T/u"
fi
# Nobody else allowed: there is no one to keep out, so one uid may use every slot.
start_broker --max-concurrent 4 || finish
check "no allow list: the limit per user is max_concurrent" grep -q "at most 4 at once, 4 per user" "$T/broker.log"
stop_broker
: >"$T/broker.log"
start_broker --max-concurrent 4 --request-timeout-ms 6000 --allow-user 65534 || finish
check "the broker's log states the per-user limit" grep -q "at most 4 at once, 2 per user" "$T/broker.log"
art ctl --max-uses 100 --write "$W" -- "$H/try_marker" "$W/m"
[ -n "$OTHER" ] && art other --no-bind-user --max-uses 100 --write "$T/u" -- "$H/try_marker" "$T/u/m"

# 12 silent connections from this uid, held; requests while they are held.
PYTHONPATH=$HERE python3 - "$SOCK" "$GX" "$T/ctl.toml" "$H/try_marker" "$W/m" "$OTHER" "$T/other.toml" "$T/u/m" \
  >"$T/flood.out" 2>&1 <<'PY' || bad "flood client: $(cat "$T/flood.out")"
import subprocess, sys, time
from broker_frames import busy_answers, hold
sock, gx, art, mark, marker, other, other_art, other_marker = sys.argv[1:9]
held = hold(sock, 12)
time.sleep(0.5)
r = subprocess.run([gx, "run", "--broker", sock, art, "--", mark, marker], capture_output=True, text=True)
print("same-user", r.returncode, r.stderr.strip().replace("\n", " "))
if other:
    r = subprocess.run(["setpriv", "--reuid", other, "--regid", other, "--clear-groups", gx, "run", "--broker", sock,
                        other_art, "--", mark, other_marker], capture_output=True, text=True)
    print("other-user", r.returncode, r.stderr.strip().replace("\n", " "))
print("busy", busy_answers(held, 8))
PY
grep -v '^busy' "$T/flood.out" | cut -c1-300 >&2
check "this uid's own request is refused as busy, naming max_per_user" \
  grep -q "^same-user 125 .*uid $(id -u) has its maximum of 2 requests running on this broker (max_per_user)" "$T/flood.out"
check "its marker was not made" test ! -e "$W/m"
check "the flood held 2 slots; its other 10 connections were refused busy ($(grep '^busy' "$T/flood.out"))" \
  grep -qx "busy 10" "$T/flood.out"
check "the broker logged the per-user refusals" grep -q "busy: refused uid $(id -u) .*(2 of its requests running)" "$T/broker.log"
if [ -n "$OTHER" ]; then
  check "another allowed user is served during the flood ($(grep '^other-user' "$T/flood.out"))" grep -q "^other-user 0" "$T/flood.out"
  check "its command ran" test -e "$T/u/m"
else
  echo "# skip: another user's request during the flood needs root and setpriv (uid $(id -u))"
fi
# Once the flood's slots are free, this uid is served again.
wait_for_free() { B "$T/ctl.toml" -- "$H/try_marker" "$W/m" >/dev/null 2>&1; }
check "after the flood, this uid is served again" wait_for wait_for_free
check "its marker was made" test -e "$W/m" && rm -f "$W/m"

if [ -n "$OTHER" ]; then
  # A connect() flood from a uid on no allow list: this uid's finished
  # workers must be reaped (their slots freed) while the flood goes on.
  FLOODERS=()
  for i in 1 2 3; do
    setpriv --reuid 65534 --regid 65534 --clear-groups python3 -c '
import socket, sys, time
end = time.time() + 5
while time.time() < end:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sys.argv[1])
    except OSError:
        pass
    s.close()' "$SOCK" &
    FLOODERS+=($!)
  done
  sleep 0.5
  served=0
  for i in $(seq 30); do
    if B "$T/ctl.toml" -- "$H/try_marker" "$W/m" >/dev/null 2>>"$T/flood.err"; then served=$((served + 1)); fi
  done
  wait "${FLOODERS[@]}"
  check "during a connect() flood, 30 requests in a row are all served ($served; $(sort -u "$T/flood.err" | head -c 300))" \
    test "$served" = 30
  check "the busy log lines stay bounded ($(grep -c 'busy: refused' "$T/broker.log") lines)" \
    test "$(grep -c 'busy: refused' "$T/broker.log")" -lt 40
else
  echo "# skip: the connect() flood from another uid needs root and setpriv (uid $(id -u))"
fi
stop_broker

# A user with subordinate uids, allowed through a group, connects as four of
# them from its own user namespaces: they count as that user (one share).
if [ -n "$OTHER" ] && command -v unshare >/dev/null; then
  # 1234 is on no allow list: a refused user cycling through its subuids.
  printf 'nobody:100000:65536\n1234:200000:65536\n' >"$T/subuid"
  rm -f "$SOCK"
  unshare -m --propagation private sh -c 'mount --bind "$1" /etc/subuid && shift && exec "$@"' sh "$T/subuid" \
    "$GX" broker --socket "$SOCK" --trust "$TR" --state "$BS" --max-concurrent 4 --allow-group 4242 \
    --request-timeout-ms 6000 >>"$T/broker.log" 2>&1 &
  BROKER_PID=$!
  wait_for test -S "$SOCK" || bad "the broker (with a subuid file) did not start: $(tail -c 300 "$T/broker.log")"
  : >"$T/sub.out"
  python3 - "$SOCK" "$T/sub.out" >"$T/sub.err" 2>&1 <<'PY' &
import ctypes, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
# Opened here, before the children become other uids: one O_APPEND write a
# line, since the four answers may come at once.
out = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND)
holders = []
for i in range(4):
    r, w = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.setgroups([4242]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
        if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
            os._exit(3)
        os.write(w, b"x"); os.read(r2, 1)  # the map newuidmap would write
        os.setresgid(1 + i, 1 + i, 1 + i); os.setresuid(1 + i, 1 + i, 1 + i)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sys.argv[1])
        s.settimeout(10)
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        text = "".join(c if c.isprintable() else " " for c in data.decode("utf-8", "replace"))
        os.write(out, (("busy " + text) if b"busy" in data else "held").encode() + b"\n")
        os._exit(0)
    os.read(r, 1)
    open(f"/proc/{pid}/uid_map", "w").write("0 100000 65536\n")
    open(f"/proc/{pid}/gid_map", "w").write("0 100000 65536\n")
    os.write(w2, b"x")
    holders.append(pid)
for p in holders:
    os.waitpid(p, 0)
PY
  SUBS=$!
  sleep 1
  # stdio as pipes: the broker's mount namespace is its own here, and it
  # refuses files on mounts it does not know.
  : | B "$T/ctl.toml" -- "$H/try_marker" "$W/m" 2>&1 | cat >"$T/err"
  RC=${PIPESTATUS[1]}
  check "another user is served while four subordinate uids hold connections (rc $RC: $(head -c 300 "$T/err"))" test "$RC" = 0
  wait "$SUBS"
  check "two of the four were refused busy, counted as their owner ($(tr '\n' ' ' <"$T/sub.out"))" \
    test "$(grep -c '^busy' "$T/sub.out")" = 2
  check "the log names the owner" grep -q "busy: refused uid 10000[1-4] .*(2 of its requests running)" "$T/broker.log"
  check "the refusal says whose share it is" grep -q "uid 10000[1-4] (a subordinate uid of 65534, counted as it) has its maximum" "$T/sub.out"
  # A refused user connecting as a new subordinate uid each time (review
  # helper-45): still one signed refusal per user and second, and the
  # allowed caller is served.
  python3 - "$SOCK" <<'PY' &
import os, socket, sys, time
end, u = time.time() + 4, 200000
while time.time() < end:
    os.seteuid(u)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sys.argv[1])
    except OSError:
        pass
    os.seteuid(0)
    s.close()
    u = 200000 + (u - 200000 + 1) % 65536
PY
  CYCLER=$!
  sleep 0.5
  served=0
  for i in $(seq 10); do
    : | B "$T/ctl.toml" -- "$H/try_marker" "$W/m" 2>&1 | cat >"$T/err"
    [ "${PIPESTATUS[1]}" = 0 ] && served=$((served + 1))
  done
  wait "$CYCLER"
  check "an allowed caller is served while a refused user cycles through its subuids ($served of 10)" test "$served" = 10
  refusals=$(grep -c "refused uid 2[0-9]* .*not in allow_users" "$T/broker.log")
  check "at most one signed refusal per second for that user ($refusals in ~4 s)" test "$refusals" -ge 1 -a "$refusals" -le 6
  stop_broker
else
  echo "# skip: subordinate uids need root, setpriv and unshare (uid $(id -u))"
fi

# The limit is configurable, and never above max_concurrent.
"$GX" broker --socket "$SOCK" --trust "$TR" --state "$BS" --max-concurrent 4 --max-per-user 5 >"$T/out" 2>"$T/err" &
pid=$!
( sleep 10; kill $pid 2>/dev/null ) &
wait $pid
RC=$?
check "max_per_user above max_concurrent: refused at start (rc $RC: $(head -c 300 "$T/err"))" \
  grep -q "max_per_user (5) is above max_concurrent (4).*max_per_user" "$T/err"
check "... with exit 125 or 126, not served" test "$RC" = 125 -o "$RC" = 126
start_broker --max-concurrent 4 --max-per-user 3 --allow-user 65534 || finish
check "--max-per-user sets it" grep -q "at most 4 at once, 3 per user" "$T/broker.log"
stop_broker
finish
