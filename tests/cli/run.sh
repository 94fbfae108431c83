#!/usr/bin/env bash
# gx run end to end: every denial reason with proof the child never ran,
# the environment the child gets, scripts, exit codes and signals, real
# commands, --dry-run and --json. (Sandbox probes: run_sandbox.sh; races:
# run_races.sh.)
#
# Proof of "never ran": each denied command is one that would create a
# marker file if it ran (tests/helpers/try_marker.c, or a copy of touch),
# and an allowed control run of the same artifact shape does create it.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/run_env.bash"
MARK=$H/try_marker
"$GX" keygen -o "$T/mallory" >"$T/mallory.id" 2>/dev/null  # never trusted
no_marker() { # DESC [FILE]: the marker must not exist
  local f=${2:-$W/m}
  if [ -e "$f" ]; then bad "$1: the command ran (marker $f exists)"; rm -f "$f"; else ok; fi
}
has_marker() {
  local f=${2:-$W/m}
  if [ -e "$f" ]; then ok; rm -f "$f"; else bad "$1: the command did not run (no marker $f)"; fi
}
# denied CODE DESC CMD...: denied with CODE and the marker absent
denied() {
  local code=$1 desc=$2
  shift 2
  expect_denied "$code" "$desc" "$@"
  no_marker "$desc"
}
log_last() { "$GX" log show --state "$S" --json --tail 1 | jq -r "$1"; }

# --- control: the marker command runs when everything matches ---
art ctl --max-uses 100 --write "$W" -- "$MARK" "$W/m"
expect_rc 0 "control run" R "$T/ctl.toml" -- "$MARK" "$W/m"
has_marker "control run"
check "control run prints" grep -qx marker "$T/out"
check "authorized+finished receipts" test "$(log_last .decision)" = finished

# --- authorization ---
denied missing-authorization "no artifact file" R "$T/nonexistent.toml" -- "$MARK" "$W/m"
"$GX" init -o "$T/unsigned.toml" --write "$W" -- "$MARK" "$W/m" 2>/dev/null
denied missing-authorization "unsigned artifact" R "$T/unsigned.toml" -- "$MARK" "$W/m"
check "denied receipt written" test "$(log_last .reason)" = missing-authorization
sed 's/^reason = ""/reason = "x"/' "$T/ctl.toml" >"$T/tampered.toml"
refute "tampering changed the body" cmp -s "$T/ctl.toml" "$T/tampered.toml"
denied invalid-signature "tampered body" R "$T/tampered.toml" -- "$MARK" "$W/m"
"$GX" init -o "$T/mal.toml" --write "$W" -- "$MARK" "$W/m" 2>/dev/null
"$GX" sign -k "$T/mallory.key" "$T/mal.toml" 2>/dev/null
denied untrusted-key "signed by an untrusted key" R "$T/mal.toml" -- "$MARK" "$W/m"
art expired --not-before 2020-01-01T00:00:00Z --not-after 2020-01-02T00:00:00Z --write "$W" -- "$MARK" "$W/m"
denied expired "expired" R "$T/expired.toml" -- "$MARK" "$W/m"
art future --not-before 2099-01-01T00:00:00Z --not-after 2099-01-02T00:00:00Z --write "$W" -- "$MARK" "$W/m"
denied not-yet-valid "not yet valid" R "$T/future.toml" -- "$MARK" "$W/m"

# --- policy mismatch: path (same name, earlier in PATH) ---
mkdir -p "$T/bin1" "$T/bin2"
cp "$MARK" "$T/bin1/tool"
cp "$MARK" "$T/bin2/tool"
PATH=$T/bin1:$PATH art path --max-uses 10 --write "$W" -- tool "$W/m"
expect_rc 0 "tool via PATH runs" env PATH="$T/bin1:$PATH" "$GX" run --trust "$TR" --state "$S" "$T/path.toml" -- tool "$W/m"
has_marker "tool via PATH"
denied policy-mismatch "another 'tool' earlier in PATH" \
  env PATH="$T/bin2:$T/bin1:$PATH" "$GX" run --trust "$TR" --state "$S" "$T/path.toml" -- tool "$W/m"
check "path mismatch names exec.path" grep -q "field exec.path " "$T/err"

