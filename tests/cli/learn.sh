#!/usr/bin/env bash
# gx learn: learn one run, sign it, replay it under gx run with the same
# output, and prove that a variant doing something new is denied.
source "$(dirname "$0")/lib/common.bash"
: "${GX_HELPERS:?GX_HELPERS must point at the built helpers}"
PROBE=$GX_HELPERS/learn_probe

# The trust store's directory is protected from the child (gx run refuses
# grants that reach it), so keys and the workload live apart.
mkdir -p "$T/k" "$T/w/in" "$T/w/out" "$T/w/elsewhere" "$T/w/dir/sub"
TRUST=$T/k/trust.toml
"$GX" keygen -o "$T/k/alice" >/dev/null 2>&1 || bad "keygen"
"$GX" trust add "$T/k/alice.pub" --name alice --trust "$TRUST" >/dev/null 2>&1 || bad "trust add"
sign() { "$GX" sign -k "$T/k/alice.key" "$1" >/dev/null 2>&1 || bad "sign $1"; }
R() { "$GX" run --trust "$TRUST" "$@"; }
W=$T/w
cd "$W"
echo "hello from the input" >"$W/in/data.txt"
echo plain >"$W/flag"
CMD=("$PROBE" "$W/flag" "$W/in/data.txt" "$W/out" "$W/elsewhere")

# --- learn the plain run ---
expect_rc 0 "learn exits 0" "$GX" learn --max-uses 5 --trust "$TRUST" -o "$W/p.toml" -- "${CMD[@]}"
cp "$T/out" "$W/learned.out"
check "learned run printed its output" grep -q "^input: hello from the input" "$W/learned.out"
check "learn says the command really runs" grep -q "for real" "$T/err"
check "learn reports the command's status" grep -q "exited with status 0" "$T/err"
check "result written during learning" test -f "$W/out/result.txt"
check "write dir learned (file created in it)" grep -q "^write = \[\"/dev/null\", \"$W/out\"\]" "$W/p.toml"
check "flag file learned for reading" grep -q "\"$W/flag\"" "$W/p.toml"
check "input learned for reading" grep -q "\"$W/in/data.txt\"" "$W/p.toml"
check "no other workload path granted" test "$(grep -E '^(read|write|exec) = ' "$W/p.toml" | grep -o "\"$W[^\"]*\"" | grep -v -e "$W/out\"" -e "$W/flag\"" -e "$W/in/data.txt\"" -e "$W\"" | wc -l)" = 0
check "network none" grep -q '^network = "none"' "$W/p.toml"
check "no exec paths" grep -q '^exec = \[\]' "$W/p.toml"
check "default group" grep -q '^groups = \["default"' "$W/p.toml"
check "says it learned from one run" grep -q "from ONE run" "$W/p.toml"
check "trust dir never learned" bash -c "! grep -q '\"$T/k' '$W/p.toml'"

# --- the learned artifact, signed, runs the same command with the same output ---
sign "$W/p.toml"
rm -f "$W/out/result.txt"
expect_rc 0 "gx run of the learned artifact" R "$W/p.toml" -- "${CMD[@]}"
check "same stdout as the learned run" cmp -s "$T/out" "$W/learned.out"
check "result written under gx run" test -f "$W/out/result.txt"

# --- a variant that opens a socket is denied ---
echo net >"$W/flag"
"${CMD[@]}" >"$W/direct.out" 2>&1
check "unconfined, the net variant creates its marker" test -f "$W/out/net-marker"
rm -f "$W/out/net-marker"
expect_rc 3 "net variant fails under gx run" R "$W/p.toml" -- "${CMD[@]}"
check "socket denied with EPERM" grep -q "^socket: Operation not permitted" "$T/out"
check "no marker under gx run" test ! -e "$W/out/net-marker"

# --- a variant that writes outside the learned write dir is denied ---
echo escape >"$W/flag"
expect_rc 4 "escape variant fails under gx run" R "$W/p.toml" -- "${CMD[@]}"
check "escape denied" grep -q "^escape: Permission denied" "$T/out"
check "nothing written outside" test ! -e "$W/elsewhere/escaped"

# --- learning the net variant: network = tcp with the observed port ---
echo net >"$W/flag"
expect_rc 0 "learn net variant" "$GX" learn --trust "$TRUST" -o "$W/n.toml" -- "${CMD[@]}"
check "network tcp learned" grep -q '^network = "tcp"' "$W/n.toml"
check "connect port learned" grep -q '^connect_tcp = \[9\]' "$W/n.toml"
check "network group learned" grep -q '^groups = \["default", "network"' "$W/n.toml"
rm -f "$W/out/net-marker"
sign "$W/n.toml"
expect_rc 0 "net variant runs under its own learned artifact" R "$W/n.toml" -- "${CMD[@]}"
check "socket allowed there" grep -q "^socket ok" "$T/out"
check "marker created there" test -f "$W/out/net-marker"

# --- /bin/ls of a directory ---
touch "$W/dir/a" "$W/dir/b"
expect_rc 0 "learn ls" "$GX" learn --trust "$TRUST" -o "$W/ls.toml" -- /bin/ls "$W/dir"
cp "$T/out" "$W/ls.learned"
check "ls listed during learning" grep -qx "sub" "$W/ls.learned"
check "ls: the directory is a read grant" grep -q "\"$W/dir\"" "$W/ls.toml"
sign "$W/ls.toml"
expect_rc 0 "gx run ls" R "$W/ls.toml" -- /bin/ls "$W/dir"
check "ls: same output" cmp -s "$T/out" "$W/ls.learned"

