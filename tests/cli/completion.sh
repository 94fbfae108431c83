#!/usr/bin/env bash
# Shell completions: drives the bash completion function directly (no
# bash-completion package needed) and checks that the bash, zsh and fish
# files offer exactly the options `gx ... --help` lists.
source "$(dirname "$0")/lib/common.bash"
: "${GX_SRC:?GX_SRC must point at the source tree}"
COMP=$GX_SRC/completions
for f in gx.bash _gx gx.fish; do check "completions/$f exists" test -s "$COMP/$f"; done

# shellcheck source=/dev/null
source "$COMP/gx.bash"
check "bash: _gx is registered for gx" bash -c "source '$COMP/gx.bash' && complete -p gx | grep -q -- '-F _gx'"
# The bash completion asks `gx profiles` for group names: let it find this gx.
mkdir -p "$T/bin"
ln -s "$GX" "$T/bin/gx"
PATH=$T/bin:$PATH

# complete WORD...: the candidates bash would offer for the last word, one per line, sorted
complete_words() {
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _gx gx "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort -u
}
# expect_completion WANT DESC WORD...: candidates are exactly WANT (space separated)
expect_completion() {
  local want got
  want=$(tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -u)
  got=$(complete_words "${@:3}")
  if [ "$got" = "$want" ]; then ok; else bad "$2: got [$(echo $got)], wanted [$(echo $want)]"; fi
}
# expect_includes WANT DESC WORD...: candidates include every word of WANT
expect_includes() {
  local got w
  got=$(complete_words "${@:3}")
  for w in $1; do
    if grep -qx -- "$w" <<<"$got"; then ok; else bad "$2: '$w' not offered (got [$(echo $got)])"; fi
  done
}

help_options() {
  "$GX" "$@" --help 2>&1 | sed -n 's/^  \(-[A-Za-z0-9],\)\{0,1\}\(--[a-z0-9][a-z0-9-]*\).*/\2/p' | sort -u
}
help_subcommands() { "$GX" "$@" --help 2>&1 | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'; }

# --- subcommands ---
expect_completion "verify" "gx ver<TAB>" gx ver
expect_completion "sign state" "gx s<TAB>" gx s
expect_completion "$(help_subcommands | tr '\n' ' ')" "gx <TAB> offers every subcommand" gx ""
expect_completion "--help --version" "gx --<TAB>" gx --
expect_completion "add list remove threshold" "gx trust <TAB>" gx trust ""
expect_completion "remove" "gx trust rem<TAB>" gx trust rem
expect_completion "verify checkpoint show tree" "gx log <TAB>" gx log ""
expect_completion "prune show" "gx state <TAB>" gx state ""

# --- options ---
expect_completion "--dry-run" "gx run --dr<TAB>" gx run --dr
expect_completion "--name --not-before --not-after" "gx trust add --n<TAB>" gx trust add --n
expect_completion "--json --trust --help" "gx trust list --<TAB>" gx trust list --
expect_completion "--print-payload --print-signature" "gx verify --pr<TAB>" gx verify --pr
expect_completion "--receipt-key" "options after an option's value" gx log checkpoint --state /tmp --rec
expect_completion "--now" "gx state prune --n<TAB>" gx state prune --n

# --- file arguments ---
mkdir -p "$T/files/sub"
cd "$T/files" || exit 1
touch a.toml b.toml notes.txt alice.key alice.pub "sub/my art.toml"
expect_completion "a.toml b.toml sub" "gx verify <TAB>: artifacts and directories" gx verify ""
expect_completion "a.toml" "gx sign -k alice.key a<TAB>" gx sign -k alice.key a
complete_words gx verify sub/my >"$T/c"
check "a file name with a space stays one candidate" test "$(cat "$T/c")" = "sub/my art.toml"
expect_completion "alice.key" "gx sign -k al<TAB>: private keys" gx sign -k al
expect_completion "alice.pub" "gx trust add al<TAB>: public keys" gx trust add al
expect_completion "alice.key" "gx run --receipt-key al<TAB>" gx run --receipt-key al
expect_completion "a.toml b.toml sub" "gx run --trust <TAB>: toml" gx run --trust ""
expect_completion "sub" "gx run --state <TAB>: directories" gx run --state ""
expect_completion "a.toml b.toml sub" "gx run <TAB>: the artifact" gx run ""
expect_completion "" "gx run ART <TAB>: nothing until --" gx run a.toml ""
expect_includes "echo" "gx run ART -- ec<TAB>: a command" gx run a.toml -- ec
expect_includes "notes.txt" "gx run ART -- cmd <TAB>: its arguments are files" gx run a.toml -- cat ""
expect_completion "" "gx run ART -- cmd --dr<TAB>: not gx's options" gx run a.toml -- cat --dr
expect_completion "" "gx keygen --output x --<TAB>... value words are skipped" gx keygen -f -o
expect_includes "default network" "gx profiles <TAB>: syscall groups" gx profiles ""
expect_includes "HOME PATH" "gx init --env <TAB>: variable names" gx init --env ""
cd "$T" || exit 1

# --- every --help option is offered by bash, zsh and fish; bash offers nothing else ---
leaves=("")
for cmd in $(help_subcommands); do
  subs=$(help_subcommands "$cmd")
  if [ -z "$subs" ]; then leaves+=("$cmd"); else for s in $subs; do leaves+=("$cmd $s"); done; fi
done
check "found the subcommands" test "${#leaves[@]}" -ge 15
for leaf in "${leaves[@]}"; do
  # shellcheck disable=SC2086
  if [ -n "$leaf" ] && "$GX" $leaf --help 2>&1 | grep -q '(not yet implemented)'; then continue; fi
  # shellcheck disable=SC2086
  want=$(help_options $leaf)
  got=$(tr ' ' '\n' <<<"$(_gx_options "$leaf")" | sed '/^$/d' | sort -u)
  if [ "$got" = "$want" ]; then ok; else
    bad "bash completion of 'gx $leaf': offers [$(echo $got)], --help lists [$(echo $want)]"
  fi
  [ -z "$leaf" ] && continue
  cmd=${leaf%% *}
  for opt in $want; do
    [ "$opt" = --help ] && continue
    if grep -Eq -- "$opt(=|\\[|\\})" "$COMP/_gx"; then ok; else bad "zsh completion lacks $opt (gx $leaf)"; fi
    if grep -E "__gx_is $cmd" "$COMP/gx.fish" | grep -Eq -- "-l ${opt#--}( |\$)"; then ok; else
      bad "fish completion lacks $opt (gx $leaf)"
    fi
  done
done

# --- the shells that are installed accept the files ---
if command -v zsh >/dev/null; then check "zsh parses _gx" zsh -n "$COMP/_gx"; fi
if command -v fish >/dev/null; then check "fish parses gx.fish" fish --no-execute "$COMP/gx.fish"; fi
check "bash parses gx.bash" bash -n "$COMP/gx.bash"

finish