# --- policy mismatch: argv ---
art argv --max-uses 20 --write "$W" -- "$MARK" "$W/m" a b
expect_rc 0 "argv control" R "$T/argv.toml" -- "$MARK" "$W/m" a b
has_marker "argv control"
denied policy-mismatch "argv[0] spelled differently" env PATH="$H:$PATH" "$GX" run --trust "$TR" --state "$S" "$T/argv.toml" -- try_marker "$W/m" a b
check "argv[0] is named" grep -q 'exec.argv\[0\]' "$T/err"
denied policy-mismatch "argv[1] differs" R "$T/argv.toml" -- "$MARK" "$W/m2" a b
no_marker "argv[1] differs" "$W/m2"
check "argv[1] is named" grep -q 'exec.argv\[1\]' "$T/err"
denied policy-mismatch "argv[2] differs" R "$T/argv.toml" -- "$MARK" "$W/m" X b
check "argv[2] is named" grep -q 'exec.argv\[2\]' "$T/err"
denied policy-mismatch "argv[3] differs" R "$T/argv.toml" -- "$MARK" "$W/m" a X
check "argv[3] is named" grep -q 'exec.argv\[3\]' "$T/err"
denied policy-mismatch "extra argument" R "$T/argv.toml" -- "$MARK" "$W/m" a b c
denied policy-mismatch "missing argument" R "$T/argv.toml" -- "$MARK" "$W/m" a
denied policy-mismatch "empty-string argument instead of b" R "$T/argv.toml" -- "$MARK" "$W/m" a ""

# --- policy mismatch: cwd ---
mkdir -p "$T/elsewhere"
(cd "$T/elsewhere" && R "$T/ctl.toml" -- "$MARK" "$W/m" >"$T/out" 2>"$T/err"; echo $? >"$T/rc")
if [ "$(cat "$T/rc")" = 126 ] && grep -q "gx: denied (policy-mismatch)" "$T/err" && grep -q "exec.cwd" "$T/err"; then ok; else
  bad "other cwd: rc $(cat "$T/rc") $(cat "$T/err")"; fi
no_marker "other cwd"

# --- digest mismatch: the binary changed after signing ---
cp /usr/bin/touch "$T/bin/touch"
art_edit digest 's/^groups = .*/groups = ["default", "filesystem"]/' --max-uses 10 --write "$W" -- "$T/bin/touch" "$W/m"
expect_rc 0 "copied touch runs" R "$T/digest.toml" -- "$T/bin/touch" "$W/m"
has_marker "copied touch"
printf 'x' >>"$T/bin/touch"  # still a runnable ELF, different bytes
denied digest-mismatch "touch modified after signing" R "$T/digest.toml" -- "$T/bin/touch" "$W/m"
check "digest mismatch names exec.sha256" grep -q "field exec.sha256 " "$T/err"
cp "$MARK" "$T/bin/touch"  # a wholly different program under the authorized name
denied digest-mismatch "touch replaced" R "$T/digest.toml" -- "$T/bin/touch" "$W/m"

# --- environmental integrity: env pins and required names, pinned files ---
art envpin --max-uses 10 --env PINNED=yes --write "$W" -- "$MARK" "$W/m"
expect_rc 0 "env pin satisfied" env PINNED=yes "$GX" run --trust "$TR" --state "$S" "$T/envpin.toml" -- "$MARK" "$W/m"
has_marker "env pin satisfied"
denied environmental-integrity "env pin wrong value" env PINNED=no "$GX" run --trust "$TR" --state "$S" "$T/envpin.toml" -- "$MARK" "$W/m"
denied environmental-integrity "env pin missing" env -u PINNED "$GX" run --trust "$TR" --state "$S" "$T/envpin.toml" -- "$MARK" "$W/m"
art_edit envreq 's/^require = \[\]/require = ["NEEDED"]/; s/^allow = \[/allow = ["NEEDED", /' --max-uses 10 --write "$W" -- "$MARK" "$W/m"
check "require edited" grep -q '^require = \["NEEDED"\]' "$T/envreq.toml"
expect_rc 0 "required env present" env NEEDED=1 "$GX" run --trust "$TR" --state "$S" "$T/envreq.toml" -- "$MARK" "$W/m"
has_marker "required env present"
denied environmental-integrity "required env missing" env -u NEEDED "$GX" run --trust "$TR" --state "$S" "$T/envreq.toml" -- "$MARK" "$W/m"
# Only files that only root can change are pinnable (gx-artifact(5); the
# refusals are in tests/adversarial/pinned_file_swap.sh). /etc/passwd is one;
# a wrong pinned digest stands in for a change where the test cannot write it.
art pin --max-uses 10 --pin /etc/passwd --write "$W" -- "$MARK" "$W/m"
expect_rc 0 "pinned file intact" R "$T/pin.toml" -- "$MARK" "$W/m"
has_marker "pinned file intact"
art_edit pinx "/^\[\[file\]\]/,/^sha256/s/^sha256 = .*/sha256 = \"$(printf '%064d' 0)\"/" \
  --max-uses 10 --pin /etc/passwd --write "$W" -- "$MARK" "$W/m"
