#!/usr/bin/env bash
# gx's start-up maps its relocation table and data with one madvise call per
# loadable data segment before glibc relocates them (cmd/prefault_entry.cc)
# instead of taking ~45 page faults; its code faults in as it runs. Proved
# against the same bytes entered at glibc's own _start (a copy whose ELF entry
# point is patched back): both work alike, and a running gx has its data
# segments resident (/proc/PID/smaps) -- the relocation table, the relocated
# data, the read-only data up to the unwind tables -- while the copy does not.
# The cost is resident memory, so a running `gx run` is also held to the
# 8 MiB peak RSS target (issue #14).
# A gx linked with its symbol order (GX_SYMBOL_ORDER) has the functions a run
# executes together at the start of its code, and its exception tables after
# the unwind tables (never populated).
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/run_env.bash"

if ! command -v readelf >/dev/null; then
  echo "SKIP: readelf (binutils) is needed to read gx's program headers"
  exit 0
fi
readelf -lW "$GX" >"$T/phdrs" || { bad "readelf -lW $GX"; finish; }
if ! grep -q "^Elf file type is DYN" "$T/phdrs" || grep -q "INTERP" "$T/phdrs" || [ "$(uname -m)" != x86_64 ]; then
  echo "SKIP: this gx is not a static PIE on x86-64 (a sanitizer, fuzzing or GX_STATIC_LIBC=OFF build): it enters at glibc's _start"
  exit 0
fi
# symbol NAME: its value (hex) in gx's symbol table.
symbol() { readelf -sW "$GX" | awk -v name="$1" '$8 == name && $4 == "FUNC" { print $2; exit }'; }
entry=$(symbol gx_prefault_entry)
glibc_start=$(symbol _start)
check "a static-PIE gx has gx_prefault_entry" test -n "$entry"
check "and glibc's _start" test -n "$glibc_start"
[ -n "$entry" ] && [ -n "$glibc_start" ] || finish

# The ELF header's e_entry (offset 24, 8 bytes little-endian) is gx_prefault_entry.
e_entry=$(od -An -t x8 -j 24 -N 8 "$GX" | tr -d ' ')
check "gx's ELF entry point is gx_prefault_entry" test "$((16#$e_entry))" = "$((16#$entry))"

