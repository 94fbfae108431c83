#!/usr/bin/env bash
# Attack: the caller hands the broker a unix socket as stdin: it sends the command a memfd over it (SCM_RIGHTS, even re-enabling SO_PASSRIGHTS on its own copy) to exec past Landlock's exec rules, or leaves it unconnected for the command to connect() to any named socket.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
start_broker || finish
# exec is not [] (no exec guard): Landlock alone decides what may be executed.
art payload --max-uses 10 --write "$W" --exec /usr/bin/true -- "$H/try_recv_exec" "$H/try_marker" "$W/m"

# client WHEN [local]: stdin is one end of a socketpair, of which the client
# keeps a copy; through the other end it sends a read-only memfd holding
# try_marker (WHEN early: queued before gx starts; late: while the command
# waits, after turning SO_PASSRIGHTS back on). "local": a local gx run of a
# plain file instead (the control).
client() {
  python3 - "$1" "${2:-}" "$GX" "$SOCK" "$T/payload.toml" "$H/try_recv_exec" "$H/try_marker" "$W/m" "$T/payload-file" \
    "$TR" "$S" <<'PY'
import os, socket, subprocess, sys, time
when, local, gx, sock, art, recv_exec, marker_prog, marker, copy, trust, state = sys.argv[1:12]
code = open(marker_prog, "rb").read()
if local:
    rw = os.open(copy, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o755)
else:
    rw = os.memfd_create("payload", 0)
os.write(rw, code)
ro = os.open(f"/proc/self/fd/{rw}", os.O_RDONLY)  # no writer left: else ETXTBSY
os.close(rw)
ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
keep = socket.socket(fileno=os.dup(theirs.fileno()))
def send():
    try:
        keep.setsockopt(socket.SOL_SOCKET, 83, 1)  # SO_PASSRIGHTS back on, if the kernel has it
    except OSError:
        pass
    socket.send_fds(ours, [b"x"], [ro])
if when == "early": send()
how = ["run", "--trust", trust, "--state", state] if local else ["run", "--broker", sock]
p = subprocess.Popen([gx] + how + [art, "--", recv_exec, marker_prog, marker],
                     stdin=theirs.fileno(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
theirs.close()
if when == "late":
    time.sleep(1)
    send()
out, err = p.communicate(timeout=60)
print("rc", p.returncode, "out", out.strip().replace("\n", " "), "err", err.strip().replace("\n", " "))
PY
}

# Control (local gx run, which takes its caller's stdio as it is): a plain
# file received the same way is refused by Landlock's exec rules.
client early local >"$T/file.out" 2>&1
check "control: exec of a received file outside the exec rules is refused (EACCES): $(cat "$T/file.out")" \
  grep -q "EACCES" "$T/file.out"
check "control: the marker was not made" test ! -e "$W/m"

for when in early late; do
  client $when >"$T/$when.out" 2>&1
  check "a unix socket as stdin is refused ($when): $(cat "$T/$when.out")" \
    grep -q "^rc 126 .*invalid-value.*unix-socket" "$T/$when.out"
  check "the program in the memfd never ran (no marker, $when)" test ! -e "$W/m"
done

# An unconnected unix socket as stdin: the command could connect() it to any
# named socket without socket(AF_UNIX), though its artifact says unix_sockets = false.
art conn --max-uses 10 -- "$H/try_unix_connect" --stdin "$T/outside.sock"
python3 - "$GX" "$SOCK" "$T/conn.toml" "$H/try_unix_connect" "$T/outside.sock" >"$T/conn.out" 2>&1 <<'PY'
import os, socket, subprocess, sys, threading
gx, sock, art, helper, outside = sys.argv[1:6]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(outside)
srv.listen(1)
srv.settimeout(3)
got = []
def serve():
    try:
        c, _ = srv.accept()
        got.append(c.recv(100))
    except OSError:
        pass
t = threading.Thread(target=serve)
t.start()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
r = subprocess.run([gx, "run", "--broker", sock, art, "--", helper, "--stdin", outside], stdin=s.fileno(), capture_output=True, text=True)
t.join()
print("rc", r.returncode, r.stdout.strip(), r.stderr.strip())
# An O_PATH fd to the socket file: no stream, refused too (as any O_PATH fd).
opath = os.open(outside, os.O_PATH)
r = subprocess.run([gx, "run", "--broker", sock, art, "--", helper, "--stdin", outside], stdin=opath, capture_output=True, text=True)
print("opath rc", r.returncode, r.stdout.strip(), r.stderr.strip())
print("outside got", got)
PY
check "an unconnected unix socket as stdin is refused: $(cat "$T/conn.out")" grep -q "^rc 126 .*invalid-value.*unix-socket" "$T/conn.out"
check "an O_PATH fd to a socket file as stdin is refused" grep -q "^opath rc 126 .*invalid-value.*O_PATH" "$T/conn.out"
check "the outside listener heard nothing" grep -q "^outside got \[\]$" "$T/conn.out"
stop_broker
finish
