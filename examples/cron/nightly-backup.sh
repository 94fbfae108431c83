#!/bin/bash
# nightly-backup.sh SRC DEST: archive SRC into DEST/backup-YYYYMMDD.tar.
#
# Meant to run under `gx run` (see crontab and make-artifact.sh): the
# artifact pins this file's SHA-256 and the /bin/bash that runs it, lets the
# job read SRC, write DEST and execute tar, and nothing else. Bash builtins
# only apart from tar, so the sandbox needs no other executable.
set -euo pipefail
src=${1:?usage: nightly-backup.sh SRC DEST}
dest=${2:?usage: nightly-backup.sh SRC DEST}
printf -v stamp '%(%Y%m%d)T' -1
out="$dest/backup-$stamp.tar"
# Plain tar, no -z: compression would need gzip in the sandbox too.
tar -C "$src" -cf "$out" .
echo "nightly-backup: wrote $out"