denied environmental-integrity "pinned file has another digest" R "$T/pinx.toml" -- "$MARK" "$W/m"
check "pinned file named" grep -q 'file\[0\].sha256' "$T/err"
if [ "$(id -u)" = 0 ]; then  # a root-owned file in the root-owned scratch dir
  echo "v1" >"$T/dep.conf"
  art pin2 --max-uses 10 --pin "$T/dep.conf" --write "$W" -- "$MARK" "$W/m"
  expect_rc 0 "root-owned pinned file intact" R "$T/pin2.toml" -- "$MARK" "$W/m"
  has_marker "root-owned pinned file intact"
  echo "v2" >"$T/dep.conf"
  denied environmental-integrity "pinned file changed" R "$T/pin2.toml" -- "$MARK" "$W/m"
  rm "$T/dep.conf"
  denied environmental-integrity "pinned file removed" R "$T/pin2.toml" -- "$MARK" "$W/m"
else
  echo "SKIP: changing and removing a root-owned pinned file needs root"
fi

# --- replay ---
art once --max-uses 1 --write "$W" -- "$MARK" "$W/m"
expect_rc 0 "single use: first run" R "$T/once.toml" -- "$MARK" "$W/m"
has_marker "single use: first run"
denied replay "single use: second run" R "$T/once.toml" -- "$MARK" "$W/m"
art thrice --max-uses 3 --write "$W" -- "$MARK" "$W/m"
for i in 1 2 3; do
  expect_rc 0 "max-uses 3: run $i" R "$T/thrice.toml" -- "$MARK" "$W/m"
  has_marker "max-uses 3: run $i"
done
denied replay "max-uses 3: run 4" R "$T/thrice.toml" -- "$MARK" "$W/m"
# a use is consumed by an authorized run even when the command then fails
art fails --max-uses 1 -- "$MARK" /nonexistent-dir/m
expect_rc 1 "command fails (cannot create its marker)" R "$T/fails.toml" -- "$MARK" /nonexistent-dir/m
denied replay "the failed run spent the use" R "$T/fails.toml" -- "$MARK" /nonexistent-dir/m

# --- runtime identity ---
art_edit uid 's/^uid = .*/uid = 4242/' --write "$W" -- "$MARK" "$W/m"
check "uid edited" grep -q '^uid = 4242$' "$T/uid.toml"
denied runtime-identity "bound to another uid" R "$T/uid.toml" -- "$MARK" "$W/m"
art_edit host 's/^hostname = .*/hostname = "not-this-host"/' --write "$W" -- "$MARK" "$W/m"
denied runtime-identity "bound to another host name" R "$T/host.toml" -- "$MARK" "$W/m"
art_edit mid 's/^machine_id = .*/machine_id = "00000000000000000000000000000000"/' --write "$W" -- "$MARK" "$W/m"
denied runtime-identity "bound to another machine id" R "$T/mid.toml" -- "$MARK" "$W/m"

# --- lineage (proven by --parent, never claimed by the environment) ---
PARENT=sha256:$(printf 'parent' | sha256sum | cut -d' ' -f1)
art child --max-uses 10 --parent "$PARENT" --write "$W" -- "$MARK" "$W/m"
denied lineage-inconsistency "names a parent, run outside it" R "$T/child.toml" -- "$MARK" "$W/m"
denied lineage-inconsistency "names a parent, GX_PARENT_ARTIFACT claims another" env GX_PARENT_ARTIFACT=sha256:0000 "$GX" run --trust "$TR" --state "$S" "$T/child.toml" -- "$MARK" "$W/m"
denied lineage-inconsistency "names a parent, GX_PARENT_ARTIFACT claims it" env GX_PARENT_ARTIFACT="$PARENT" "$GX" run --trust "$TR" --state "$S" "$T/child.toml" -- "$MARK" "$W/m"
no_marker "a claimed parent runs nothing"
expect_rc 0 "GX_PARENT_ARTIFACT is ignored for an artifact without a parent" env GX_PARENT_ARTIFACT="$PARENT" "$GX" run --trust "$TR" --state "$S" "$T/ctl.toml" -- "$MARK" "$W/m"
has_marker "run of a root artifact"
# A real parent: delegating to alice's own signature (its approver), one level.
art lparent --max-uses 10 --max-depth 1 --write "$W" -- "$MARK" "$W/m"
art lchild --max-uses 2 --parent "$T/lparent.toml" --write "$W" -- "$MARK" "$W/m"
check "gx init --parent names the parent's digest" \
  grep -qx "parent = \"sha256:$(sed '/^\[\[signature\]\]$/,$d' "$T/lparent.toml" | sha256sum | cut -d' ' -f1)\"" "$T/lchild.toml"
