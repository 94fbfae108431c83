#!/usr/bin/env bash
# The compiled-filter cache (lib/filter_cache.h): a repeat run takes its
# seccomp filter from <state>/filter-*, and gets exactly the filter a fresh
# build gives; a planted, altered or garbage entry is never used (the run
# still gets the right filter and the entry is rewritten).
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/run_env.bash"

art touch --max-uses 100 --write "$W" -- "$H/try_marker" "$W/marker"
seccomp_of() { jq -S '.sandbox.seccomp' "$1"; }

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

# Planted: a well-formed one-instruction program that allows everything,
# under the real entry's name. No tag under the state secret: a miss.
printf '%s' '{"flags":0,"format":1,"program":[[6,0,0,2147418112]],"summary":{"allowed":[],"allowed_dangerous":[],"architectures":["x86_64"],"argument_checks":[],"default_action":"errno(EPERM)","denied":[],"enosys":[],"groups":["default"],"instructions":1,"ioctl_groups":[],"ioctls":[],"killed_abis":[],"log_denials":false,"network":"none","unix_sockets":false}}' >"$blob"
rm -f "$W/marker"
expect_rc 0 "a planted allow-all filter is ignored" R --report "$T/r3.json" "$T/touch.toml" -- "$H/try_marker" "$W/marker"
check "planted: the real filter was installed" test "$(seccomp_of "$T/r1.json")" = "$(seccomp_of "$T/r3.json")"
check "planted: the entry was rewritten" grep -q '"instructions":'"$(jq '.sandbox.seccomp.instructions' "$T/r1.json")" "$blob"

# Garbage and a truncated entry: misses too.
head -c 100 /dev/urandom >"$blob"
expect_rc 0 "a garbage entry is ignored" R --report "$T/r4.json" "$T/touch.toml" -- "$H/try_marker" "$W/marker"
check "garbage: the real filter" test "$(seccomp_of "$T/r1.json")" = "$(seccomp_of "$T/r4.json")"
truncate -s 50 "$blob"
expect_rc 0 "a truncated entry is ignored" R --report "$T/r5.json" "$T/touch.toml" -- "$H/try_marker" "$W/marker"
check "truncated: the real filter" test "$(seccomp_of "$T/r1.json")" = "$(seccomp_of "$T/r5.json")"
finish
