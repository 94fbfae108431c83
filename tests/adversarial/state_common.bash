# Shared by the state-directory attacks (receipts, uses, --report): sourced
# after ../cli/lib/common.bash and ../cli/lib/run_env.bash. Not a test itself
# (only *.sh files are registered).
MARK=$H/try_marker
no_marker() { # DESC [FILE]: the marker must not exist
  local f=${2:-$W/m}
  if [ -e "$f" ]; then bad "$1: the command ran (marker $f exists)"; rm -f "$f"; else ok; fi
}
has_marker() { # DESC [FILE]: the marker must exist (then it is removed)
  local f=${2:-$W/m}
  if [ -e "$f" ]; then ok; rm -f "$f"; else bad "$1: the command did not run (no marker $f)"; fi
}
# expect_refused CODE TEXT DESC CMD...: exit 126, "gx: denied (CODE)" and TEXT
# on stderr, within 20 seconds (a hang is a failure, not a stuck test).
expect_refused() {
  local code=$1 text=$2 desc=$3
  shift 3
  run timeout 20 "$@"
  if [ "$RC" = 124 ]; then bad "$desc: gx hung (killed after 20 s)"; return; fi
  if [ "$RC" = 126 ] && grep -q "gx: denied ($code)" "$T/err" && grep -qF -- "$text" "$T/err"; then ok; else
    bad "$desc: exit $RC, wanted 126 with ($code) and '$text'; stderr: $(head -c 400 "$T/err")"
  fi
}
# log_verify_fails TEXT DESC: gx log verify --state $S reports the log broken, naming TEXT
log_verify_fails() {
  run timeout 20 "$GX" log verify --state "$S"
  if [ "$RC" = 124 ]; then bad "$2: gx log verify hung"; return; fi
  if [ "$RC" = 126 ] && grep -q "log-tampered" "$T/err" && grep -qF -- "$1" "$T/err"; then ok; else
    bad "$2: gx log verify exit $RC, wanted 126 log-tampered naming '$1'; out: $(head -c 300 "$T/out") err: $(head -c 300 "$T/err")"
  fi
}
receipt_count() { "$GX" log show --state "$S" --json 2>/dev/null | grep -c .; }
