#!/usr/bin/env bash
# gx's start-up maps its own image with three madvise calls before glibc
# relocates it (cmd/prefault_entry.cc) instead of taking ~90 page faults.
# Proved against the same bytes entered at glibc's own _start (a copy whose
# ELF entry point is patched back): both work alike, and only gx's code is
# wholly resident in a running gx (/proc/PID/smaps: Rss equals Size).
source "$(dirname "$0")/lib/common.bash"
: "${GX_HELPERS:?GX_HELPERS must point at the built helper programs}"

entry=$(nm "$GX" 2>/dev/null | awk '$3 == "gx_prefault_entry" { print $1 }')
glibc_start=$(nm "$GX" 2>/dev/null | awk '$3 == "_start" { print $1 }')
if [ -z "$entry" ] || [ -z "$glibc_start" ]; then
  echo "SKIP: this gx is not a static PIE entered through gx_prefault_entry (a sanitizer, fuzzing or GX_STATIC_LIBC=OFF build)"
  exit 0
fi

# The ELF header's e_entry (offset 24, 8 bytes little-endian) is gx_prefault_entry.
e_entry=$(od -An -t x8 -j 24 -N 8 "$GX" | tr -d ' ')
check "gx's ELF entry point is gx_prefault_entry" test "$((16#$e_entry))" = "$((16#$entry))"

# The same bytes, entered at glibc's _start.
PLAIN=$T/gx-plain
cp "$GX" "$PLAIN"
printf '%016x' "$((16#$glibc_start))" | sed 's/../& /g' | awk '{ for (i = NF; i > 0; i--) printf "\\x%s", $i }' >"$T/le"
printf "$(cat "$T/le")" | dd of="$PLAIN" bs=1 seek=24 count=8 conv=notrunc status=none
check "the copy's entry point is _start" test "$(od -An -t x8 -j 24 -N 8 "$PLAIN" | tr -d ' ')" = "$(printf '%016x' "$((16#$glibc_start))")"

for bin in "$GX" "$PLAIN"; do
  expect_rc 0 "$bin --version" "$bin" --version
  grep -qx "gx [0-9.]*" "$T/out" && ok || bad "$bin --version prints the version: $(head -c 200 "$T/out")"
  # A subcommand that reads files, parses TOML and refuses cleanly.
  expect_rc 126 "$bin verify with a missing trust store" "$bin" verify --trust "$T/none.toml" "$T/missing.toml"
  grep -q "none.toml" "$T/err" && ok || bad "$bin verify names the missing trust store: $(head -c 300 "$T/err")"
done

# text_resident BIN: "RSS SIZE" (kB) of the executable mapping of BIN in a
# `BIN run` that is running a sleeping child; "unreadable" when this user
# cannot read a non-dumpable gx's smaps (an unprivileged suite).
mkkey k
"$GX" init -o "$T/sleep.toml" --max-uses 100 -- /bin/sleep 30 >/dev/null 2>&1 || bad "init"
"$GX" sign -k "$T/k.key" "$T/sleep.toml" >/dev/null 2>&1 || bad "sign"
text_resident() {
  local bin=$1 pid i kids= line
  mkdir -p "$T/state-${bin##*/}"
  chmod 700 "$T/state-${bin##*/}"
  "$bin" run --trust "$T/trust.toml" --state "$T/state-${bin##*/}" "$T/sleep.toml" -- /bin/sleep 30 \
    </dev/null >/dev/null 2>"$T/run.err" &
  pid=$!
  for i in $(seq 100); do
    kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null)
    [ -n "$kids" ] && break
    sleep 0.05
  done
  if [ -z "$kids" ]; then
    echo "no child"
  elif ! awk -v path="$(readlink -f "$bin")" '
      $2 ~ /^r-xp$/ && $6 == path { text = 1; next }
      /^[0-9a-f]+-[0-9a-f]+ / { text = 0; next }
      text && $1 == "Size:" { size = $2 }
      text && $1 == "Rss:" { rss = $2 }
      END { if (size == "") exit 1; print rss, size }' /proc/"$pid"/smaps >"$T/rss" 2>/dev/null; then
    echo "unreadable"
  else
    cat "$T/rss"
  fi
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
if ! why=$("$GX_HELPERS/populate_probe"); then
  echo "SKIP: madvise(MADV_POPULATE_READ) fails here ($why; Linux < 5.14): gx starts as if entered at _start"
  finish
fi
read -r rss size <<<"$(text_resident "$GX")"
case $rss in
  "no child") bad "gx run started no child: $(head -c 300 "$T/run.err")" ;;
  unreadable) echo "SKIP: cannot read a running gx's /proc/PID/smaps as $(id -un) (gx is not dumpable)" ;;
  *)
    echo "gx's code in a running gx: $rss of $size kB resident"
    check "all of gx's code is resident ($rss of $size kB)" test "$rss" = "$size"
    read -r rss size <<<"$(text_resident "$PLAIN")"
    echo "the copy entered at _start: $rss of $size kB resident"
    # The control: without the prefault, fault-around leaves part of the code unmapped here.
    # A kernel that maps whole files at the first fault would leave nothing to prove.
    if [ "$rss" = "$size" ]; then
      echo "note: this kernel maps all of the copy's code too; the check above cannot fail here"
    else
      check "the copy entered at _start has only part of its code resident" test "$rss" -lt "$size"
    fi
    ;;
esac

finish
