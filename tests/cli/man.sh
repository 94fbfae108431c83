#!/usr/bin/env bash
# The manual: every page lints clean, has the required sections, documents
# exactly the options `--help` lists (both directions), and gx-run(1)
# documents every reason code of lib/decision.cc.
source "$(dirname "$0")/lib/common.bash"
: "${GX_SRC:?GX_SRC must point at the source tree}"
MAN=$GX_SRC/man
command -v mandoc >/dev/null || { bad "mandoc is not installed"; finish; }

# Plain text of a page: no overstrike, no line wrapping to split options.
render() { mandoc -Tascii -O width=300 "$1" | sed 's/.\x08//g'; }
# section TITLE FILE: the body of one section of a rendered page
section() { awk -v s="$1" '/^[A-Z][A-Z ]*[A-Z]$/ { on = ($0 == s); next } on' "$2"; }
# Long options named at the start of --help lines ("  -o,--output TEXT ...").
help_options() {
  "$GX" "$@" --help 2>&1 | sed -n 's/^  \(-[A-Za-z0-9],\)\{0,1\}\(--[a-z0-9][a-z0-9-]*\).*/\2/p' | sort -u
}
# Subcommand names listed by --help.
help_subcommands() { "$GX" "$@" --help 2>&1 | awk '/^Subcommands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'; }

# --- every page: lint and sections ---
shopt -s nullglob
pages=("$MAN"/*.1 "$MAN"/*.5)
check "man pages exist" test "${#pages[@]}" -ge 10
for page in "${pages[@]}"; do
  name=$(basename "$page")
  lint=$(mandoc -Tlint -W warning "$page" 2>&1)
  if [ -z "$lint" ]; then ok; else bad "$name: mandoc -Tlint -W warning: $lint"; fi
  render "$page" >"$T/$name.txt"
  case $name in
    *.1) required=(NAME SYNOPSIS DESCRIPTION "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO") ;;
    *.5) required=(NAME SYNOPSIS DESCRIPTION FILES EXAMPLES "SEE ALSO") ;;
  esac
  for s in "${required[@]}"; do
    if grep -qx "$s" "$T/$name.txt"; then ok; else bad "$name: no $s section"; fi
  done
done

# --- options: --help and the OPTIONS section agree, both directions ---
# compare_options PAGE-NAME CMD...: each CMD is a quoted "cmd [sub]" whose
# options the page documents (--help is implied everywhere, so not required).
compare_options() {
  local name=$1 txt="$T/$1.txt"
  shift
  local want="$T/want.$name" have="$T/have.$name" c
  : >"$want"
  for c in "$@"; do
    # shellcheck disable=SC2086  # "trust add" is two words on purpose
    help_options $c >>"$want"
  done
  sort -u "$want" | grep -vx -- --help >"$want.s"
  section OPTIONS "$txt" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u | grep -vx -- --help >"$have"
  if [ ! -s "$want.s" ] && [ ! -s "$have" ]; then ok; return; fi
  local missing extra
  missing=$(comm -23 "$want.s" "$have" | tr '\n' ' ')
  extra=$(comm -13 "$want.s" "$have" | tr '\n' ' ')
  if [ -z "$missing" ]; then ok; else bad "$name: options in --help but not in OPTIONS: $missing"; fi
  if [ -z "$extra" ]; then ok; else bad "$name: options in OPTIONS but not in --help: $extra"; fi
}

check "gx.1 exists" test -f "$MAN/gx.1"
[ -f "$MAN/gx.1" ] && compare_options gx.1 ""

commands=$(help_subcommands)
check "gx --help lists subcommands" test "$(echo "$commands" | wc -w)" -ge 8
for cmd in $commands; do
  page=gx-$cmd.1
  if [ ! -f "$MAN/$page" ]; then
    bad "gx $cmd has no man page man/$page"
    continue
  fi
  subs=$(help_subcommands "$cmd")
  if [ -z "$subs" ]; then
    compare_options "$page" "$cmd"
  else
    list=()
    for s in $subs; do list+=("$cmd $s"); done
    compare_options "$page" "${list[@]}"
    # each nested subcommand is described on the page
    for s in $subs; do
      if grep -qw -- "$s" "$T/$page.txt"; then ok; else bad "$page does not mention 'gx $cmd $s'"; fi
    done
  fi
  # the page names itself in NAME
  if section NAME "$T/$page.txt" | grep -q "gx[ -]$cmd"; then ok; else bad "$page: NAME does not name gx $cmd"; fi
done

# --- reason codes: decision.cc and gx-run(1) agree, both directions ---
codes=$(sed -n 's/.*Entry{DenyReason::[A-Za-z]*, "\([a-z-]*\)"}.*/\1/p' "$GX_SRC/lib/decision.cc")
check "read the reason codes of lib/decision.cc" test "$(echo "$codes" | wc -w)" -ge 30
section "REASON CODES" "$T/gx-run.1.txt" >"$T/codes.txt"
for code in $codes; do
  # a tag line of the REASON CODES list starts with the code
  if grep -Eq "^ +$code( |\$)" "$T/codes.txt"; then ok; else bad "gx-run.1 does not document reason code '$code'"; fi
done
# tags are indented by the section's 7 columns; bodies further
documented=$(grep -Eo '^       [a-z][a-z-]*( {2,}|$)' "$T/codes.txt" | awk '{print $1}')
check "gx-run.1 lists reason codes" test "$(echo "$documented" | wc -w)" -ge 30
for code in $documented; do
  if grep -qx -- "$code" <<<"$codes"; then ok; else bad "gx-run.1 documents '$code', which lib/decision.cc does not define"; fi
done

# --- cross references between gx pages point at pages that exist (or are announced) ---
for txt in "$T"/*.txt; do
  for ref in $(grep -o 'gx-[a-z]*([15])' "$txt" | sort -u); do
    page=${ref%(*}.${ref: -2:1}
    case $page in gx-learn.1 | gx-revoke.1 | gx-revocations.5) continue ;; esac  # written by others
    if [ -f "$MAN/$page" ]; then ok; else bad "$(basename "$txt" .txt) refers to missing $ref"; fi
  done
done

finish
