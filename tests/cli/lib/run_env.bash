# Shared set-up of the gx run tests (run.sh, run_sandbox.sh, run_races.sh):
# a key "alice" trusted in a trust store kept apart (its directory is
# protected from write grants), a write tree $W, a state dir $S, a work dir
# (the cwd artifacts are made for), and helpers to make signed artifacts.
# Source after lib/common.bash.
: "${GX_HELPERS:?GX_HELPERS must point at the built tests/helpers}"
refute() { # DESC CMD...: passes when CMD fails
  local desc=$1
  shift
  if "$@"; then bad "$desc"; else ok; fi
}
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
H=$GX_HELPERS
W=$T/w       # the write tree granted to marker commands
S=$T/state   # gx state (uses, receipts)
mkdir -p "$W" "$T/work" "$T/bin"
cd "$T/work" || exit 1
mkkey alice
mkdir -p "$T/tr" && mv "$T/trust.toml" "$T/tr/trust.toml"
TR=$T/tr/trust.toml

R() { "$GX" run --trust "$TR" --state "$S" "$@"; }
# gx_init OUT [INIT FLAGS...] -- CMD...: gx init -f -o OUT, quietly.
gx_init() {
  local out=$1 flags=()
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
  "$GX" init "${flags[@]}" -f -o "$out" "$@" >/dev/null 2>"$T/init.err"
}
art() { # NAME [INIT FLAGS...] -- CMD...: init + sign with alice
  local name=$1
  shift
  gx_init "$T/$name.toml" "$@" || { bad "init $name: $(cat "$T/init.err")"; return 1; }
  "$GX" sign -k "$T/alice.key" "$T/$name.toml" >/dev/null 2>&1 || bad "sign $name"
}
art_edit() { # NAME SED-SCRIPT [INIT FLAGS...] -- CMD...: init, edit the body, sign
  local name=$1 script=$2
  shift 2
  gx_init "$T/$name.toml" "$@" || { bad "init $name: $(cat "$T/init.err")"; return 1; }
  sed -i "$script" "$T/$name.toml"
  "$GX" sign -k "$T/alice.key" "$T/$name.toml" >/dev/null 2>&1 || bad "sign $name"
}

# Signal inheritance (run.sh, broker.sh): MASK_PY prints the signals blocked in
# the process running it; with_usr2_alrm_blocked CMD... runs CMD with SIGUSR2
# (12) and SIGALRM (14) blocked, which exec keeps.
MASK_PY='import signal; print(sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])))'
with_usr2_alrm_blocked() {
  python3 -c 'import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2, signal.SIGALRM})
os.execv(sys.argv[1], sys.argv[1:])' "$@"
}
