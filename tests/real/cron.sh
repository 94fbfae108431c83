#!/usr/bin/env bash
# A cron-style backup script: no terminal (own session, stdin /dev/null), a
# minimal environment, writes an archive and appends to a log.
source "$(dirname "$0")/lib/corpus.bash"
need tar setsid
BASE_ENV=(PATH=/usr/bin:/bin HOME="$T/home" LOGNAME=backup)
WRAP=(setsid -w)
setup() {
  mkdir -p data backups log
  printf 'row %s\n' 1 2 3 >data/table.csv
  touch -d 2020-01-01T00:00:00Z data/table.csv data
  cat >backup.sh <<'SH'
#!/bin/sh
# nightly backup (cron): no terminal, PATH=/usr/bin:/bin
set -eu
cd "$(dirname "$0")"
if [ -t 0 ] || [ -t 1 ]; then echo "unexpected terminal" >&2; exit 3; fi
tar --sort=name --mtime=2020-01-01T00:00:00Z --owner=0 --group=0 --numeric-owner -cf backups/data.tar data
echo "backup ok $(wc -c <backups/data.tar) bytes as ${LOGNAME:-?}" >>log/backup.log
SH
  chmod 755 backup.sh
}
same cron setup "$W" -- "$W/backup.sh"
check "log written" grep -qx "backup ok [0-9]* bytes as backup" "$W/log/backup.log"
narrowed cron "s|\"$W/log\", ||; s|, \"$W/log\"||; s|\"$W/log/backup.log\", ||; s|, \"$W/log/backup.log\"||" \
  "backup.log.*Permission denied|Permission denied.*backup.log" setup "$W" -- "$W/backup.sh"
finish
