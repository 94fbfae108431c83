#!/usr/bin/env bash
# deploy.sh: stage a release, then make it live. Making it live (pointing the
# "current" symlink at the new release) is the dangerous step: it runs only
# through `gx run`, with an artifact an approver signed for exactly that
# command. Everything else (unpacking, checking) is ordinary shell.
#
#   deploy.sh request VERSION         write the unsigned artifact for the switch
#                                     to VERSION, for an approver to review and sign
#   deploy.sh deploy VERSION TARBALL  stage VERSION from TARBALL and switch to it
#
# Layout: $APP_ROOT/releases/VERSION/ and $APP_ROOT/current -> releases/VERSION.
# Environment (defaults):
#   APP_ROOT   (/srv/app)            the application tree
#   APPROVALS  (/etc/gx/approvals)   where switch-VERSION.toml artifacts live;
#                                    keep it outside APP_ROOT
#   GX_TRUST   (/etc/gx/trust.toml)  trust store     GX_STATE (/var/lib/gx)
#   GX         (gx)                  the gx binary   TICKET   change reference
set -euo pipefail

APP_ROOT=${APP_ROOT:-/srv/app}
APPROVALS=${APPROVALS:-/etc/gx/approvals}
GX=${GX:-gx}
GX_TRUST=${GX_TRUST:-/etc/gx/trust.toml}
GX_STATE=${GX_STATE:-/var/lib/gx}

say() { echo "deploy: $*" >&2; }
die() { say "$*"; exit 1; }
# fail RC MESSAGE: stop with gx's exit code (126 denied, 125 could not run).
fail() { local rc=$1; shift; say "$*"; exit "$rc"; }
usage() { sed -n '8,11p' "$0" >&2; exit 2; }

[ $# -ge 2 ] || usage
action=$1 version=$2
[[ $version =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "bad version '$version' (letters, digits, . _ -)"
[ -d "$APP_ROOT/releases" ] || die "no $APP_ROOT/releases"
[ "$action" != deploy ] || [ -z "${3:-}" ] || tarball=$(realpath -m -- "$3")  # before the cd
cd "$APP_ROOT"  # the switch runs here: the artifact binds this directory
APP_ROOT=$(pwd -P)
artifact="$APPROVALS/switch-$version.toml"
# The exact command the approver signs and gx matches, argv[0] included.
switch=("$(readlink -f "$(command -v ln)")" -sfn "releases/$version" current)

governed() { "$GX" run --trust "$GX_TRUST" --state "$GX_STATE" "$@" "$artifact" -- "${switch[@]}"; }

case $action in
request)
  mkdir -p "$APPROVALS"
  # ln needs symlink/rename syscalls (the "filesystem" group) and write
  # access to $APP_ROOT.
  "$GX" init -o "$artifact" --force --write "$APP_ROOT" --group filesystem --ttl 1d \
    --reason "make $version live in $APP_ROOT" --ticket "${TICKET:-}" -- "${switch[@]}"
  say "approver: review $artifact, then: gx sign -k KEY $artifact"
  ;;
deploy)
  [ $# -eq 3 ] || usage
  [ -f "${tarball:-}" ] || die "no tarball $3"
  old=$(readlink current 2>/dev/null || echo none)
  [ "$old" != "releases/$version" ] || die "$version is already live"

  # 1. Preflight (safe): would gx allow the switch? Stop before touching
  #    anything if not. `--dry-run` consumes no use and runs nothing.
  rc=0
  out=$(governed --dry-run 2>&1 >/dev/null) || rc=$?
  if [ "$rc" -ne 0 ]; then
    grep '^gx: ' <<<"$out" >&2 || true
    fail "$rc" "the switch to $version is not approved; nothing was changed (live: $old). Ask an approver to sign $artifact"
  fi

  # 2. Stage (safe): unpack next to the live release, never over it.
  if [ ! -d "releases/$version" ]; then
    staging="releases/.staging-$version"
    rm -rf "$staging"
    mkdir "$staging"
    tar -xf "$tarball" -C "$staging" || { rm -rf "$staging"; die "cannot unpack $tarball; nothing live changed"; }
    mv "$staging" "releases/$version"
  fi

  # 3. Check (safe): the release must carry its version file.
  [ "$(cat "releases/$version/VERSION" 2>/dev/null)" = "$version" ] ||
    die "releases/$version/VERSION does not say $version; live release unchanged ($old)"

  # 4. Switch (dangerous): only through gx. A denial here (used up, expired,
  #    revoked since the preflight) leaves the live symlink as it was.
  rc=0
  governed || rc=$?
  [ "$rc" -eq 0 ] || fail "$rc" "switch to $version refused or failed (exit $rc); live release unchanged ($old)"
  say "$version is live (was $old); receipt: $GX log show --state $GX_STATE --tail 2"
  ;;
*) usage ;;
esac
