#!/usr/bin/env bash
# Attack: the caller hands the broker a memfd holding any program as stdin, and the command execs /proc/self/fd/0: code Landlock's exec rules never see (they do not cover memfds).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
start_broker || finish
# exec is not [] (no exec guard): Landlock alone decides what may be executed,
# and /proc/self/fd/0 resolves to the memfd, which no rule covers.
art payload --max-uses 10 --write "$W" --exec /usr/bin/true -- "$H/try_exec" /proc/self/fd/0 "$W/m"

# client KIND: gx run --broker with stdin = a read-only fd of a copy of
# try_marker, either a memfd (KIND memfd) or a file in $T (KIND file).
client() {
  python3 - "$1" "$GX" "$SOCK" "$T/payload.toml" "$H/try_exec" "$H/try_marker" "$W/m" "$T/payload-file" <<'PY'
import os, subprocess, sys
kind, gx, sock, art, tryexec, marker_prog, marker, copy = sys.argv[1:9]
code = open(marker_prog, "rb").read()
if kind == "memfd":
    rw = os.memfd_create("payload", 0)
    os.write(rw, code)
else:
    rw = os.open(copy, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o755)
    os.write(rw, code)
# Read-only, and no writer left: exec would fail with ETXTBSY otherwise.
ro = os.open(f"/proc/self/fd/{rw}", os.O_RDONLY)
os.close(rw)
r = subprocess.run([gx, "run", "--broker", sock, art, "--", tryexec, "/proc/self/fd/0", marker],
                   stdin=ro, capture_output=True, text=True)
print("rc", r.returncode, "out", r.stdout.strip().replace("\n", " "), "err", r.stderr.strip().replace("\n", " "))
PY
}

# Control: a plain file outside the exec rules is refused by Landlock.
client file >"$T/file.out" 2>&1
check "control: exec of a file outside the exec rules is refused (EACCES): $(cat "$T/file.out")" grep -q "EACCES" "$T/file.out"
check "control: the marker was not made" test ! -e "$W/m"

client memfd >"$T/memfd.out" 2>&1
check "a memfd as stdin is refused before anything runs: $(cat "$T/memfd.out")" grep -q "^rc 126 .*invalid-value.*memfd" "$T/memfd.out"
check "the program in the memfd never ran (no marker)" test ! -e "$W/m"
check "the broker logged the refusal" grep -q "memfd" "$T/broker.log"
stop_broker
finish