# --- a shell that runs a child: its exec path and loader are learned ---
expect_rc 0 "learn sh -c" "$GX" learn --trust "$TRUST" -o "$W/sh.toml" -- /bin/sh -c "/bin/cat $W/in/data.txt; echo done"
cp "$T/out" "$W/sh.learned"
check "exec of cat learned" grep -q "^exec = \[.*\"$(readlink -f /bin/cat)\"" "$W/sh.toml"
check "loader of cat learned" grep -q "^exec = \[.*ld-linux" "$W/sh.toml"
sign "$W/sh.toml"
expect_rc 0 "gx run sh -c" R "$W/sh.toml" -- /bin/sh -c "/bin/cat $W/in/data.txt; echo done"
check "sh -c: same output" cmp -s "$T/out" "$W/sh.learned"

# --- --profile-only prints only the [sandbox] table; stdout of the command goes to stderr ---
echo plain >"$W/flag"
expect_rc 0 "profile-only" "$GX" learn --profile-only --trust "$TRUST" -- "${CMD[@]}"
check "profile starts with [sandbox]" test "$(head -1 "$T/out")" = "[sandbox]"
check "profile has no [exec] table" bash -c "! grep -q '^\[exec\]' '$T/out'"
check "profile has the output (now an existing file)" grep -q "^write = .*\"$W/out/result.txt\"" "$T/out"
check "command stdout went to stderr" grep -q "^mode=plain" "$T/err"

# --- exit status: a failing command is an error (nothing written) unless --keep-failed ---
expect_rc 125 "learn of a failing command fails" "$GX" learn --trust "$TRUST" -o "$W/f.toml" -- /bin/false
check "says the command failed, with its status" grep -q "FAILED while it was learned (exit status 1): no artifact written" "$T/err"
check "no artifact written for a failing run" test ! -e "$W/f.toml"
expect_rc 125 "learn of a failing command to stdout fails" "$GX" learn --trust "$TRUST" -- /bin/false
check "nothing on stdout" test ! -s "$T/out"
expect_rc 0 "--keep-failed writes it anyway" "$GX" learn --keep-failed --trust "$TRUST" -o "$W/f.toml" -- /bin/false
check "reports status 1" grep -q "exited with status 1" "$T/err"
check "warns it kept a failed run" grep -q "FAILED while it was learned (exit status 1); writing the artifact anyway" "$T/err"
check "artifact written for /bin/false" test -s "$W/f.toml"
expect_rc 125 "refuses to overwrite without --force (nothing run)" "$GX" learn -o "$W/f.toml" -- "${CMD[@]}"
expect_rc 0 "--force overwrites" "$GX" learn --force --trust "$TRUST" -o "$W/f.toml" -- /bin/true
expect_rc 125 "no command" "$GX" learn -o "$W/x.toml"
check "--help warns the command runs" bash -c "'$GX' learn --help | grep -q 'RUN a command'"

# --- optional real-world check: python3 ---
PY=/usr/bin/python3
if [ -x "$PY" ]; then
  expect_rc 0 "learn python3" "$GX" learn --trust "$TRUST" -o "$W/py.toml" -- "$PY" -c 'import json; print(json.dumps([6*7]))'
  cp "$T/out" "$W/py.learned"
  sign "$W/py.toml"
  expect_rc 0 "gx run python3" R "$W/py.toml" -- "$PY" -c 'import json; print(json.dumps([6*7]))'
  check "python3: same output" cmp -s "$T/out" "$W/py.learned"
fi

# --- chmod: learned, with a warning that Landlock does not confine it ---
touch "$W/out/perm"
chmod 644 "$W/out/perm"
expect_rc 0 "learn chmod" "$GX" learn --trust "$TRUST" -o "$W/chmod.toml" -- /bin/chmod 600 "$W/out/perm"
check "learn warns that mode changes reach outside the grants" grep -q "changed file modes, owners or xattrs" "$T/err"
check "the learned artifact allows the mode change" grep -qE '"permissions"|"fchmodat"|"chmod"' "$W/chmod.toml"
sign "$W/chmod.toml"
chmod 644 "$W/out/perm"
expect_rc 0 "gx run of the learned chmod" R "$W/chmod.toml" -- /bin/chmod 600 "$W/out/perm"
check "the mode changed under gx run" test "$(stat -c %a "$W/out/perm")" = 600
# Setuid stays refused even where chmod is allowed.
sed -i 's|^argv = .*|argv = ["/bin/chmod", "4755", "'"$W/out/perm"'"]|' "$W/chmod.toml"
sed -i '/^\[\[signature\]\]/,$d' "$W/chmod.toml"
sign "$W/chmod.toml"
expect_rc 1 "setuid chmod refused under the learned artifact" R "$W/chmod.toml" -- /bin/chmod 4755 "$W/out/perm"
check "chmod saw EPERM" grep -q "Operation not permitted" "$T/err"
check "no setuid bit" test "$(stat -c %a "$W/out/perm")" = 600

# The observed command starts with what its caller ignores, as under gx run.
got=$( (trap '' HUP; "$GX" learn --trust "$TRUST" -o "$W/traps.toml" -- /bin/bash -c 'trap -p' 2>/dev/null) )
check "learn: the caller's ignored SIGHUP reaches the command ($got)" test "$got" = "trap -- '' SIGHUP"

finish
