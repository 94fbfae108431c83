# Attack: point --report at a symlink (or another user's file) to overwrite it, have the child swap a directory of the --report path for a symlink while it runs, or read allowed environment secrets from a world-readable report.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
source "$(dirname "$0")/state_common.bash"
art_edit tok 's/^allow = \[/allow = ["API_TOKEN", /' --max-uses 20 --write "$W" -- "$MARK" "$W/m"
secret=s3cr3t-$RANDOM$RANDOM
echo "precious" >"$T/victim" && chmod 644 "$T/victim"
ln -s "$T/victim" "$T/report.json"
run env API_TOKEN=$secret "$GX" run --trust "$TR" --state "$S" --report "$T/report.json" "$T/tok.toml" -- "$MARK" "$W/m"
check "the run itself succeeds" test "$RC" = 0
has_marker "run with a symlinked --report"
check "the symlink target is untouched" test "$(cat "$T/victim")" = precious
check "a warning names the refusal" grep -q "symlink" "$T/err"

rm "$T/report.json"
(umask 022 && env API_TOKEN=$secret "$GX" run --trust "$TR" --state "$S" --report "$T/report.json" "$T/tok.toml" -- "$MARK" "$W/m" >/dev/null 2>&1)
has_marker "run with a fresh --report"
check "the report is mode 0600 under umask 022" test "$(stat -c %a "$T/report.json")" = 600
check "the report holds no environment value" bash -c "! grep -qF '$secret' '$T/report.json'"
check "the report names the variable" test "$(jq -r '.child.env_names | index("API_TOKEN") != null' "$T/report.json")" = true
chmod 644 "$T/report.json"
(env API_TOKEN=$secret "$GX" run --trust "$TR" --state "$S" --report "$T/report.json" "$T/tok.toml" -- "$MARK" "$W/m" >/dev/null 2>&1)
has_marker "rewrite of an existing report"
check "an existing report is made 0600 again" test "$(stat -c %a "$T/report.json")" = 600

mkfifo "$T/fifo"
run timeout 20 "$GX" run --trust "$TR" --state "$S" --report "$T/fifo" "$T/tok.toml" -- "$MARK" "$W/m"
check "a FIFO --report does not hang ($RC)" test "$RC" = 0
has_marker "run with a FIFO --report"

# The child replaces the report's directory (inside its write grant) with a
# symlink to a directory outside every grant: the report must not land there.
PY=/usr/bin/python3
if [ -x "$PY" ]; then
  mkdir -p "$T/outside" "$W/out"
  echo "precious" >"$T/outside/r.json" && chmod 644 "$T/outside/r.json"
  SWAP="import os; os.rename('$W/out', '$W/out.old'); os.symlink('$T/outside', '$W/out'); open('$W/swapped', 'w')"
  art_edit swap 's/^groups = .*/groups = ["default", "filesystem"]/' --write "$W" -- "$PY" -c "$SWAP"
  run "$GX" run --trust "$TR" --state "$S" --report "$W/out/r.json" "$T/swap.toml" -- "$PY" -c "$SWAP"
  check "the child swapped the directory ($RC: $(head -c 200 "$T/err"))" test -f "$W/swapped" -a -L "$W/out"
  check "the file behind the symlink is untouched" test "$(cat "$T/outside/r.json")" = precious
  check "its mode is untouched" test "$(stat -c %a "$T/outside/r.json")" = 644
  check "the report went to the directory gx opened (now out.old)" test -s "$W/out.old/r.json"
else
  echo "skip: the directory swap needs python3"
fi

if [ "$(id -u)" = 0 ]; then
  echo "theirs" >"$T/theirs.json" && chown nobody "$T/theirs.json" && chmod 666 "$T/theirs.json"
  run "$GX" run --trust "$TR" --state "$S" --report "$T/theirs.json" "$T/tok.toml" -- "$MARK" "$W/m"
  has_marker "run with another user's --report"
  check "another user's file is not replaced" test "$(cat "$T/theirs.json")" = theirs
  check "a warning names the owner" grep -q "owned by uid" "$T/err"
else
  echo "skip: replacing another user's file needs root to set up"
fi
finish
