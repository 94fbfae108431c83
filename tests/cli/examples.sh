#!/usr/bin/env bash
# The examples in examples/ work as their READMEs say: a cron job bounded by
# time and uses, a deploy script whose dangerous step needs a signed
# approval, and an AI agent's tool calls and hook routed through gx.
source "$(dirname "$0")/lib/common.bash"
EX=${GX_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/examples
PY=/usr/bin/python3  # not a pyenv shim from PATH
[ -x "$PY" ] || PY=$(command -v python3)
export GX PYTHONDONTWRITEBYTECODE=1  # no __pycache__ in the source tree

# One approver key. The trust store sits in its own directory: gx refuses any
# write grant that reaches the trust store's directory or its state.
mkdir -p "$T/keys" "$T/etc"
"$GX" keygen -o "$T/keys/ops" >/dev/null 2>&1 || bad "keygen"
"$GX" trust add "$T/keys/ops.pub" --name ops --trust "$T/etc/trust.toml" >/dev/null 2>&1 || bad "trust add"
"$GX" keygen -o "$T/keys/mallory" >/dev/null 2>&1 || bad "keygen mallory"  # never trusted
export GX_TRUST=$T/etc/trust.toml
utc_s() { date -u -d "$1" +%s; }
field() { sed -n "s/^$1 = \"\\{0,1\\}\\([^\"]*\\)\"\\{0,1\\}\$/\\1/p" "$2" | head -1; }

# =============================== cron ===============================
C=$T/cron
mkdir -p "$C/data/sub" "$C/backups" "$C/etc" "$T/bin"
echo precious >"$C/data/sub/file.txt"
install -m 755 "$EX/cron/nightly-backup.sh" "$C/nightly-backup.sh"  # as an operator installs it
ln -s "$GX" "$T/bin/gx"                                               # the crontab calls gx from PATH
export GX_STATE=$C/state GX_ART=$C/etc/nightly-backup.toml BACKUP_JOB=$C/nightly-backup.sh \
  BACKUP_SRC=$C/data BACKUP_DEST=$C/backups GX_KEY=$T/keys/ops.key

line=$(grep -E '^[0-9*]' "$EX/cron/crontab" | head -1)
check "crontab runs nightly at 02:00" test "$(awk '{print $1, $2, $3, $4, $5}' <<<"$line")" = "0 2 * * *"
cmd=$(sed -E 's/^([^[:space:]]+[[:space:]]+){5}//' <<<"$line")
check "crontab command goes through gx run" grep -q '^cd / && gx run --trust "$GX_TRUST" --state "$GX_STATE" ' <<<"$cmd"
for v in $(grep -o '\$[A-Z_]*' <<<"$cmd" | tr -d '$' | sort -u); do
  check "crontab defines \$$v" grep -q "^$v=" "$EX/cron/crontab"
done
cron_job() { (cd "$T" && PATH="$T/bin:$PATH" sh -c "$cmd"); }

# The operator's usual run: 7 nights from the next run. Valid only from then.
# (A run hour 5-6 h ahead, so the window never opens during the test.)
at=$(date -u -d '+6 hours' +%H:00)
expect_rc 0 "make-artifact.sh for 7 nights" env TZ=UTC RUN_AT="$at" bash "$EX/cron/make-artifact.sh" 7
check "max_uses is the number of nights" test "$(field max_uses "$GX_ART")" = 7
nb=$(utc_s "$(field not_before "$GX_ART")")
na=$(utc_s "$(field not_after "$GX_ART")")
check "window opens 10 min before the first run" test "$(date -u -d "@$((nb + 600))" +%H:%M)" = "$at"
check "window opens in the future, within a day" test "$nb" -gt "$(date +%s)" -a "$nb" -le "$(($(date +%s) + 86400))"
check "window closes 1 h after the 7th night" test $((na - nb)) = $((6 * 86400 + 600 + 3600))
expect_denied not-yet-valid "tonight's artifact does not run during the day" cron_job
check "nothing backed up before the window" test -z "$(ls "$C/backups")"

# For the test, the schedule is "in two minutes", for 2 nights.
expect_rc 0 "make-artifact.sh for 2 runs now" env RUN_AT="$(date -d '+2 min' +%H:%M)" bash "$EX/cron/make-artifact.sh" 2
check "artifact is signed" grep -q '^\[\[signature\]\]$' "$GX_ART"
check "artifact grants only tar" grep -qx "exec = \[\"$(readlink -f "$(command -v tar)")\"\]" "$GX_ART"
expect_rc 0 "night 1: crontab line runs the backup" cron_job
backup=$(ls "$C/backups"/backup-*.tar 2>/dev/null | head -1)
check "night 1: backup written" test -n "$backup"
check "night 1: backup holds the data" bash -c "tar -xOf '$backup' ./sub/file.txt | grep -qx precious"
cp "$C/nightly-backup.sh" "$C/job.orig"
echo 'rm -rf "$src"' >>"$C/nightly-backup.sh"
expect_denied digest-mismatch "an edited job script does not run" cron_job
check "the edited script did not delete the data" test -f "$C/data/sub/file.txt"
cp "$C/job.orig" "$C/nightly-backup.sh"
rm -f "$C/backups"/*
expect_rc 0 "night 2 runs" cron_job
check "night 2: backup written" test -n "$(ls "$C/backups")"
rm -f "$C/backups"/*
expect_denied replay "night 3 is beyond max-uses: denied" cron_job
check "night 3: no backup" test -z "$(ls "$C/backups")"
expect_rc 0 "receipts of the cron job" "$GX" log show --state "$GX_STATE" --json
check "two finished runs with exit 0" test "$(jq -s '[.[] | select(.decision == "finished" and .exit_code == 0)] | length' "$T/out")" = 2
check "the replay is a denied receipt" test "$(jq -s '[.[] | select(.decision == "denied" and .reason == "replay")] | length' "$T/out")" = 1
check "receipts name the job's argv" test "$(jq -s -r '.[-1].argv[0]' "$T/out")" = "$BACKUP_JOB"
expect_rc 0 "receipt log verifies" "$GX" log verify --state "$GX_STATE"
unset GX_KEY GX_ART BACKUP_JOB BACKUP_SRC BACKUP_DEST

# =============================== shell deploy ===============================
S=$T/shell
mkdir -p "$S/app/releases/v1" "$S/pkg/v2"
echo v1 >"$S/app/releases/v1/VERSION"
ln -s releases/v1 "$S/app/current"
echo v2 >"$S/pkg/v2/VERSION"
echo new >"$S/pkg/v2/app.txt"
tar -C "$S/pkg/v2" -cf "$S/v2.tar" .
export APP_ROOT=$S/app APPROVALS=$S/approvals GX_STATE=$S/state
deploy() { bash "$EX/shell/deploy.sh" "$@"; }
tree() { (cd "$S/app" && find . -printf '%p %y %l\n' | sort); }
before=$(tree)
unchanged() { test "$(tree)" = "$before"; }
art=$S/approvals/switch-v2.toml

expect_denied missing-authorization "deploy without an approval" deploy deploy v2 "$S/v2.tar"
check "... says why and that nothing changed" grep -q "not approved; nothing was changed" "$T/err"
check "... changed nothing" unchanged
expect_rc 0 "deploy.sh request writes the artifact" deploy request v2
check "requested artifact binds the exact switch" grep -qx "argv = \[\"$(readlink -f "$(command -v ln)")\", \"-sfn\", \"releases/v2\", \"current\"\]" "$art"
expect_denied missing-authorization "unsigned approval" deploy deploy v2 "$S/v2.tar"
check "... changed nothing" unchanged
"$GX" sign -k "$T/keys/mallory.key" "$art" 2>/dev/null
expect_denied untrusted-key "approval signed by an untrusted key" deploy deploy v2 "$S/v2.tar"
check "... changed nothing" unchanged
deploy request v2 2>/dev/null
"$GX" sign -k "$T/keys/ops.key" "$art" 2>/dev/null
cp "$art" "$S/signed.toml"
sed 's|^write = \["/dev/null", |write = ["/dev/null", "/", |' "$S/signed.toml" >"$art"
differ() { ! cmp -s "$1" "$2"; }
check "tampering changed the file" differ "$art" "$S/signed.toml"
expect_denied invalid-signature "tampered approval" deploy deploy v2 "$S/v2.tar"
check "... changed nothing" unchanged
cp "$S/signed.toml" "$S/approvals/switch-v3.toml"
mkdir -p "$S/pkg/v3" && echo v3 >"$S/pkg/v3/VERSION" && tar -C "$S/pkg/v3" -cf "$S/v3.tar" .
expect_denied policy-mismatch "v2's approval does not switch to v3" deploy deploy v3 "$S/v3.tar"
check "... changed nothing" unchanged
cp "$S/signed.toml" "$art"
expect_rc 0 "deploy with the signed approval (tarball path relative)" bash -c "cd '$S' && bash '$EX/shell/deploy.sh' deploy v2 v2.tar"
check "current now points at v2" test "$(readlink "$S/app/current")" = releases/v2
check "v2 unpacked" test "$(cat "$S/app/current/VERSION")" = v2
check "v1 kept for rollback" test -f "$S/app/releases/v1/VERSION"
check "no staging left over" test -z "$(find "$S/app/releases" -name '.staging-*')"
expect_rc 1 "deploying the live version again is refused" deploy deploy v2 "$S/v2.tar"
expect_rc 0 "receipts of the deploy" "$GX" log show --state "$GX_STATE" --json
check "the switch ran once, governed" test "$(jq -s '[.[] | select(.decision == "finished" and .exit_code == 0 and .argv[2] == "releases/v2")] | length' "$T/out")" = 1
unset APP_ROOT APPROVALS

# =============================== agent ===============================
A=$T/agent
mkdir -p "$A/work"
export GX_STATE=$A/state GX_APPROVALS=$A/approvals GX_PENDING=$A/pending
cd "$A/work" || exit 1
req() { "$PY" "$EX/agent/request_approval.py" "$@"; }

expect_rc 0 "agent requests an approval" req request --reason "greet the user" -- /bin/echo "hello agent"
pending=$(cat "$T/out")
check "pending artifact is unsigned" bash -c "test -f '$pending' && ! grep -q '^\[\[signature\]\]' '$pending'"
expect_rc 0 "pending requests are listed" req list
check "... with the argv" grep -q '/bin/echo hello agent' "$T/out"
expect_rc 0 "human approves" req approve --key "$T/keys/ops.key" --yes "$pending"
approved=$(cat "$T/out")
check "approval filed, pending removed" test -f "$approved" -a ! -e "$pending"
req request --write "$A/work" --reason "make a marker" -- /usr/bin/touch "$A/work/marker" >"$T/touch.pending" 2>/dev/null

cat >"$A/calls.jsonl" <<JSON
{"id": "c1", "tool": "shell", "argv": ["/bin/echo", "hello agent"]}
{"id": "c2", "tool": "shell", "argv": ["/usr/bin/touch", "$A/work/marker"]}
{"id": "c3", "tool": "shell", "argv": ["/usr/bin/touch", "$A/work/marker"], "artifact": "$(cat "$T/touch.pending")"}
{"id": "c4", "tool": "shell", "argv": ["/bin/echo", "hello agent"]}
{"id": "c5", "tool": "browser", "argv": ["x"]}
JSON
expect_rc 0 "tool_runner.py runs the calls" "$PY" "$EX/agent/tool_runner.py" "$A/calls.jsonl"
cp "$T/out" "$A/results.jsonl"
r() { jq -r --arg id "$1" "select(.tool_use_id == \$id) | $2" "$A/results.jsonl"; }
check "one result per call" test "$(wc -l <"$A/results.jsonl")" = 5
check "approved call: not an error" test "$(r c1 .is_error)" = false
check "approved call: output returned" test "$(r c1 .content)" = "hello agent"
check "approved call: tool_result shape" test "$(r c1 .type)" = tool_result
check "unapproved call: tool error" test "$(r c2 .is_error)" = true
check "unapproved call: denied (missing-authorization)" grep -q '^denied (missing-authorization): ' <<<"$(r c2 .content)"
check "unapproved call: tells how to ask" grep -q 'request_approval.py request' <<<"$(r c2 .content)"
check "unsigned artifact named by the model: tool error" grep -q '^denied (missing-authorization): ' <<<"$(r c3 .content)"
check "the unapproved command never ran" test ! -e "$A/work/marker"
check "replayed call: tool error" test "$(r c4 .is_error)" = true
check "replayed call: denied (replay)" grep -q '^denied (replay): ' <<<"$(r c4 .content)"
check "unknown tool: tool error" test "$(r c5 .is_error)" = true
expect_rc 0 "receipts of the agent's calls" "$GX" log show --state "$GX_STATE" --json
check "the approved call's receipt" test "$(jq -s '[.[] | select(.decision == "finished" and .argv == ["/bin/echo", "hello agent"])] | length' "$T/out")" = 1
check "the replay's receipt" test "$(jq -s '[.[] | select(.reason == "replay")] | length' "$T/out")" = 1
check "the unapproved calls' receipts" test "$(jq -s '[.[] | select(.reason == "missing-authorization")] | length' "$T/out")" = 2

# --- the pre-tool-use hook ---
hook() {  # hook COMMAND [TOOL]: feeds the hook a coding agent's payload
  jq -nc --arg c "$1" --arg t "${2:-Bash}" --arg d "$A/work" '{tool_name: $t, tool_input: {command: $c}, cwd: $d}' |
    "$PY" "$EX/agent/pre_tool_use_hook.py"
}
expect_rc 2 "hook refuses an unapproved command" hook "rm -rf $A/work"
check "... with a reason for the model" grep -q 'no approval for this exact command' "$T/err"
expect_rc 2 "hook refuses shell syntax" hook "/bin/echo hi; rm -rf $A/work"
expect_rc 0 "hook ignores other tools" hook "whatever" Read
run "$PY" "$EX/agent/pre_tool_use_hook.py" <<<"not json"
check "hook fails closed on garbage input (exit 2)" test "$RC" = 2
req request --reason "hook demo" -- /bin/echo hook ok >"$T/hook.pending" 2>/dev/null
req approve --key "$T/keys/ops.key" --yes "$(cat "$T/hook.pending")" >/dev/null 2>&1
expect_rc 2 "hook: an approved plain command must go through gx" hook "/bin/echo hook ok"
governed=$(sed -n 's/^gx hook: approved, but it must run under gx; run exactly: //p' "$T/err")
check "... and the hook says the exact gx run line" grep -q " run --trust $GX_TRUST --state $GX_STATE .* -- /bin/echo hook ok\$" <<<"$governed"
expect_rc 0 "hook allows the gx run line" hook "$governed"
check "the allowed line runs" test "$(bash -c "$governed")" = "hook ok"
expect_rc 2 "hook refuses gx run with another trust store" hook "${governed/--trust $GX_TRUST/--trust $T/evil.toml}"
expect_rc 2 "hook refuses the approval for other arguments" hook "${governed% ok} NOT ok"
check "... because gx denies it" grep -q 'denied (policy-mismatch)' "$T/err"

finish
