#!/usr/bin/env bash
# gx run against an adversary who changes the executable while gx verifies it.
#
# The authorized binary prints "hello" (tests/helpers/try_hello.c); the other
# one prints "marker" and creates $W/m (try_marker.c). A background writer
# keeps flipping the authorized path between the two while gx runs the
# artifact over and over. Whatever the interleaving, every run must either
# run the authorized bytes or be denied with digest-mismatch: the marker
# binary must never run (no "marker" output, no marker file).
#   1. rename(2) of the other binary over the path (a new inode each time):
#      closed by digesting the opened file, not the path;
#   2. in-place writes into the same inode between digest and exec: closed by
#      executing the sealed memfd copy gx digested, never the file. gx runs
#      a file in place only when root alone can modify it (lib/executable.h);
#      as root this test therefore gives the file to another owner first, so
#      that gx copies it, as it does for every file of the caller.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/run_env.bash"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY is needed for the writer loops"; exit 0; }
SECONDS_PER_RACE=${GX_RACE_SECONDS:-6}

cp "$H/try_hello" "$T/good"
cp "$H/try_marker" "$T/evil"
cp "$T/good" "$T/bin/prog"
"$GX" init -o "$T/race.toml" --max-uses 100000 --write "$W" -- "$T/bin/prog" "$W/m" >/dev/null 2>&1
"$GX" sign -k "$T/alice.key" "$T/race.toml" >/dev/null 2>&1 || bad "sign"

# The control: with no writer, the artifact runs the authorized binary.
expect_rc 0 "control run" "$GX" run --trust "$TR" --state "$S" "$T/race.toml" -- "$T/bin/prog" "$W/m"
check "control prints hello" grep -qx hello "$T/out"
# ...and the evil binary in its place would leave a marker (the proof works).
cp "$T/evil" "$T/bin/prog"
"$T/bin/prog" "$W/m" >/dev/null
check "the evil binary leaves a marker when run" test -e "$W/m"
rm -f "$W/m"
cp "$T/good" "$T/bin/prog"

# race WRITER-MODE DESC: runs gx repeatedly while the writer flips the file.
race() {
  local mode=$1 desc=$2 ran=0 denied=0 other=0 runs=0
  "$PY" - "$mode" "$T/bin/prog" "$T/good" "$T/evil" "$((SECONDS_PER_RACE + 5))" "$T/writer.err" <<'PYEOF' &
import os, random, sys, time
mode, path, good, evil, limit, errpath = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), sys.argv[6]
images = [open(good, "rb").read(), open(evil, "rb").read()]
end = time.time() + limit
tmp = path + ".new"
i = 0
errors = 0
while time.time() < end:
    data = images[i & 1]
    try:
        if mode == "rename":
            # a fresh inode renamed over the path
            with open(tmp, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o755)
            os.rename(tmp, path)
        else:
            # the same inode, rewritten in place (gx never exec's the path,
            # so no ETXTBSY stops this)
            fd = os.open(path, os.O_WRONLY)
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
            os.close(fd)
            # Hold each image a moment: a slow gx (a sanitizer build) would
            # otherwise almost never see a whole authorized image, and the
            # test could not tell that the race was exercised both ways.
            time.sleep(random.uniform(0, 0.03))
    except OSError as e:
        errors += 1
        open(errpath, "a").write(f"{e}\n")
    i += 1
PYEOF
  local writer=$!
  local stop=$((SECONDS + SECONDS_PER_RACE))
  while [ "$SECONDS" -lt "$stop" ]; do
    "$GX" run --trust "$TR" --state "$S" "$T/race.toml" -- "$T/bin/prog" "$W/m" >"$T/out" 2>"$T/err"
    local rc=$?
    runs=$((runs + 1))
    if [ "$rc" = 0 ] && [ "$(cat "$T/out")" = hello ]; then
      ran=$((ran + 1))
    elif [ "$rc" = 126 ] && grep -q "gx: denied (digest-mismatch)" "$T/err" && [ ! -s "$T/out" ]; then
      denied=$((denied + 1))
    else
      other=$((other + 1))
      echo "$desc: unexpected outcome: rc $rc stdout '$(head -c 100 "$T/out")' stderr '$(head -c 300 "$T/err")'" >&2
    fi
    if [ -e "$W/m" ]; then
      bad "$desc: the marker binary RAN (run $runs)"
      rm -f "$W/m"
    fi
  done
  kill "$writer" 2>/dev/null
  wait "$writer" 2>/dev/null
  echo "$desc: $runs runs, $ran ran the authorized binary, $denied denied (digest-mismatch), $other other"
  check "$desc: every run was the authorized binary or digest-mismatch" test "$other" = 0
  check "$desc: the race was exercised (some runs denied)" test "$denied" -gt 0
  check "$desc: the race was exercised (some runs allowed)" test "$ran" -gt 0
  check "$desc: the writer never failed ($(head -3 "$T/writer.err" 2>/dev/null))" test ! -s "$T/writer.err"
  check "$desc: no marker" test ! -e "$W/m"
  cp "$T/good" "$T/bin/prog.tmp" && mv -f "$T/bin/prog.tmp" "$T/bin/prog"
}

race rename "rename over the path"
if [ "$(id -u)" = 0 ]; then chown 65534 "$T/bin/prog" || bad "chown the race binary"; fi
race inplace "in-place rewrite of the same inode"

# The receipts agree: no authorized run recorded a digest other than the signed one.
want=$(sha256sum "$T/good" | cut -d' ' -f1)
"$GX" log show --state "$S" --json >"$T/log.json"
check "every authorized receipt names the signed digest" \
  test "$(jq -r 'select(.decision == "authorized") | .exe_digest' "$T/log.json" | sort -u)" = "$want"
check "receipt log verifies" "$GX" log verify --state "$S"

finish