denied lineage-inconsistency "child without --parent" R "$T/lchild.toml" -- "$MARK" "$W/m"
no_marker "child without its chain"
expect_rc 0 "child with --parent runs" R --parent "$T/lparent.toml" "$T/lchild.toml" -- "$MARK" "$W/m"
has_marker "child with its chain"
check "its receipt records the chain, and no parent receipt" \
  test "$("$GX" log show --state "$S" --json --tail 1 | jq -c '[.parent, .lineage]')" = \
  "[\"\",[\"sha256:$(sed '/^\[\[signature\]\]$/,$d' "$T/lparent.toml" | sha256sum | cut -d' ' -f1)\"]]"
mkdir -p "$T/parents" && cp "$T/lparent.toml" "$T/ctl.toml" "$T/parents/"
expect_rc 0 "--parent takes a directory of candidates" R --parent "$T/parents" "$T/lchild.toml" -- "$MARK" "$W/m"
has_marker "child with a parent directory"
denied replay "the child's own uses are counted" R --parent "$T/lparent.toml" "$T/lchild.toml" -- "$MARK" "$W/m"

# --- sandbox cannot be provided / would expose gx's state ---
# An ABI above what gx knows (7) is refused when the artifact is parsed; on
# this ABI-7 kernel no valid min_landlock_abi can be unmet, so the
# sandbox-unavailable path itself is covered by tests/landlock_test.cc.
art_edit abi 's/^min_landlock_abi = .*/min_landlock_abi = 64/' --write "$W" -- "$MARK" "$W/m"
denied invalid-value "Landlock ABI 64 required" R "$T/abi.toml" -- "$MARK" "$W/m"
check "names min_landlock_abi" grep -q "min_landlock_abi" "$T/err"
art_edit abi7 's/^min_landlock_abi = .*/min_landlock_abi = 7/' --write "$W" -- "$MARK" "$W/m"
expect_rc 0 "control: Landlock ABI 7 required and present" R "$T/abi7.toml" -- "$MARK" "$W/m"
has_marker "ABI 7 control"
# A write grant containing the state dir is expanded around it (gx-artifact(5)):
# the command runs and writes beside the state, never into it.
art widewrite --write "$T" -- "$MARK" "$W/m"
rm -f "$W/m"
expect_rc 0 "write grant containing the state dir: expanded, runs" R "$T/widewrite.toml" -- "$MARK" "$W/m"
has_marker "expanded write grant"
R --dry-run --json "$T/widewrite.toml" -- "$MARK" "$W/m" >"$T/ww.json" 2>/dev/null
check "dry-run shows the state dir excluded from the expanded grant" \
  jq -e --arg s "$(readlink -f "$S")" '.sandbox.landlock.expanded[0].excluded | index($s) != null' "$T/ww.json"
art statewrite --write "$S" -- "$MARK" "$W/m"
denied policy-mismatch "write grant on the state dir" R "$T/statewrite.toml" -- "$MARK" "$W/m"
denied policy-mismatch "dry run: write grant on the state dir" R --dry-run "$T/statewrite.toml" -- "$MARK" "$W/m"
art trustwrite --write "$TR" -- "$MARK" "$W/m"
denied policy-mismatch "write grant on the trust store" R "$T/trustwrite.toml" -- "$MARK" "$W/m"
art_edit unknowngroup 's/^groups = .*/groups = ["default", "no-such-group"]/' --write "$W" -- "$MARK" "$W/m"
denied invalid-value "unknown seccomp group" R "$T/unknowngroup.toml" -- "$MARK" "$W/m"
check "unknown group names the field" grep -q "sandbox.groups" "$T/err"

# --- nested gx: a gx run inside another gx's sandbox, without a channel ---
# Inside a sandbox only the supervising gx may run anything (over the
# nested-run channel, tests/cli/nested.sh): an inner gx that has every grant
# it would need, but no channel, is denied lineage-inconsistency and runs
# nothing, not even with its own trust store, state and --parent.
IS=$T/inner-state
mkdir -p "$IS"
inner_cmd=("$GX" run --trust "$TR" --state "$IS" --parent "$T/outer.toml" "$T/inner.toml" -- "$MARK" "$W/m")
art_edit outer 's/^groups = .*/groups = ["default", "filesystem", "process"]/; s/^allow_syscalls = .*/allow_syscalls = ["memfd_create"]/; s/^groups = .*/&\nioctl_groups = ["seccomp-notify"]/' \
  --max-depth 1 --write "$IS" --write "$W" --read "$TR" --read "$T/inner.toml" --read "$T/outer.toml" --read "$MARK" \
  --read "$GX" --read /proc --exec "$MARK" -- "${inner_cmd[@]}"
art inner --parent "$T/outer.toml" --write "$W" -- "$MARK" "$W/m"
run R "$T/outer.toml" -- "${inner_cmd[@]}"
check "inner gx without a channel is denied lineage-inconsistency (rc $RC: $(head -c 300 "$T/err"))" \
  grep -q "gx: denied (lineage-inconsistency): gx run inside a sandbox" "$T/err"
