# Shared by the CLI tests: a scratch directory, assertions, a closing count.
# Source it; it needs GX (the built binary) in the environment.
set -uo pipefail
: "${GX:?GX must point at the gx binary}"
T=$(mktemp -d /tmp/gx-test.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
export XDG_CONFIG_HOME=$T/config XDG_STATE_HOME=$T/state
export NO_COLOR=1
PASS=0
FAIL=0

ok() { PASS=$((PASS + 1)); }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $*" >&2; }

# run CMD...: runs, keeping exit code in $RC, stdout in $T/out, stderr in $T/err
run() {
  "$@" >"$T/out" 2>"$T/err"
  RC=$?
}

# expect_rc WANT DESC CMD...
expect_rc() {
  local want=$1 desc=$2
  shift 2
  run "$@"
  if [ "$RC" = "$want" ]; then ok; else bad "$desc: exit $RC, wanted $want; stderr: $(head -c 400 "$T/err")"; fi
}

# expect_denied CODE DESC CMD...: exit 126 and "gx: denied (CODE)" on stderr.
# For `gx run --state DIR` (not a dry run) it also checks that the newest
# receipt in DIR is a signed "denied" receipt with that reason code.
expect_denied() {
  local code=$1 desc=$2
  shift 2
  run "$@"
  if [ "$RC" = 126 ] && grep -q "gx: denied ($code)" "$T/err"; then ok; else
    bad "$desc: exit $RC, wanted 126 with reason $code; stderr: $(head -c 400 "$T/err")"
    return
  fi
  local state="" is_run="" dry="" prev="" a
  for a in "$@"; do
    [ "$a" = "--" ] && break
    [ "$a" = run ] && is_run=1
    [ "$a" = --dry-run ] && dry=1
    [ "$prev" = --state ] && state=$a
    case $a in --state=*) state=${a#--state=} ;; esac
    prev=$a
  done
  if [ -n "$is_run" ] && [ -z "$dry" ] && [ -n "$state" ] && [ "$code" != log-unavailable ]; then
    local last
    last=$("$GX" log show --state "$state" --json --tail 1 2>/dev/null | tail -n 1)
    if [ "$(jq -r '.decision + " " + .reason' <<<"$last" 2>/dev/null)" = "denied $code" ]; then ok; else
      bad "$desc: no denied receipt with reason $code in $state (last: ${last:0:300})"
    fi
  fi
}

# check DESC CMD...: passes when CMD succeeds
check() {
  local desc=$1
  shift
  if "$@"; then ok; else bad "$desc"; fi
}

# A key pair trusted in $T/trust.toml: mkkey NAME
mkkey() {
  "$GX" keygen -o "$T/$1" >"$T/$1.id" 2>/dev/null || { bad "keygen $1"; return 1; }
  "$GX" trust add "$T/$1.pub" --name "$1" --trust "$T/trust.toml" >/dev/null 2>&1 || bad "trust add $1"
}

# Signs raw body bytes with openssl (no gx involved): ossl_sign BODYFILE KEYNAME OUT
ossl_sign() {
  local body=$1 key=$2 out=$3
  local type="application/vnd.gx.artifact.v1+toml"
  { printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$(stat -c %s "$body")"; cat "$body"; } >"$T/pae.bin"
  # gx accepts low-S signatures only; openssl makes high S half of the time.
  openssl dgst -sha256 -sign "$T/$key.key" "$T/pae.bin" | "$GX_HELPERS/sig_mangle" low-s >"$T/sig.der"
  { cat "$body"; printf '[[signature]]\nkey_id = "%s"\nalgorithm = "ecdsa-p256-sha256"\nvalue = "%s"\n' \
      "$(cat "$T/$key.id")" "$(base64 -w0 "$T/sig.der")"; } >"$out"
}

# wait_for COND-CMD...: polls up to 5 s.
wait_for() {
  local i
  for i in $(seq 100); do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}

finish() {
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" = 0 ]
  exit $?
}
