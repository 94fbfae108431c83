#!/usr/bin/env bash
# Attack: a broker worker keeps the artifact bodies it parsed last (ArtifactParseMemo,
# lib/artifact.h). A caller who has seen an authorized artifact sends its body again to the
# same worker, under a signature of its own: a forged value, or a key the broker does not trust,
# hoping a body the worker already knows is taken as verified.
# Expected: every request's signatures are checked as without the memo: both are denied with
# their reason, and the command never runs (no marker).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
start_broker || finish
# The command leaves a marker (a shell builtin: the artifact lets it start nothing else).
CMD=': >"$1"'
art mk --max-uses 20 --write "$W" -- /bin/sh -c "$CMD" sh "$W/m"
expect_rc 0 "control: the command runs" B "$T/mk.toml" -- /bin/sh -c "$CMD" sh "$W/m"
check "control: its marker was made" test -e "$W/m"
# The receipt key and the log were just made: a worker reloads state younger than 2 s and is
# then not reused (lib/broker_state.h). Let them age; the spare made meanwhile serves one request.
# Then two requests: a reused worker has parsed this body before the attack.
racy_window_passed
B "$T/mk.toml" -- /bin/sh -c "$CMD" sh "$W/m" >/dev/null 2>&1
worker_settle
B "$T/mk.toml" -- /bin/sh -c "$CMD" sh "$W/m" >/dev/null 2>&1
rm -f "$W/m"
worker_settle

# The same body, its signature's value altered (one base64 character inside r).
awk '/^value = "/ && !done { c = substr($0, 20, 1); r = (c == "A") ? "B" : "A"; $0 = substr($0, 1, 19) r substr($0, 21); done = 1 } { print }' \
  "$T/mk.toml" >"$T/forged.toml"
changed=$(diff "$T/mk.toml" "$T/forged.toml" | grep -c '^[<>]')
sigs=$(diff "$T/mk.toml" "$T/forged.toml" | grep -c '^[<>] value = "')
check "the forged copy differs from the artifact in its signature's value only ($changed, $sigs)" \
  test "$changed" = 2 -a "$sigs" = 2
expect_denied invalid-signature "the kept body under a forged signature" \
  B "$T/forged.toml" -- /bin/sh -c "$CMD" sh "$W/m"
check "the command never ran (no marker)" test ! -e "$W/m"

# The same body signed by a key the broker does not trust.
"$GX" keygen -o "$T/mallory" >/dev/null 2>&1 || bad "keygen mallory"
sed '/^\[\[signature\]\]$/,$d' "$T/mk.toml" >"$T/mallory.toml"
"$GX" sign -k "$T/mallory.key" "$T/mallory.toml" >/dev/null 2>&1 || bad "sign with mallory"
expect_denied untrusted-key "the kept body signed by an untrusted key" \
  B "$T/mallory.toml" -- /bin/sh -c "$CMD" sh "$W/m"
check "the command never ran (no marker)" test ! -e "$W/m"

# The worker that knows the body still serves it, signed as it was.
B "$T/mk.toml" -- /bin/sh -c "$CMD" sh "$W/m" >"$T/o2" 2>&1
check "the original still runs: $(head -c 200 "$T/o2")" test -e "$W/m"
stop_broker
finish
