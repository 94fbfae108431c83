#!/usr/bin/env bash
# The compiled-filter cache (lib/filter_cache.h): a repeat run takes its
# seccomp filter from <state>/filter-*, and gets exactly the filter a fresh
# build gives; a planted, altered or garbage entry is never used (the run
# still gets the right filter and the entry is rewritten).
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/run_env.bash"

art touch --max-uses 100 --write "$W" -- "$H/try_marker" "$W/marker"
seccomp_of() { jq -S '.sandbox.seccomp' "$1"; }
refute_same() { ! cmp -s "$1" "$2"; }

expect_rc 0 "first run builds and stores the filter" R --report "$T/r1.json" "$T/touch.toml" -- "$H/try_marker" "$W/marker"
n=$(find "$S" -maxdepth 1 -name 'filter-*' | wc -l)
check "one stored filter (found $n)" test "$n" = 1
blob=$(find "$S" -maxdepth 1 -name 'filter-*' | head -1)
check "its tag is in filters.cache" test "$(stat -c %s "$S/filters.cache")" = 32
check "the stored filter is private" test "$(stat -c %a "$blob")" = 600
rm -f "$W/marker"
expect_rc 0 "second run (cached filter)" R --report "$T/r2.json" "$T/touch.toml" -- "$H/try_marker" "$W/marker"
check "the second run ran" test -e "$W/marker"
check "same seccomp summary from the cache" test "$(seccomp_of "$T/r1.json")" = "$(seccomp_of "$T/r2.json")"
check "a hit adds no tag" test "$(stat -c %s "$S/filters.cache")" = 32

cp "$blob" "$T/blob.orig"
# Planted: a well-formed filter of a wider policy (one more syscall group),
# stored and tagged by a real run under ITS name, copied over this entry.
# Its tag does not cover this name: a miss.
art wider --group network --max-uses 100 --write "$W" -- "$H/try_marker" "$W/marker"
expect_rc 0 "a run with a wider sandbox stores its own filter" R "$T/wider.toml" -- "$H/try_marker" "$W/marker"
other=$(find "$S" -maxdepth 1 -name 'filter-*' ! -name "$(basename "$blob")" | head -1)
check "a second stored filter" test -n "$other"
check "the two filters differ" refute_same "$other" "$blob"
cp "$other" "$blob"
rm -f "$W/marker"
expect_rc 0 "a planted filter of another policy is ignored" R --report "$T/r3.json" "$T/touch.toml" -- "$H/try_marker" "$W/marker"
check "planted: the real filter was installed" test "$(seccomp_of "$T/r1.json")" = "$(seccomp_of "$T/r3.json")"
check "planted: the entry was rewritten with the real filter" cmp -s "$blob" "$T/blob.orig"

# Garbage and a truncated entry: misses too.
head -c 100 /dev/urandom >"$blob"
expect_rc 0 "a garbage entry is ignored" R --report "$T/r4.json" "$T/touch.toml" -- "$H/try_marker" "$W/marker"
check "garbage: the real filter" test "$(seccomp_of "$T/r1.json")" = "$(seccomp_of "$T/r4.json")"
check "garbage: the entry was rewritten with the real filter" cmp -s "$blob" "$T/blob.orig"
truncate -s 50 "$blob"
expect_rc 0 "a truncated entry is ignored" R --report "$T/r5.json" "$T/touch.toml" -- "$H/try_marker" "$W/marker"
check "truncated: the real filter" test "$(seccomp_of "$T/r1.json")" = "$(seccomp_of "$T/r5.json")"
finish