# The same bytes, entered at glibc's _start.
PLAIN=$T/gx-plain
cp "$GX" "$PLAIN"
printf '%016x' "$((16#$glibc_start))" | sed 's/../& /g' | awk '{ for (i = NF; i > 0; i--) printf "\\x%s", $i }' >"$T/le"
printf "$(cat "$T/le")" | dd of="$PLAIN" bs=1 seek=24 count=8 conv=notrunc status=none
check "the copy's entry point is _start" \
  test "$(od -An -t x8 -j 24 -N 8 "$PLAIN" | tr -d ' ')" = "$(printf '%016x' "$((16#$glibc_start))")"

for bin in "$GX" "$PLAIN"; do
  expect_rc 0 "$bin --version" "$bin" --version
  grep -qx "gx [0-9.]*" "$T/out" && ok || bad "$bin --version prints the version: $(head -c 200 "$T/out")"
  # A subcommand that reads files, parses TOML and refuses cleanly.
  expect_rc 126 "$bin verify with a missing trust store" "$bin" verify --trust "$T/none.toml" "$T/missing.toml"
  grep -q "none.toml" "$T/err" && ok || bad "$bin verify names the missing trust store: $(head -c 300 "$T/err")"
done

# Hot code first (GX_SYMBOL_ORDER): the functions cmd/gx.symbol-order lists lie together at the
# start of gx's code. Measured in the 64 KiB windows a code fault maps: an unordered link spreads
# them over nearly every window (80 of 83 here), the ordered one over the first ~half (44).
if [ "${GX_SYMBOL_ORDERED:-}" != ON ]; then
  echo "SKIP: gx was linked without its symbol order (GX_SYMBOL_ORDER=OFF, or no lld): its code is not ordered"
elif ! command -v nm >/dev/null; then
  echo "SKIP: nm (binutils) is needed to read gx's symbols"
else
  python3 - "$GX" "$GX_SRC/cmd/gx.symbol-order" >"$T/order" <<'EOF'
import subprocess, sys
gx, order = sys.argv[1], sys.argv[2]
phdrs = subprocess.run(["readelf", "-lW", gx], capture_output=True, text=True, check=True).stdout
code = [f for f in (l.split() for l in phdrs.splitlines()) if f[:1] == ["LOAD"] and "E" in f[6:-1]]
start, size = int(code[0][2], 16), int(code[0][5], 16)
listed = {l.strip() for l in open(order) if l.strip() and not l.startswith("#")}
symbols = subprocess.run(["nm", "--defined-only", gx], capture_output=True, text=True, check=True).stdout
windows, found = set(), 0
for f in (l.split() for l in symbols.splitlines()):
    if len(f) == 3 and f[1] in "tTwW" and f[2] in listed and start <= int(f[0], 16) < start + size:
        found += 1
        windows.add((int(f[0], 16) - start) // 65536)
print(found, len(windows), (size + 65535) // 65536)
EOF
  read -r found windows all <"$T/order"
  echo "listed functions in gx: $found, in $windows of the code's $all 64 KiB windows"
  check "gx has at least 1000 of the functions cmd/gx.symbol-order lists ($found)" test "${found:-0}" -ge 1000
  check "they lie together: in at most 2/3 of the code's 64 KiB windows ($windows of $all)" \
    test "$((${windows:-999} * 3))" -le "$((${all:-0} * 2))"
fi

if ! why=$("$GX_HELPERS/populate_probe"); then
  echo "SKIP: madvise(MADV_POPULATE_READ) fails here (${why:-mmap failed}; Linux < 5.14): gx starts as if entered at _start"
  finish
fi

art sleep --max-uses 100 -- /bin/sleep 30
has_child() { [ -n "$(cat /proc/"$1"/task/*/children 2>/dev/null)" ]; }
# mappings BIN: runs `BIN run` of a sleeping child and writes, for each of
# BIN's file mappings in the running gx, "PERMS OFFSET SIZE_KB RSS_KB" to
# $T/maps and gx's VmHWM (kB) to $T/hwm; prints "ok", "no-child" (gx started
# no child) or "unreadable" (this user cannot read a non-dumpable gx's smaps:
# an unprivileged suite).
mappings() {
  local bin=$1 pid verdict
  local state=$T/state-${bin##*/}
  mkdir -p "$state"
  chmod 700 "$state"
  "$bin" run --trust "$TR" --state "$state" "$T/sleep.toml" -- /bin/sleep 30 \
    </dev/null >/dev/null 2>"$T/run.err" &
  pid=$!
  if ! wait_for has_child "$pid"; then
    verdict=no-child
  elif ! awk -v path="$(readlink -f "$bin")" '
      /^[0-9a-f]+-[0-9a-f]+ / { mine = ($6 == path); if (mine) { perms = $2; off = $3 } ; next }
      mine && $1 == "Size:" { size = $2 }
      mine && $1 == "Rss:" { print perms, off, size, $2; n++ }
      END { exit n == 0 }' /proc/"$pid"/smaps >"$T/maps" 2>/dev/null; then
    verdict=unreadable
  else
    verdict=ok
    awk '$1 == "VmHWM:" { print $2 }' /proc/"$pid"/status >"$T/hwm"
  fi
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  echo "$verdict"
}

# Where the unwind tables start in the file (GNU_EH_FRAME's offset): the
# read-only data is populated up to and including that page, not beyond.
ehf=$(awk '$1 == "GNU_EH_FRAME" { print $2 }' "$T/phdrs")
# The exception tables lie beyond it too (lld would put them before it without
# cmd/except_table_last.ld), so that they are not populated.
except_table=$(readelf -SW "$GX" | awk '{ sub(/^ *\[ *[0-9]+\] */, "") } $1 == ".gcc_except_table" { print $3 }')
if [ -n "$except_table" ] && [ -n "$ehf" ]; then
  check "gx's exception tables (.gcc_except_table at file offset 0x$except_table) lie after the unwind tables ($ehf)" \
    test "$((16#$except_table))" -gt "$((ehf))"
fi
case $(mappings "$GX") in
  no-child) bad "gx run started no child: $(head -c 300 "$T/run.err")" ;;
  unreadable) echo "SKIP: cannot read a running gx's /proc/PID/smaps as $(id -un) (gx is not dumpable)" ;;
  ok)
    echo "gx's mappings of its own file in a running gx run (perms, offset, size kB, resident kB):"
    cat "$T/maps"
    check "gx's code is mapped" grep -q "^r-xp " "$T/maps"
    check "gx's writable data is mapped" grep -q "^rw-p " "$T/maps"
    while read -r perms off size rss; do
      # The code is left to fault in as it runs (cmd/prefault_entry.cc says why).
      [ "${perms:2:1}" = x ] && continue
      start=$((16#$off))
      end=$((start + size * 1024))
      if [ -n "$ehf" ] && [ "$((ehf))" -ge "$start" ] && [ "$((ehf))" -lt "$end" ]; then
        want=$(((($((ehf)) + 4095) / 4096 * 4096 - start) / 1024))
        check "read-only data resident up to the unwind tables ($rss of $size kB at $off, want >= $want)" \
          test "$rss" -ge "$want"
      else
        check "mapping $perms at $off wholly resident ($rss of $size kB)" test "$rss" = "$size"
      fi
    done <"$T/maps"
    hwm=$(cat "$T/hwm")
    echo "peak RSS of the running gx run so far: $hwm kB"
    check "peak RSS of a running gx run <= 8 MiB ($hwm kB)" test "$hwm" -le 8192
    # The control: without the prefault, the read-only data is mapped only
    # where a start touched it. A kernel that maps whole files at the first
    # fault would leave nothing to prove.
    # ro_before_unwind: the offset of the read-only mapping the unwind tables start in.
    ro_before_unwind() {
      local perms off size rss
      while read -r perms off size rss; do
        [ "$perms" = r--p ] && [ "$((ehf))" -ge "$((16#$off))" ] && [ "$((ehf))" -lt "$((16#$off + size * 1024))" ] &&
          echo "$off"
      done <"$T/maps"
    }
    ro_off=$(ro_before_unwind)
    case $(mappings "$PLAIN") in
      ok)
        read -r _ _ size rss < <(awk -v off="$ro_off" '$1 == "r--p" && $2 == off' "$T/maps")
        want=$(((($((ehf)) + 4095) / 4096 * 4096 - 16#$ro_off) / 1024))
        echo "the copy entered at _start: $rss of the $want kB of read-only data before the unwind tables resident"
        if [ "${rss:-0}" -ge "$want" ]; then
          echo "note: this kernel maps all of the copy's read-only data too; the check above cannot fail here"
        else
          check "the copy entered at _start has only part of its read-only data resident" test "$rss" -lt "$want"
        fi
        ;;
      *) bad "the copy entered at _start: gx run failed: $(head -c 300 "$T/run.err")" ;;
    esac
    ;;
esac

finish
