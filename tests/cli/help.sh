#!/usr/bin/env bash
# Everyday use of the front end: typo suggestions, exit statuses of usage
# errors, machine output that is exactly one JSON document on stdout, and
# the interop recipe of gx-verify(1).
source "$(dirname "$0")/lib/common.bash"

# expect_hint DESC HINT CMD...: exit 125 and exactly the line "gx: error: HINT" on stderr
expect_hint() {
  local desc=$1 hint=$2
  shift 2
  run "$@"
  if [ "$RC" = 125 ] && grep -qxF "gx: error: $hint" "$T/err"; then ok; else
    bad "$desc: exit $RC, stderr: $(head -c 300 "$T/err")"
  fi
}
# expect_no_hint DESC CMD...: exit 125 without any suggestion
expect_no_hint() {
  local desc=$1
  shift
  run "$@"
  if [ "$RC" = 125 ] && ! grep -q "did you mean" "$T/err" && [ -s "$T/err" ]; then ok; else
    bad "$desc: exit $RC, stderr: $(head -c 300 "$T/err")"
  fi
}

# --- typo suggestions ---
expect_hint "misspelt command" "unknown command 'verfy'; did you mean 'verify'?" "$GX" verfy a.toml
expect_hint "transposed letters" "unknown command 'sgin'; did you mean 'sign'?" "$GX" sgin -k k a.toml
expect_hint "nested command" "unknown command 'lst' for 'gx trust'; did you mean 'list'?" "$GX" trust lst
expect_hint "nested log command" "unknown command 'shwo' for 'gx log'; did you mean 'show'?" "$GX" log shwo
expect_hint "misspelt option" "unknown option '--dry-rn' for 'gx run'; did you mean '--dry-run'?" \
  "$GX" run --dry-rn a.toml -- /bin/true
expect_hint "option after positionals" "unknown option '--jsno' for 'gx verify'; did you mean '--json'?" \
  "$GX" verify a.toml --jsno
expect_hint "option=value form" "unknown option '--trus' for 'gx trust list'; did you mean '--trust'?" \
  "$GX" trust list --trus=x.toml
expect_hint "option of the top level" "unknown option '--verison' for 'gx'; did you mean '--version'?" "$GX" --verison
expect_no_hint "far from every command" "$GX" xyzzy
expect_no_hint "far from every option" "$GX" run --frobnicate a.toml -- /bin/true
expect_no_hint "missing subcommand" "$GX"
expect_no_hint "missing required option" "$GX" sign a.toml
# Words after "--" belong to the governed command, never to gx.
expect_rc 0 "options after -- are the command's" "$GX" init --no-bind-host -- /bin/echo --dry-rn
check "they are recorded as arguments" grep -q '"--dry-rn"' "$T/out"
expect_rc 0 "--help still works" "$GX" verify --help
expect_rc 0 "--version still works" "$GX" --version
check "--version prints the version" grep -qx "gx [0-9]*\.[0-9]*\.[0-9]*" "$T/out"

# --- no color, even on a color terminal without NO_COLOR (gx(1) promises none) ---
for args in "--help" "verify --help" "verfy" "verify $T/none.toml"; do
  # shellcheck disable=SC2086
  env -u NO_COLOR TERM=xterm-256color "$GX" $args >"$T/out" 2>"$T/err"
  if cat "$T/out" "$T/err" | grep -q $'\x1b'; then bad "gx $args printed an escape sequence"; else ok; fi
done

# --- --json: one JSON document on stdout, nothing else ---
# expect_json RC DESC CMD...: exit RC, stdout is exactly one JSON document
expect_json() {
  local want=$1 desc=$2
  shift 2
  run "$@"
  if [ "$RC" = "$want" ] && [ "$(jq -s length <"$T/out" 2>/dev/null)" = 1 ]; then ok; else
    bad "$desc: exit $RC (wanted $want), stdout: $(head -c 300 "$T/out"), stderr: $(head -c 300 "$T/err")"
  fi
}
mkkey alice
cd "$T" || exit 1
"$GX" init -o "$T/a.toml" -- /bin/echo hello 2>/dev/null
cp "$T/a.toml" "$T/unsigned.toml"
"$GX" sign -k "$T/alice.key" "$T/a.toml" 2>/dev/null
V=("$GX" verify --trust "$T/trust.toml")
R=("$GX" run --trust "$T/trust.toml")

expect_json 0 "verify --json, valid" "${V[@]}" --json "$T/a.toml"
check "verify --json: allow" test "$(jq -r .decision "$T/out")" = allow
check "verify --json: nothing on stderr" test ! -s "$T/err"
expect_json 126 "verify --json, unsigned" "${V[@]}" --json "$T/unsigned.toml"
check "verify --json: reason" test "$(jq -r .reason "$T/out")" = missing-authorization
check "verify --json, denied: nothing on stderr" test ! -s "$T/err"
expect_json 126 "verify --json, missing trust store" "$GX" verify --trust "$T/none.toml" --json "$T/a.toml"
check "verify --json: trust-store-invalid" test "$(jq -r .reason "$T/out")" = trust-store-invalid

expect_json 0 "run --dry-run --json" "${R[@]}" --dry-run --json "$T/a.toml" -- /bin/echo hello
check "run --dry-run --json: allow" test "$(jq -r .decision.decision "$T/out")" = allow
check "run --dry-run --json: dry_run" test "$(jq -r .dry_run "$T/out")" = true
check "run --dry-run --json: the sandbox is shown" test "$(jq -r '.sandbox.landlock.landlock_abi > 0' "$T/out")" = true
expect_json 126 "run --dry-run --json, denied" "${R[@]}" --dry-run --json "$T/a.toml" -- /bin/echo goodbye
check "run --json: reason" test "$(jq -r .decision.reason "$T/out")" = policy-mismatch
check "run --json: field" test "$(jq -r .decision.field "$T/out")" = "exec.argv[1]"
check "run --json, denied: nothing on stderr but warnings" test "$(grep -vc '^gx: warning:' "$T/err")" = 0
expect_rc 0 "run --dry-run without --json" "${R[@]}" --dry-run "$T/a.toml" -- /bin/echo hello
check "run --dry-run: stdout stays empty" test ! -s "$T/out"
check "run --dry-run: the report goes to stderr" grep -q '"dry_run": true' "$T/err"
expect_rc 0 "the dry runs spent no use" "${R[@]}" "$T/a.toml" -- /bin/echo hello
check "the command's output is stdout" test "$(cat "$T/out")" = hello
expect_denied replay "its single use is now spent" "${R[@]}" "$T/a.toml" -- /bin/echo hello

# --- gx-verify(1) interop recipe: payload and identity from standard tools ---
type=application/vnd.gx.artifact.v1+toml
sed '/^\[\[signature\]\]$/,$d' "$T/a.toml" >"$T/body.toml"
{ printf 'DSSEv1 %d %s %d ' ${#type} "$type" "$(stat -c %s "$T/body.toml")"; cat "$T/body.toml"; } >"$T/payload.bin"
"$GX" verify --print-payload "$T/a.toml" >"$T/gx-payload.bin"
check "hand-built PAE equals --print-payload" cmp -s "$T/payload.bin" "$T/gx-payload.bin"
"${V[@]}" --json "$T/a.toml" >"$T/v.json"
check "identity is sha256 of the body" test "$(jq -r .artifact_digest "$T/v.json")" = "sha256:$(sha256sum <"$T/body.toml" | cut -d' ' -f1)"

finish
