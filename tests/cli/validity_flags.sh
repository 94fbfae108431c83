#!/usr/bin/env bash
# gx init/learn validity flags: --not-after alone means "from now until then",
# --not-before alone "from then for --ttl"; contradictions are refused.
source "$(dirname "$0")/lib/common.bash"
field() { sed -n "s/^$1 = \"\(.*\)\"$/\1/p" "$2"; }
secs() { date -u -d "$1" +%s; }

now=$(date -u +%s)
expect_rc 0 "--not-after alone" "$GX" init -o "$T/a.toml" --not-after 2099-01-01T00:00:00Z -- /bin/true
check "...ends then" test "$(field not_after "$T/a.toml")" = 2099-01-01T00:00:00Z
nb=$(secs "$(field not_before "$T/a.toml")")
check "...starts now ($nb vs $now)" test $((nb - now)) -ge 0 -a $((nb - now)) -le 5

expect_rc 0 "--not-before alone" "$GX" init -o "$T/b.toml" --not-before 2099-01-01T00:00:00Z -- /bin/true
check "...ends --ttl (15m) later" test "$(field not_after "$T/b.toml")" = 2099-01-01T00:15:00Z
expect_rc 0 "--not-before with --ttl" "$GX" init -o "$T/c.toml" --not-before 2099-01-01T00:00:00Z --ttl 2h -- /bin/true
check "...ends 2h later" test "$(field not_after "$T/c.toml")" = 2099-01-01T02:00:00Z
expect_rc 0 "both" "$GX" init -o "$T/d.toml" --not-before 2099-01-01T00:00:00Z --not-after 2099-02-01T00:00:00Z -- /bin/true
check "...as given" test "$(field not_before "$T/d.toml") $(field not_after "$T/d.toml")" = "2099-01-01T00:00:00Z 2099-02-01T00:00:00Z"

expect_rc 125 "--ttl with --not-after is ambiguous" "$GX" init -o "$T/e.toml" --ttl 1h --not-after 2099-01-01T00:00:00Z -- /bin/true
check "...says why, naming the flag" grep -q "error: --ttl and --not-after both set the end of validity.*--ttl" "$T/err"
expect_rc 125 "--not-after in the past, alone" "$GX" init -o "$T/f.toml" --not-after 2020-01-01T00:00:00Z -- /bin/true
check "...must be in the future" grep -q "must be in the future.*--not-after" "$T/err"
expect_rc 125 "--not-after before --not-before" "$GX" init -o "$T/g.toml" --not-before 2099-01-02T00:00:00Z --not-after 2099-01-01T00:00:00Z -- /bin/true
check "...must be later" grep -q "later than --not-before" "$T/err"
expect_rc 125 "not a UTC time" "$GX" init -o "$T/h.toml" --not-after tomorrow -- /bin/true
check "...names the flag" grep -q "RFC 3339.*--not-after" "$T/err"
for f in e f g h; do check "nothing written ($f)" test ! -e "$T/$f.toml"; done
# gx learn shares the flags (nothing is run when they are wrong).
expect_rc 125 "learn: --ttl with --not-after" "$GX" learn -o "$T/l.toml" --ttl 1h --not-after 2099-01-01T00:00:00Z -- /bin/true
check "...nothing learned" test ! -e "$T/l.toml"
finish
