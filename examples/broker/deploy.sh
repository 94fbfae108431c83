#!/bin/sh
# deploy.sh: publish the current release into the web root as the web server's
# user, through the gx broker instead of a sudoers rule (README.md).
#   GX_BROKER  the broker's socket (default /run/gx/broker.sock)
#   APPROVAL   the signed artifact (default /etc/gx/approvals/publish.toml)
#   SRC, DEST  must be exactly what the artifact names
set -eu
GX_BROKER=${GX_BROKER:-/run/gx/broker.sock}
APPROVAL=${APPROVAL:-/etc/gx/approvals/publish.toml}
SRC=${SRC:-/srv/releases/current}
DEST=${DEST:-/var/www/app}
export GX_BROKER
# The artifact was made in /: the working directory is part of what is approved.
cd /
if gx run "$APPROVAL" -- /bin/cp -r -T "$SRC" "$DEST"; then
  echo "deploy.sh: published $SRC to $DEST"
else
  status=$?
  echo "deploy.sh: the broker did not publish (status $status); nothing was run without approval" >&2
  exit "$status"
fi
