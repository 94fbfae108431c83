#!/usr/bin/env bash
# The test isolation itself (tests/hermetic.sh), checked from outside it: gx
# with DEFAULT paths, run through the wrapper, writes only private copies of
# its state: what it wrote (its key id in the trust store, its receipt in the
# log) is nowhere in the machine's /etc/gx and /var/lib/gx (root) or the
# caller's XDG directories (not root), and a directory that was absent is
# still absent. (Not a whole-tree comparison: on a shared machine other,
# unisolated processes may write the real /var/lib/gx meanwhile.)
source "$(dirname "$0")/cli/lib/common.bash"
: "${GX_HERMETIC_SH:?GX_HERMETIC_SH must point at tests/hermetic.sh}"

# What runs inside: the whole flow with gx's defaults (no --trust, no --state),
# then proof that the defaults it used were private and empty to begin with.
cat >"$T/inside.sh" <<'EOF'
set -eu
W=$(mktemp -d /tmp/gx-hermetic-test.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
if [ "$(id -u)" = 0 ]; then trust=/etc/gx/trust.toml state=/var/lib/gx; else
  trust=$XDG_CONFIG_HOME/gx/trust.toml state=$XDG_STATE_HOME/gx; fi
echo "trust=$trust state=$state"
# private and empty before gx runs
if [ -e "$trust" ]; then echo "trust store exists before the test: $trust"; exit 1; fi
if [ -n "$(ls -A "$state" 2>/dev/null)" ]; then echo "state is not empty before the test: $state"; exit 1; fi
"$GX" keygen -o k >"$OUT/key.id"
"$GX" trust add k.pub --name k >/dev/null
"$GX" init --max-uses 1 -o a.toml -- /bin/true >/dev/null
"$GX" sign -k k.key a.toml >/dev/null
"$GX" run a.toml -- /bin/true
test -s "$trust"
test -s "$state/receipts.log"
"$GX" log verify >/dev/null
tail -n 1 "$state/receipts.log" >"$OUT/receipt"
echo "private-writes-ok"
EOF

if [ "$(id -u)" = 0 ]; then
  watched=(/etc/gx /var/lib/gx)
else
  # Not root: gx's defaults come from XDG; the wrapper must point them away
  # from the caller's (which common.bash set to $T/config and $T/state).
  watched=("$XDG_CONFIG_HOME" "$XDG_STATE_HOME")
fi
absent=()
for d in "${watched[@]}"; do [ -e "$d" ] || [ -L "$d" ] || absent+=("$d"); done

export OUT=$T
run bash "$GX_HERMETIC_SH" bash "$T/inside.sh"
if [ "$RC" = 0 ] && grep -q private-writes-ok "$T/out"; then ok; else
  bad "gx with default paths inside the wrapper: exit $RC: $(tail -c 600 "$T/out") $(tail -c 600 "$T/err")"
fi
check "the inside run left its key id and receipt for comparison" test -s "$T/key.id" -a -s "$T/receipt"
for d in "${absent[@]}"; do
  check "$d was absent and still is" test ! -e "$d" -a ! -L "$d"
done
for d in "${watched[@]}"; do
  if [ -d "$d" ] && grep -rqF -f "$T/key.id" "$d" 2>/dev/null; then bad "the private key id reached $d"; else ok; fi
  if [ -d "$d" ] && grep -rqxF -f "$T/receipt" "$d" 2>/dev/null; then bad "the private receipt reached $d"; else ok; fi
done

# The wrapper passes the test's exit status through, and it leaves no scratch behind.
# A private TMPDIR: other tests running at the same time make and remove their own.
mkdir -p "$T/tmpdir"
expect_rc 7 "exit status passes through" env TMPDIR="$T/tmpdir" bash "$GX_HERMETIC_SH" bash -c 'exit 7'
check "no scratch directory left behind ($(ls -A "$T/tmpdir" | head -3))" test -z "$(ls -A "$T/tmpdir")"

if [ "$(id -u)" = 0 ]; then
  # Inside: both defaults are tmpfs, and nothing mounted there leaks out.
  expect_rc 0 "defaults are private tmpfs inside" bash "$GX_HERMETIC_SH" bash -c \
    'test "$(stat -f -c %T /etc/gx)" = tmpfs && test "$(stat -f -c %T /var/lib/gx)" = tmpfs && touch /etc/gx/m /var/lib/gx/m'
  check "a file made in /etc/gx inside is not outside" test ! -e /etc/gx/m
  check "a file made in /var/lib/gx inside is not outside" test ! -e /var/lib/gx/m
  if grep -q gx-hermetic /proc/self/mountinfo; then bad "a wrapper mount leaked into the caller's namespace"; else ok; fi
else
  echo "skip (not root): the mount-namespace half needs root; checked the XDG half"
fi
finish
