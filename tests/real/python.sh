#!/usr/bin/env bash
# python3 running a script that imports from its own directory, and a script
# run by a virtual environment's python.
source "$(dirname "$0")/lib/corpus.bash"
need python3
PY=$(PATH=${BASE_ENV[0]#PATH=} command -v python3)
# .pyc files embed the source's mtime, which differs between fresh setups.
EXTRA_ENV=(PYTHONDONTWRITEBYTECODE=1)
setup_pkg() {
  mkdir app out
  printf 'def double(x):\n    return 2 * x\n' >app/helper.py
  printf 'import sys\nfrom helper import double\nprint("double", double(21), sys.argv[1:])\nopen("out/result.txt", "w").write("ok\\n")\n' >app/main.py
}
same py_import setup_pkg "$W" -- "$PY" app/main.py x
check "imported its sibling" grep -qx "double 42 \['x'\]" "$T/py_import.gx.out"
narrowed py_import "s|\"$W/app[^\"]*\", ||g; s|, \"$W/app[^\"]*\"||g" "(Permission denied|can't open|helper)" \
  setup_pkg "$W" -- "$PY" app/main.py x

if "$PY" -m venv --without-pip "$T/venv-probe" >/dev/null 2>&1; then
  setup_venv() {
    setup_pkg && "$PY" -m venv --without-pip venv >/dev/null &&
      printf '#!%s\nimport sys\nprint("venv", sys.prefix != sys.base_prefix)\n' "$W/venv/bin/python" >tool.py && chmod 755 tool.py
  }
  same py_venv setup_venv "$W" -- venv/bin/python app/main.py y
  check "ran in the venv dir" grep -qx "double 42 \['y'\]" "$T/py_venv.gx.out"
  same py_venv_shebang setup_venv "$W" -- ./tool.py
  check "a #! script in the venv sees its venv" grep -qx "venv True" "$T/py_venv_shebang.gx.out"
else
  echo "SKIP: python3 -m venv unavailable (python3-venv)"
fi
finish
