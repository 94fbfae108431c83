#!/bin/bash
# gx log verify|checkpoint|show, driven from the shell.
#
# The receipts are built here with jq and openssl only, following
# docs/receipts.md to the byte (sorted compact JSON, PAE-signed body without
# "sig", prev = SHA-256(0x00 || previous line)): gx accepting them proves the
# documentation says exactly what gx checks.
set -euo pipefail
export LC_ALL=C
: "${GX:?}" "${GX_SRC:?}"

T=$(mktemp -d /tmp/gx-cli-log-XXXXXX)
trap 'rm -rf "$T"' EXIT
S=$T/state
mkdir -m 700 "$S"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
expect_rc() { # expected-rc description command...
  local want=$1 what=$2 rc=0
  shift 2
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [[ $rc == "$want" ]] || fail "$what: exit $rc, wanted $want; stderr: $(cat "$T/err")"
}

openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$S/receipt.key"
chmod 600 "$S/receipt.key"
openssl pkey -in "$S/receipt.key" -pubout -out "$S/receipt.pub"
KEY_ID="sha256:$(openssl pkey -in "$S/receipt.key" -pubout -outform DER | sha256sum | cut -c1-64)"
TYPE='application/vnd.gx.receipt.v1+json'

prev=0000000000000000000000000000000000000000000000000000000000000000
seq=0
# The head exists whenever the log does (docs/receipts.md): a genesis head,
# which a log ahead of it satisfies (a head may lag after a crash).
printf '{"count":0,"hash":"%s","offset":0,"version":1}' "$prev" >"$S/receipts.head"
add() { # decision reason argv-json [artifact]
  seq=$((seq + 1))
  local body sig line
  body=$(jq -cS -n --argjson seq "$seq" --arg prev "$prev" --arg kid "$KEY_ID" --arg dec "$1" --arg reason "$2" \
    --argjson argv "$3" --arg art "${4:-aaaa1111}" --arg id "$(openssl rand -hex 16)" \
    --arg time "$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)" \
    '{version:1, seq:$seq, id:$id, time:$time, prev:$prev, key_id:$kid, decision:$dec, reason:$reason,
      detail:"", authorized_id:"", parent:"", artifact_id:$art, artifact_digest:"", signers:[], issuer:"ops",
      host:"h", uid:0, pid:1, argv:$argv, exe_path:"", exe_digest:"", cwd:"/", sandbox:{}, child_pid:0,
      exit_code:-1, signal:0, wall_us:0, user_cpu_us:0, sys_cpu_us:0, max_rss_kb:0}')
  printf 'DSSEv1 %d %s %d %s' ${#TYPE} "$TYPE" ${#body} "$body" >"$T/pae"
  # gx accepts low-S signatures only; openssl makes high S half of the time.
  openssl dgst -sha256 -sign "$S/receipt.key" "$T/pae" | "$GX_HELPERS/sig_mangle" low-s >"$T/sig"
  sig=$(base64 -w0 "$T/sig")
  line=$(jq -cS --arg sig "$sig" '. + {sig: $sig}' <<<"$body")
  printf '%s\n' "$line" >>"$S/receipts.log"
  prev=$({ printf '\0'; printf '%s' "$line"; } | sha256sum | cut -c1-64)
}

add authorized allow '["/bin/echo","hello world"]'
add denied policy-mismatch '["/bin/rm","-rf","/"]' bbbb2222
add authorized allow '["/bin/printf","\u001b[31mred\u001b]0;title\u0007"]'
cp "$S/receipts.log" "$T/good.log"

# verify: an intact log
expect_rc 0 "verify intact" "$GX" log verify --state "$S"
grep -q "3 receipts" "$T/out" || fail "verify does not count 3 receipts: $(cat "$T/out")"
expect_rc 0 "verify --json" "$GX" log verify --state "$S" --json
[[ $(jq -r '.intact, .records' "$T/out" | tr '\n' ' ') == "true 3 " ]] || fail "verify --json: $(cat "$T/out")"
[[ $(jq -r .head "$T/out") == "$prev" ]] || fail "head hash differs from the shell's chain"

# show
expect_rc 0 "show" "$GX" log show --state "$S"
[[ $(wc -l <"$T/out") == 4 ]] || fail "show table should have a header and 3 rows"
grep -q "denied.*policy-mismatch.*bbbb2222.*/bin/rm -rf /" "$T/out" || fail "show row for the denial: $(cat "$T/out")"
grep -q "'hello world'" "$T/out" || fail "show quotes arguments with spaces"
if grep -q $'\x1b' "$T/out" || grep -q $'\x07' "$T/out"; then fail "show printed raw terminal escapes"; fi
grep -qF '\x1b[31mred' "$T/out" || fail "show does not make escapes visible"
expect_rc 0 "show --json" "$GX" log show --state "$S" --json
[[ $(jq -s length "$T/out") == 3 ]] || fail "show --json should print 3 JSON lines"
cmp -s "$T/out" "$T/good.log" || fail "show --json lines differ from the log's lines"
expect_rc 0 "show --denied" "$GX" log show --state "$S" --json --denied
[[ $(jq -r .reason "$T/out") == policy-mismatch ]] || fail "show --denied: $(cat "$T/out")"
expect_rc 0 "show --tail" "$GX" log show --state "$S" --json --tail 1
[[ $(jq -r .seq "$T/out") == 3 ]] || fail "show --tail 1"
expect_rc 0 "show --artifact" "$GX" log show --state "$S" --json --artifact bbbb
[[ $(jq -s length "$T/out") == 1 ]] || fail "show --artifact"
expect_rc 0 "show --since" "$GX" log show --state "$S" --json --since 1h
[[ $(jq -s length "$T/out") == 3 ]] || fail "show --since 1h"
expect_rc 0 "show --since future" "$GX" log show --state "$S" --json --since 2999-01-01T00:00:00Z
[[ ! -s $T/out ]] || fail "show --since in the future should print nothing"
expect_rc 125 "show --since garbage" "$GX" log show --state "$S" --since yesterday

# checkpoint, and truncation after it
expect_rc 0 "checkpoint" "$GX" log checkpoint --state "$S" -o "$T/cp.json"
[[ $(jq -r .count "$T/cp.json") == 3 && $(jq -r .head "$T/cp.json") == "$prev" ]] || fail "checkpoint: $(cat "$T/cp.json")"
expect_rc 0 "verify --checkpoint" "$GX" log verify --state "$S" --checkpoint "$T/cp.json"
grep -q "extends the checkpoint" "$T/out" || fail "verify should say it extends the checkpoint"
head -n 2 "$T/good.log" >"$S/receipts.log"
expect_rc 0 "truncated log without checkpoint (a chain and a lagging head cannot see it)" "$GX" log verify --state "$S"
expect_rc 126 "truncated log with checkpoint" "$GX" log verify --state "$S" --checkpoint "$T/cp.json"
grep -q '^gx: denied (log-tampered): line 3: ' "$T/err" || fail "truncation message: $(cat "$T/err")"
jq -c '.count = 2' "$T/cp.json" >"$T/cp-forged.json"
expect_rc 126 "forged checkpoint" "$GX" log verify --state "$S" --checkpoint "$T/cp-forged.json"
grep -q 'invalid-signature' "$T/err" || fail "forged checkpoint message: $(cat "$T/err")"

# tampering: one changed byte in line 2
sed '2s/policy-mismatch/policy-mismatcH/' "$T/good.log" >"$S/receipts.log"
expect_rc 126 "changed byte" "$GX" log verify --state "$S"
grep -q '^gx: denied (log-tampered): line 2: ' "$T/err" || fail "tamper message: $(cat "$T/err")"
expect_rc 126 "changed byte --json" "$GX" log verify --state "$S" --json
[[ $(jq -r '.intact, .bad_line' "$T/out" | tr '\n' ' ') == "false 2 " ]] || fail "verify --json on tamper"

# reordering
{ sed -n 1p "$T/good.log"; sed -n 3p "$T/good.log"; sed -n 2p "$T/good.log"; } >"$S/receipts.log"
expect_rc 126 "reordered" "$GX" log verify --state "$S"
grep -q '^gx: denied (log-tampered): line 2: ' "$T/err" || fail "reorder message: $(cat "$T/err")"

# torn final record
{ cat "$T/good.log"; head -c 50 "$T/good.log"; } >"$S/receipts.log"
expect_rc 126 "torn tail" "$GX" log verify --state "$S"
grep -q '^gx: denied (log-tampered): line 4: incomplete final record' "$T/err" || fail "torn message: $(cat "$T/err")"

# verification needs the right key
cp "$T/good.log" "$S/receipts.log"
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkey -pubout -out "$T/other.pub"
expect_rc 126 "other public key" "$GX" log verify --state "$S" --receipt-pubkey "$T/other.pub"
grep -q 'line 1: ' "$T/err" || fail "wrong key message: $(cat "$T/err")"
expect_rc 125 "no public key at all" "$GX" log verify --state "$T/nowhere"

# man page
if command -v mandoc >/dev/null; then
  mandoc -Tlint -W warning "$GX_SRC/man/gx-log.1" || fail "mandoc -Tlint gx-log.1"
fi

[[ $fails == 0 ]] || { echo "$fails failure(s)" >&2; exit 1; }
echo "cli log: ok"