check "...and the outer gx passes its 126 on (rc $RC)" test "$RC" = 126
no_marker "inner command without a channel"
check "the inner gx wrote no receipt" test "$("$GX" log show --state "$IS" --json 2>/dev/null | wc -l)" = 0

# --- the environment the child gets ---
art env --max-uses 10 --env PINNED=yes -- /usr/bin/env
# ASAN_OPTIONS: an ASan build of gx itself would refuse to start with a foreign LD_PRELOAD
# first in its library list (the child's environment never includes it: not allowed).
env -i PATH="$PATH" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" PINNED=yes FOO=secret BASH_ENV=/tmp/evil ENV=/tmp/evil PYTHONSTARTUP=/tmp/evil \
  LD_PRELOAD=/lib/x86_64-linux-gnu/libm.so.6 LD_LIBRARY_PATH=/tmp LD_AUDIT=/tmp/x.so \
  "$GX" run --trust "$TR" --state "$S" "$T/env.toml" -- /usr/bin/env >"$T/env.out" 2>"$T/env.err"
check "env ran" test $? = 0
sed -E 's/=.*//' "$T/env.out" | sort >"$T/env.names"
printf '%s\n' PATH PINNED | sort >"$T/env.want"
check "child env is exactly the allowlist ($(tr '\n' ' ' <"$T/env.names"))" cmp -s "$T/env.names" "$T/env.want"
check "PATH passes unchanged" grep -qx "PATH=$PATH" "$T/env.out"
check "pinned passes" grep -qx "PINNED=yes" "$T/env.out"
# The old lineage variables never reach a child, even when the artifact allows them.
art envlin --max-uses 10 --env GX_PARENT_RECEIPT --env GX_PARENT_ARTIFACT -- /usr/bin/env
env -i PATH="$PATH" GX_PARENT_RECEIPT=forged GX_PARENT_ARTIFACT=sha256:forged \
  "$GX" run --trust "$TR" --state "$S" "$T/envlin.toml" -- /usr/bin/env >"$T/env.out" 2>"$T/env.err"
check "env ran (lineage names allowed)" test $? = 0
refute "GX_PARENT_RECEIPT stripped although allowed" grep -q "^GX_PARENT_RECEIPT=" "$T/env.out"
refute "GX_PARENT_ARTIFACT stripped although allowed" grep -q "^GX_PARENT_ARTIFACT=" "$T/env.out"
for v in FOO BASH_ENV ENV PYTHONSTARTUP LD_PRELOAD LD_LIBRARY_PATH LD_AUDIT; do
  refute "$v stripped" grep -q "^$v=" "$T/env.out"
done

# --- scripts ---
printf '#!/bin/sh\necho "script $0 $1"\n' >"$T/bin/s.sh"
chmod +x "$T/bin/s.sh"
art script --max-uses 10 -- "$T/bin/s.sh" arg1
check "init pins the interpreter" grep -q '^interpreter = "/bin/sh"' "$T/script.toml"
expect_rc 0 "authorized script runs" R "$T/script.toml" -- "$T/bin/s.sh" arg1
check "script output, \$0 is its real path ($(cat "$T/out"))" grep -qx "script $T/bin/s.sh arg1" "$T/out"
# A directory others may write (no sticky bit): the path could be swapped
# between digest and open, so the sealed copy runs as /dev/fd/N, with a warning.
chmod g+w "$T/bin"
expect_rc 0 "script in a group-writable directory runs (sealed copy)" R "$T/script.toml" -- "$T/bin/s.sh" arg1
check "...\$0 is /dev/fd/N ($(cat "$T/out"))" grep -Eqx 'script /dev/fd/[0-9]+ arg1' "$T/out"
check "...warning names the reason" grep -q "warning: script handed to its interpreter as /dev/fd/[0-9]*.*$T/bin is writable by group or others" "$T/err"
chmod g-w "$T/bin"
denied policy-mismatch "script with another argument" R "$T/script.toml" -- "$T/bin/s.sh" arg2
cp "$T/bin/s.sh" "$T/bin/s.orig"
printf '#!/bin/sh\necho "script $0 $1"\ntouch %s\n' "$W/m" >"$T/bin/s.sh"
denied digest-mismatch "script body changed" R "$T/script.toml" -- "$T/bin/s.sh" arg1
printf '#!/bin/bash\necho "script $0 $1"\n' >"$T/bin/s.sh"
denied digest-mismatch "script's #! changed" R "$T/script.toml" -- "$T/bin/s.sh" arg1
# Same script bytes, but the signed interpreter differs from its #! line:
# gx must refuse rather than run the script with either interpreter.
printf '#!/bin/bash\necho "script $0 $1" >%s\n' "$W/m" >"$T/bin/b.sh"
chmod +x "$T/bin/b.sh"
art_edit bash_as_sh "s|^interpreter = .*|interpreter = \"/bin/sh\"|; s|^interpreter_sha256 = .*|interpreter_sha256 = \"$(sha256sum /bin/dash | cut -d' ' -f1)\"|" \
  --write "$W" -- "$T/bin/b.sh" arg1
