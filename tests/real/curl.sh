#!/usr/bin/env bash
# curl against a local HTTP server: allowed with the port granted (learned),
# denied without it.
source "$(dirname "$0")/lib/corpus.bash"
need curl python3
mkdir -p "$T/srv"
echo "served content" >"$T/srv/file.txt"
PORT=""
for _ in 1 2 3 4 5; do
  p=$((20000 + RANDOM % 20000))
  python3 -m http.server "$p" --bind 127.0.0.1 --directory "$T/srv" >/dev/null 2>&1 &
  SRV=$!
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$p/file.txt" >/dev/null 2>&1 && { PORT=$p; break; }; sleep 0.1; done
  [ -n "$PORT" ] && break
  kill "$SRV" 2>/dev/null
done
[ -n "$PORT" ] || { echo "SKIP: could not start python3 -m http.server"; exit 0; }
trap 'kill $SRV 2>/dev/null; rm -rf "$T"' EXIT
setup() { :; }
same curl setup "$W" -- curl -fsS "http://127.0.0.1:$PORT/file.txt" -o got.txt
check "downloaded" test "$(cat "$W/got.txt")" = "served content"
check "port learned" grep -q "connect_tcp = \[$PORT\]" "$T/curl.toml"
narrowed curl "s|^connect_tcp = .*|connect_tcp = []|" "(Failed to connect|Couldn't connect|Permission denied).*$PORT|$PORT.*(Failed to connect|Couldn't connect|Permission denied)" \
  setup "$W" -- curl -fsS "http://127.0.0.1:$PORT/file.txt" -o got.txt
check "...and nothing was downloaded" test ! -e "$W/got.txt"
finish
