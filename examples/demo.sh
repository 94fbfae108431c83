#!/usr/bin/env bash
# The main job, end to end: make a key, trust it, write an artifact for one
# real command, sign it, verify it, run it governed, read the receipt log,
# and watch gx deny a replay. Everything lives in a scratch directory.
set -euo pipefail
GX=${GX:-$(cd "$(dirname "$0")/.." && pwd)/build/gx}
W=$(mktemp -d /tmp/gx-demo.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
  say() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; }
else
  say() { printf '\n$ %s\n' "$*" >&2; }
fi
run() { say "$*"; "$@"; }

run "$GX" keygen -o approver
run "$GX" trust add approver.pub --name approver --trust trust.toml
run "$GX" init --reason "demo: checksum the OS release file" --max-uses 1 -o sha.toml -- sha256sum /etc/os-release
run "$GX" sign -k approver.key sha.toml
run "$GX" verify --trust trust.toml sha.toml
run "$GX" run --trust trust.toml --state state sha.toml -- sha256sum /etc/os-release
say "$GX run (again: the artifact allowed one use)"
if "$GX" run --trust trust.toml --state state sha.toml -- sha256sum /etc/os-release; then
  echo "demo: the replay was NOT denied" >&2
  exit 1
fi
run "$GX" log show --state state
run "$GX" log verify --state state
echo "demo: ok" >&2