denied policy-mismatch "#! names another interpreter than the artifact" R "$T/bash_as_sh.toml" -- "$T/bin/b.sh" arg1
check "interpreter mismatch names exec.interpreter" grep -q "field exec.interpreter " "$T/err"
art_edit badinterp 's|^interpreter_sha256 = .*|interpreter_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"|' \
  --write "$W" -- "$T/bin/b.sh" arg1
denied digest-mismatch "interpreter digest differs" R "$T/badinterp.toml" -- "$T/bin/b.sh" arg1
check "interpreter digest names exec.interpreter_sha256" grep -q "exec.interpreter_sha256" "$T/err"

# --- exit codes and signals ---
art exit7 -- /bin/sh -c 'exit 7'
expect_rc 7 "child exit 7 -> gx 7" R "$T/exit7.toml" -- /bin/sh -c 'exit 7'
check "finished receipt has exit code 7" test "$(log_last .exit_code)" = 7
art_edit term 's/^groups = .*/groups = ["default", "signals"]/' -- /bin/sh -c 'kill -TERM $$'
expect_rc 143 "child killed by SIGTERM -> gx 143" R "$T/term.toml" -- /bin/sh -c 'kill -TERM $$'
check "finished receipt has signal 15" test "$(log_last .signal)" = 15
art sigwait --max-uses 2 -- "$H/try_sigwait"
for sig in INT TERM; do
  set -m  # a job-control job: SIGINT is not ignored in the background
  # gx itself in the background (not the R function: that would be a subshell)
  "$GX" run --trust "$TR" --state "$S" "$T/sigwait.toml" -- "$H/try_sigwait" >"$T/sig.out" 2>"$T/sig.err" &
  gxpid=$!
  set +m
  for _ in $(seq 100); do grep -q ready "$T/sig.out" && break; sleep 0.05; done
  kill -"$sig" "$gxpid"
  for _ in $(seq 100); do kill -0 "$gxpid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$gxpid" 2>/dev/null  # never leave a stuck gx behind
  wait "$gxpid"
  rc=$?
  if [ "$sig" = INT ]; then
    check "SIGINT to gx reaches the child (rc $rc, $(cat "$T/sig.out" "$T/sig.err"))" test "$rc" = 42
    check "child saw SIGINT" grep -qx "got SIGINT" "$T/sig.out"
  else
    check "SIGTERM to gx kills the child, gx exits 143 (rc $rc)" test "$rc" = 143
  fi
done
# What the caller ignores and blocks reaches the command, as without gx
# (nohup, `trap '' INT` in a script); gx forwards, the command's disposition decides.
art traps --max-uses 3 -- /bin/bash -c 'trap -p'
want=$( (trap '' HUP USR1; /bin/bash -c 'trap -p') )
got=$( (trap '' HUP USR1; R "$T/traps.toml" -- /bin/bash -c 'trap -p') )
check "ignored signals reach the command as without gx ($got)" test "$got" = "$want"
check "two ignored signals listed" test "$(printf '%s\n' "$want" | grep -c "''")" = 2
got=$(R "$T/traps.toml" -- /bin/bash -c 'trap -p')
check "nothing ignored by the caller: nothing ignored in the command ($got)" test -z "$got"
art mask --max-uses 2 -- /usr/bin/python3 -c "$MASK_PY"
got=$(with_usr2_alrm_blocked "$GX" run --trust "$TR" --state "$S" "$T/mask.toml" -- /usr/bin/python3 -c "$MASK_PY")
check "the caller's blocked signals stay blocked in the command ($got)" test "$got" = "[12, 14]"
got=$(R "$T/mask.toml" -- /usr/bin/python3 -c "$MASK_PY")
check "none blocked by the caller: none blocked in the command ($got)" test "$got" = "[]"
art hup --max-uses 2 -- "$H/try_sigwait"
for ignored in yes no; do
  set -m
  if [ "$ignored" = yes ]; then
    (trap '' HUP; exec "$GX" run --trust "$TR" --state "$S" "$T/hup.toml" -- "$H/try_sigwait") >"$T/sig.out" 2>"$T/sig.err" &
  else
    "$GX" run --trust "$TR" --state "$S" "$T/hup.toml" -- "$H/try_sigwait" >"$T/sig.out" 2>"$T/sig.err" &
  fi
  gxpid=$!
  set +m
  for _ in $(seq 100); do grep -q ready "$T/sig.out" && break; sleep 0.05; done
  kill -HUP "$gxpid"
  sleep 0.3
  if [ "$ignored" = yes ]; then
    check "SIGHUP ignored by gx's caller: the command ignores it too and still runs" kill -0 "$gxpid"
    kill -INT "$gxpid"
  fi
  for _ in $(seq 100); do kill -0 "$gxpid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$gxpid" 2>/dev/null
  wait "$gxpid"
  rc=$?
  if [ "$ignored" = yes ]; then
    check "... and SIGINT still reaches it (rc $rc)" test "$rc" = 42
  else
    check "SIGHUP to gx (not ignored) reaches the command: 129 (rc $rc)" test "$rc" = 129
  fi
