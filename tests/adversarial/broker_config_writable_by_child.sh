#!/usr/bin/env bash
# Attack: a brokered command running as root (a signed [run] user = "root" with a write grant over the broker's configuration directory) rewrites the broker's configuration (its trust store, allow lists, state), which the next broker start obeys.
# Fixed: the broker protects its configuration file and socket like its state
# (RunRequest::also_protected, broker_own_paths in lib/broker_config.h).
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../cli/lib/common.bash"
source "$HERE/../cli/lib/run_env.bash"
source "$HERE/../cli/lib/broker_env.bash"
if [ "$(id -u)" != 0 ]; then
  echo "skipped: needs root ([run] user = \"root\" and a root broker)"
  finish
fi
mkdir -p "$T/conf"
chmod 755 "$T/conf"
printf 'max_concurrent = 8\n' >"$T/conf/broker.toml"
chmod 644 "$T/conf/broker.toml"
art_edit cfg 's/^\[sandbox\]/[run]\nuser = "root"\n\n[sandbox]/' --max-uses 10 --write "$T/conf" -- "$H/try_write" "$T/conf/broker.toml"
start_broker --config "$T/conf/broker.toml" || finish
run B "$T/cfg.toml" -- "$H/try_write" "$T/conf/broker.toml"
echo "rc $RC: $(cat "$T/out" "$T/err")" >&2
# The grant is expanded around the protected file (lib/landlock.h), as around gx's state: the
# directory itself gets no write right, so neither a write nor a rename over the file works.
check "the write to the broker's configuration is refused (EACCES)" grep -q EACCES "$T/out" "$T/err"
check "the broker's configuration is unchanged" test "$(cat "$T/conf/broker.toml")" = "max_concurrent = 8"
stop_broker
finish
