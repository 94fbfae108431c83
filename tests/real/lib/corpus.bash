# Shared by the real-world corpus (tests/real/*.sh): a command is run bare and
# under gx (artifact learned by `gx learn`, then signed) from the same fresh
# scratch state, and stdout, exit status and the files written must be
# identical; a narrowed artifact must then be refused or fail inside the
# child with a message naming what is missing.
source "$(dirname "${BASH_SOURCE[0]}")/../../cli/lib/common.bash"
# Keys and state live outside the workload (gx refuses grants inside them).
mkdir -p "$T/k" "$T/st"
TRUST=$T/k/trust.toml
STATE=$T/st
"$GX" keygen -o "$T/k/alice" >/dev/null 2>&1 || bad "keygen"
"$GX" trust add "$T/k/alice.pub" --name alice --trust "$TRUST" >/dev/null 2>&1 || bad "trust add"
W=$T/w              # the scratch directory every case runs in
BASE_ENV=(PATH=/usr/local/bin:/usr/bin:/bin HOME="$T/home" LANG=C.UTF-8 TZ=UTC)
EXTRA_ENV=()        # NAME=VALUE pinned by a case (passed to learn as --env)
LEARN_FLAGS=()      # extra flags for gx learn (e.g. --max-uses)
IGNORE_CONTENT='^$' # files (regex on ./path) compared by existence only
WRAP=()             # a prefix for the bare and the governed run (e.g. setsid)

need() {
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t not installed (.ci/install-deps installs it)"; exit 0; }
  done
}

# The files under $W: type, path, and content digest (except IGNORE_CONTENT).
snapshot() {
  (cd "$W" && find . -mindepth 1 \( -type d -printf 'd %p\n' \) -o \( -type l -printf 'l %p -> %l\n' \) -o \
    \( -type f -printf 'f %p\n' \) | LC_ALL=C sort | while read -r kind path rest; do
    if [ "$kind" = f ] && ! [[ "$path" =~ $IGNORE_CONTENT ]]; then
      echo "f $path $(sha256sum <"$path" | cut -c1-16)"
    else
      echo "$kind $path $rest"
    fi
  done)
}

# fresh SETUP: empties $W (and $T/home) and runs the case's setup function in it.
fresh() {
  rm -rf "$W" "$T/home"
  mkdir -p "$W" "$T/home"
  (cd "$W" && "$1") || bad "setup $1 failed"
}

# e CMD...: runs CMD with exactly the case's environment, no terminal.
e() { env -i "${BASE_ENV[@]}" "${EXTRA_ENV[@]}" "$@" </dev/null; }

# same NAME SETUP CWD -- CMD...: bare run vs learned+signed gx run, compared.
# Leaves the signed artifact in $T/NAME.toml (one use left) for narrowing.
same() {
  local name=$1 setup=$2 cwd=$3
  shift 4
  local pins=()
  for kv in "${EXTRA_ENV[@]}"; do pins+=(--env "$kv"); done
  fresh "$setup"
  (cd "$cwd" && e "${WRAP[@]}" "$@" >"$T/$name.bare.out" 2>"$T/$name.bare.err")
  local bare_rc=$?
  snapshot >"$T/$name.bare.files"
  fresh "$setup"
  (cd "$cwd" && e "$GX" learn --trust "$TRUST" --state "$STATE" --max-uses 3 "${LEARN_FLAGS[@]}" "${pins[@]}" \
    -o "$T/$name.toml" --force -- "$@" >"$T/$name.learn.out" 2>"$T/$name.learn.err")
  local learn_rc=$?
  if [ "$learn_rc" != 0 ]; then
    bad "$name: gx learn exit $learn_rc: $(tail -c 600 "$T/$name.learn.err")"
    return 1
  fi
  "$GX" sign -k "$T/k/alice.key" "$T/$name.toml" >/dev/null 2>&1 || bad "$name: sign"
  fresh "$setup"
  (cd "$cwd" && e "${WRAP[@]}" "$GX" run --trust "$TRUST" --state "$STATE" "$T/$name.toml" -- "$@" \
    >"$T/$name.gx.out" 2>"$T/$name.gx.err")
  local gx_rc=$?
  snapshot >"$T/$name.gx.files"
  if [ "$bare_rc" = "$gx_rc" ]; then ok; else
    bad "$name: exit status bare $bare_rc, under gx $gx_rc; gx stderr: $(tail -c 600 "$T/$name.gx.err")"
  fi
  if cmp -s "$T/$name.bare.out" "$T/$name.gx.out"; then ok; else
    bad "$name: stdout differs: $(diff "$T/$name.bare.out" "$T/$name.gx.out" | head -8); gx stderr: $(tail -c 400 "$T/$name.gx.err")"
  fi
  if cmp -s "$T/$name.bare.files" "$T/$name.gx.files"; then ok; else
    bad "$name: files written differ: $(diff "$T/$name.bare.files" "$T/$name.gx.files" | head -8)"
  fi
}

# narrowed NAME SED-EXPR WANT-IN-STDERR SETUP CWD -- CMD...: the learned artifact
# with SED-EXPR applied, re-signed, must fail (gx denial or an error inside
# the child) and stderr must name what was missing (WANT-IN-STDERR, a regex).
narrowed() {
  local name=$1 expr=$2 want=$3 setup=$4 cwd=$5
  shift 6
  sed -e '/^\[\[signature\]\]$/,$d' -e "$expr" "$T/$name.toml" >"$T/$name.narrow.toml"
  if cmp -s <(sed '/^\[\[signature\]\]$/,$d' "$T/$name.toml") "$T/$name.narrow.toml"; then
    bad "$name: narrowing '$expr' changed nothing"
    return 1
  fi
  "$GX" sign -k "$T/k/alice.key" "$T/$name.narrow.toml" >/dev/null 2>&1 || bad "$name: sign narrowed"
  fresh "$setup"
  (cd "$cwd" && e "${WRAP[@]}" "$GX" run --trust "$TRUST" --state "$STATE" "$T/$name.narrow.toml" -- "$@" \
    >"$T/$name.narrow.out" 2>"$T/$name.narrow.err")
  local rc=$?
  if [ "$rc" != 0 ]; then ok; else bad "$name: narrowed artifact still succeeded"; fi
  if grep -Eq -- "$want" "$T/$name.narrow.err"; then ok; else
    bad "$name: narrowed failure does not name /$want/: $(tail -c 400 "$T/$name.narrow.err")"
  fi
}