done
art cat --max-uses 2 -- /bin/cat
out=$(echo hi | setsid -w "$GX" run --trust "$TR" --state "$S" "$T/cat.toml" -- /bin/cat | cat)
check "pipe without a tty: output preserved ($out)" test "$out" = hi
head -c 300000 /dev/urandom >"$T/blob"
out=$(R "$T/cat.toml" -- /bin/cat <"$T/blob" | sha256sum)
check "300 kB of binary data through a pipe intact" test "$out" = "$(sha256sum <"$T/blob")"

# --- real commands under a useful profile ---
mkdir -p "$T/ro"
touch "$T/ro/alpha" "$T/ro/beta"
art ls --read "$T/ro" -- /bin/ls "$T/ro"
expect_rc 0 "ls of a granted directory" R "$T/ls.toml" -- /bin/ls "$T/ro"
check "ls lists it" test "$(tr '\n' ' ' <"$T/out")" = "alpha beta "
art lsdenied -- /bin/ls "$T/ro"
expect_rc 2 "ls of a directory outside the read paths fails" R "$T/lsdenied.toml" -- /bin/ls "$T/ro"
check "ls says permission denied" grep -q "Permission denied" "$T/err"
art sh -- /bin/sh -c 'echo "sum $((1 + 2))"; printf "%s\n" builtin'
expect_rc 0 "sh -c with builtins" R "$T/sh.toml" -- /bin/sh -c 'echo "sum $((1 + 2))"; printf "%s\n" builtin'
check "sh output" test "$(tr '\n' ' ' <"$T/out")" = "sum 3 builtin "
art shx --exec /usr/bin -- /bin/sh -c '/usr/bin/basename /a/b/c'
expect_rc 0 "sh -c running a child in the exec paths" R "$T/shx.toml" -- /bin/sh -c '/usr/bin/basename /a/b/c'
check "child's output" test "$(cat "$T/out")" = c
art shnox -- /bin/sh -c '/usr/bin/basename /a/b/c'
expect_rc 126 "sh -c: exec = [], so no child program at all (exec guard)" R "$T/shnox.toml" -- /bin/sh -c '/usr/bin/basename /a/b/c'
check "sh (not gx) reports the refusal (EPERM)" grep -q "basename: Operation not permitted" "$T/err"
art shox --exec /usr/lib -- /bin/sh -c '/usr/bin/basename /a/b/c'
expect_rc 126 "sh -c: child outside the exec paths is refused by Landlock" R "$T/shox.toml" -- /bin/sh -c '/usr/bin/basename /a/b/c'
check "sh (not gx) reports permission denied" grep -q "basename: Permission denied" "$T/err"
refute "...and gx did not deny" grep -q "gx: denied" "$T/err"
check "gx recorded the run as finished with sh's 126" test "$(log_last '.decision + " " + (.exit_code|tostring)')" = "finished 126"
if [ -x /usr/bin/python3 ]; then
  art py -- /usr/bin/python3 -c 'print(1+1)'
  expect_rc 0 "python3 -c" R "$T/py.toml" -- /usr/bin/python3 -c 'print(1+1)'
  check "python3 prints 2 ($(head -c 300 "$T/err"))" test "$(cat "$T/out")" = 2
fi

