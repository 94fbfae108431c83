#!/usr/bin/env bash
# Scripts that use their own path: a pyenv-style shim (program="${0##*/}")
# and a script sourcing a sibling through $(dirname "$0") must see their real
# path under gx, exactly as bare; a learned run that fails is not written.
source "$(dirname "$0")/lib/corpus.bash"
need bash python3
# The system python (not a shim of the machine's own pyenv): the case's PATH.
PYREAL=$(readlink -f "$(PATH=${BASE_ENV[0]#PATH=} command -v python3)")

setup_shim() {
  mkdir -p shims versions
  # The pyenv shim, in its essentials: the program name comes from $0.
  cat >shims/python3 <<'SH'
#!/usr/bin/env bash
set -e
program="${0##*/}"
exec "$(dirname "$0")/../versions/$program" "$@"
SH
  chmod 755 shims/python3
  ln -s "$PYREAL" versions/python3
}
same shim setup_shim "$W" -- "$W/shims/python3" -c 'import sys; print("python", sys.version_info[0], sys.argv[1:])' a b
check "shim ran python ($(cat "$T/shim.gx.out"))" grep -q "^python 3 \['a', 'b'\]" "$T/shim.gx.out"
narrowed shim "s|\"$PYREAL\", ||" "versions/python3: Permission denied" setup_shim "$W" -- \
  "$W/shims/python3" -c 'import sys; print("python", sys.version_info[0], sys.argv[1:])' a b

setup_sourcing() {
  mkdir -p tool
  printf 'greeting() { echo "hello from $(basename "$1")"; }\n' >tool/lib.sh
  cat >tool/run.sh <<'SH'
#!/bin/sh
cd "$(dirname "$0")"
. ./lib.sh
greeting "$0" >out.txt
echo "ran as $0 with $#"
SH
  chmod 755 tool/run.sh
}
same sourcing setup_sourcing "$W" -- ./tool/run.sh one two
check "script saw its own path" grep -qx "ran as ./tool/run.sh with 2" "$T/sourcing.gx.out"
narrowed sourcing "s|\"$W/tool/lib.sh\", ||; s|, \"$W/tool/lib.sh\"||; s|\"$W/tool\", ||; s|, \"$W/tool\"||" \
  "lib.sh.*(Permission denied|can't open)" setup_sourcing "$W" -- ./tool/run.sh one two

# --- a learned run that fails is refused, loudly (issue 10 item 3) ---
fresh setup_shim
rm "$W/versions/python3"
run e "$GX" learn --trust "$TRUST" --state "$STATE" -o "$T/failed.toml" -- "$W/shims/python3" -c 'print(1)'
check "learn of a failing shim exits 125 ($RC)" test "$RC" = 125
check "...says the command failed with 127" grep -q "FAILED while it was learned (exit status 127)" "$T/err"
check "...and wrote nothing" test ! -e "$T/failed.toml"
run e "$GX" learn --keep-failed --trust "$TRUST" --state "$STATE" -o "$T/failed.toml" -- "$W/shims/python3" -c 'print(1)'
check "--keep-failed writes it ($RC)" test "$RC" = 0 -a -s "$T/failed.toml"

# --- a script others may replace runs from the sealed copy, with a warning ---
fresh setup_sourcing
chmod 777 "$W/tool"
"$GX" init --max-uses 2 -o "$T/open.toml" -- "$W/tool/run.sh" >/dev/null 2>&1
"$GX" sign -k "$T/k/alice.key" "$T/open.toml" >/dev/null 2>&1
run e "$GX" run --trust "$TRUST" --state "$STATE" "$T/open.toml" -- "$W/tool/run.sh"
check "world-writable directory: warning names it" grep -q "as /dev/fd/[0-9]*.*$W/tool is writable by group or others" "$T/err"
finish
