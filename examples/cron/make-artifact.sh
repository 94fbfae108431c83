#!/usr/bin/env bash
# make-artifact.sh [NIGHTS]: make (and sign) the artifact that lets the
# crontab's nightly backup run on the next NIGHTS nights (default 7).
#
# The artifact expires on its own: its window opens a little before the
# first scheduled run and closes an hour after the last one, and it allows
# exactly NIGHTS uses. Re-run this script to renew it (it replaces GX_ART).
#
# Run it as the user whose crontab runs the job: the artifact is bound to
# that uid and this host. Same variables as the crontab (same defaults):
#   GX_ART       artifact to write        (/etc/gx/artifacts/nightly-backup.toml)
#   GX_TRUST     trust store, to check the result (/etc/gx/trust.toml)
#   GX_KEY       signing key; unset: write the unsigned artifact for review
#   BACKUP_JOB   the job script           (/usr/local/sbin/nightly-backup.sh)
#   BACKUP_SRC   directory to back up     (/srv/data)
#   BACKUP_DEST  directory for the tars   (/var/backups/data)
#   RUN_AT       the crontab's HH:MM, cron's local time (02:00)
#   GX           the gx binary            (gx)
set -euo pipefail

nights=${1:-7}
GX=${GX:-gx}
GX_ART=${GX_ART:-/etc/gx/artifacts/nightly-backup.toml}
GX_TRUST=${GX_TRUST:-/etc/gx/trust.toml}
BACKUP_JOB=${BACKUP_JOB:-/usr/local/sbin/nightly-backup.sh}
BACKUP_SRC=${BACKUP_SRC:-/srv/data}
BACKUP_DEST=${BACKUP_DEST:-/var/backups/data}
RUN_AT=${RUN_AT:-02:00}

die() { echo "make-artifact: $*" >&2; exit 1; }
[[ $nights =~ ^[1-9][0-9]{0,2}$ ]] || die "NIGHTS must be a number from 1 to 999, not '$nights'"
[[ $RUN_AT =~ ^[0-2][0-9]:[0-5][0-9]$ ]] || die "RUN_AT must be HH:MM, not '$RUN_AT'"
[ -x "$BACKUP_JOB" ] || die "no executable job at $BACKUP_JOB"
[ -d "$BACKUP_SRC" ] || die "no source directory $BACKUP_SRC"
[ -d "$BACKUP_DEST" ] || die "no destination directory $BACKUP_DEST"
tar=$(readlink -f "$(command -v tar)") || die "tar not found"

# The first run is the next RUN_AT (local time, as cron reads it); the last is
# NIGHTS-1 calendar days later (calendar arithmetic keeps RUN_AT across DST).
now=$(date +%s)
first=$(date -d "today $RUN_AT" +%s)
[ "$first" -gt "$now" ] || first=$(date -d "tomorrow $RUN_AT" +%s)
last_day=$(date -d "$(date -d "@$first" +%F) + $((nights - 1)) days" +%F)
last=$(date -d "$last_day $RUN_AT" +%s)
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
not_before=$(utc $((first - 600)))  # cron may fire a little early on a skewed clock
not_after=$(utc $((last + 3600)))   # ... or late on a busy host

tmp="$GX_ART.new"
rm -f "$tmp"
# cron starts the job in "/" (the crontab line does `cd /`): make the
# artifact there, since it binds the working directory.
cd /
"$GX" init -o "$tmp" \
  --not-before "$not_before" --not-after "$not_after" --max-uses "$nights" \
  --read "$BACKUP_SRC" --write "$BACKUP_DEST" --exec "$tar" --group filesystem \
  --reason "nightly backup of $BACKUP_SRC, $nights night(s) from $(date -d "@$first" '+%F %H:%M %Z')" \
  -- "$BACKUP_JOB" "$BACKUP_SRC" "$BACKUP_DEST"

if [ -z "${GX_KEY:-}" ]; then
  echo "make-artifact: wrote the unsigned $tmp; review it, then:" >&2
  echo "  gx sign -k KEY $tmp && mv $tmp $GX_ART" >&2
  exit 0
fi
"$GX" sign -k "$GX_KEY" "$tmp"
# Check it against the trust store before it replaces the old one. A window
# that opens tonight is "not-yet-valid" now, which gx verify reports only
# after signatures, trust and parsing passed; `gx verify` has no --at TIME.
if ! verdict=$("$GX" verify --json --trust "$GX_TRUST" "$tmp"); then
  grep -q '"reason": "not-yet-valid"' <<<"$verdict" || { echo "$verdict" >&2; die "$tmp does not verify; kept $GX_ART"; }
fi
mv -f "$tmp" "$GX_ART"
echo "make-artifact: $GX_ART allows $nights run(s) between $not_before and $not_after" >&2