# --- dry run and JSON ---
art dry --max-uses 1 --write "$W" -- "$MARK" "$W/m"
expect_rc 0 "dry run allowed" R --dry-run "$T/dry.toml" -- "$MARK" "$W/m"
no_marker "dry run ran the command"
check "dry run says so" grep -q "dry run: would run" "$T/err"
check "dry run shows the sandbox" grep -q '"landlock"' "$T/err"
expect_rc 0 "dry run --json" R --dry-run --json "$T/dry.toml" -- "$MARK" "$W/m"
check "json: allow" test "$(jq -r .decision.decision "$T/out")" = allow
check "json: dry_run" test "$(jq -r .dry_run "$T/out")" = true
check "json: seccomp default action" test "$(jq -r .sandbox.seccomp.default_action "$T/out")" = "errno(EPERM)"
check "json: landlock handles execute" test "$(jq -r '.sandbox.landlock.fs_handled | index("execute") != null' "$T/out")" = true
check "json: child argv" test "$(jq -r '.child.argv[1]' "$T/out")" = "$W/m"
no_marker "dry run --json"
expect_rc 0 "dry runs consumed no use" R "$T/dry.toml" -- "$MARK" "$W/m"
has_marker "real run after dry runs"
expect_rc 126 "denial with --json" R --json "$T/dry.toml" -- "$MARK" "$W/m"
check "json denial reason" test "$(jq -r .decision.reason "$T/out")" = replay
check "json denial is deny" test "$(jq -r .decision.decision "$T/out")" = deny
no_marker "json denial"
expect_rc 126 "dry run of a mismatch" R --dry-run --json "$T/dry.toml" -- "$MARK" "$W/x"
check "dry run mismatch reason" test "$(jq -r .decision.reason "$T/out")" = policy-mismatch
check "dry run mismatch field" test "$(jq -r .decision.field "$T/out")" = "exec.argv[1]"
R --report "$T/report.json" "$T/exit7.toml" -- /bin/sh -c 'exit 7' >/dev/null 2>&1
check "--report of a denial carries the reason" test "$(jq -r .decision.reason "$T/report.json")" = replay
art rep -- /bin/sh -c 'exit 7'
R --report "$T/report.json" "$T/rep.toml" -- /bin/sh -c 'exit 7' >/dev/null 2>&1
check "--report of a run carries the exit code" test "$(jq -r .outcome.exit_code "$T/report.json")" = 7

# --- started with closed standard streams ---
# No file of gx's may become fd 0..2 (a message to a reused stderr would
# land in the receipt log); the child finds /dev/null where its caller left
# a stream closed, as under a set-id program.
art fds --max-uses 10 -- /usr/bin/readlink /proc/self/fd/0 /proc/self/fd/2
R "$T/fds.toml" -- /usr/bin/readlink /proc/self/fd/0 /proc/self/fd/2 <&- 2>&- >"$T/fds.out"
check "closed stdin and stderr: the run succeeds" test $? = 0
check "closed stdin and stderr: the child sees /dev/null" test "$(cat "$T/fds.out")" = "$(printf '/dev/null\n/dev/null')"
R "$T/ctl.toml" -- "$MARK" "$W/m" <&- >&- 2>&-
check "all three closed: the run succeeds" test $? = 0
has_marker "all three closed"
R "$T/nonexistent.toml" -- "$MARK" "$W/m" <&- >&- 2>&-
check "all three closed: a denial exits 126" test $? = 126
no_marker "all three closed, denied"
check "the log verifies after runs with closed streams" "$GX" log verify --state "$S"

# A closed stream gets /dev/null only if /dev/null is the null device (1:3):
# a file planted there (bind-mounted in a private mount namespace) would
# receive gx's messages or feed it a passphrase. gx refuses before anything.
planted_null() { # CMD...: in a private mount namespace with a file over /dev/null
  : >"$T/planted"
  if [ "$(id -u)" = 0 ]; then NS=(unshare -m); else NS=(unshare -U -r -m); fi
  "${NS[@]}" bash -c 'mount --bind "$0" /dev/null && exec "$@"' "$T/planted" "$@"
}
if planted_null true 2>/dev/null; then
  planted_null "$GX" --version >"$T/pv.out" 2>"$T/pv.err"
  check "planted /dev/null, streams open: gx starts" test $? = 0
  planted_null "$GX" --version >&- 2>"$T/pv.err"
  check "planted /dev/null, stdout closed: gx refuses" test $? = 125
  check "planted /dev/null: the refusal names /dev/null" grep -q "cannot open /dev/null.*No such device" "$T/pv.err"
  planted_null "$GX" run --trust "$TR" --state "$S" "$T/ctl.toml" -- "$MARK" "$W/m" <&- >&- 2>"$T/pv.err"
  check "planted /dev/null, all closed: gx run refuses" test $? = 125
  no_marker "planted /dev/null, all closed"
  check "planted /dev/null: nothing was written to the planted file" test ! -s "$T/planted"
  if [ "$(id -u)" = 0 ]; then  # in a user namespace the artifact's uid binding cannot match
    planted_null "$GX" run --trust "$TR" --state "$S" "$T/ctl.toml" -- "$MARK" "$W/m" >/dev/null 2>"$T/pv.err"
    check "planted /dev/null, streams open: the run succeeds" test $? = 0
    has_marker "planted /dev/null, streams open"
  fi
else
  echo "run.sh: skipping the planted /dev/null checks: no private mount namespace here ($(planted_null true 2>&1 | head -1))"
fi

finish
