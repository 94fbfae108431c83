#!/usr/bin/env bash
# hermetic.sh CMD...: runs one test with private gx defaults, never the machine's.
#
# As root gx's defaults are /etc/gx and /var/lib/gx whatever XDG says, so a test
# that forgets --trust/--state (or a unit test that calls gx with defaults)
# would read and write the machine's real state. Every ctest (unit.*, cli.*,
# adversarial.*, real.*) runs through this wrapper:
#
# - root: CMD runs in a private mount namespace (propagation private: nothing
#   mounted here is seen outside) where /etc/gx and /var/lib/gx are empty
#   tmpfs. Where one of them does not exist on the machine, creating it would
#   itself write to the machine, so its parent (/etc, /var/lib) is overlaid
#   inside the namespace with a tmpfs upper layer: the directory is created in
#   that layer only, everything else reads through unchanged, and mounts that
#   were under the parent are bound back on top. If any step fails the test
#   does not run (exit 125): no isolation, no test.
# - not root: the defaults are $XDG_CONFIG_HOME/gx and $XDG_STATE_HOME/gx;
#   both point into a scratch directory removed afterwards.
#
# tests/cli/hermetic.sh proves it: gx with default paths as root writes only
# inside the namespace; the real /etc/gx and /var/lib/gx stay as they were.
set -uo pipefail

die() {
  echo "hermetic.sh: $*; refusing to run the test against the machine's real gx state" >&2
  exit 125
}

[ $# -ge 1 ] || die "usage: hermetic.sh CMD..."

if [ "$(id -u)" != 0 ]; then
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/gx-hermetic.XXXXXX") || die "mktemp failed"
  trap 'rm -rf "$scratch"' EXIT
  export XDG_CONFIG_HOME=$scratch/config XDG_STATE_HOME=$scratch/state
  "$@"
  exit $?
fi

if [ "${1:-}" = --inside ]; then
  shift
  scratch=$1
  shift
  # A tmpfs for the overlays' upper layers and the bound-back submounts.
  mount -t tmpfs -o mode=0700 gx-hermetic "$scratch" || die "cannot mount a tmpfs on $scratch"

  # Overlays PARENT so that NAME can be created in it without touching the disk.
  overlay_parent() {
    local parent=$1 tag=$2 m rel
    mkdir -p "$scratch/$tag/upper" "$scratch/$tag/work" "$scratch/$tag/orig" || return 1
    # Mounts under PARENT (e.g. a container's /etc/hosts) are hidden by the
    # overlay; keep them reachable through an rbind, to bind them back.
    mount --rbind "$parent" "$scratch/$tag/orig" || return 1
    mount -t overlay gx-hermetic -o "lowerdir=$parent,upperdir=$scratch/$tag/upper,workdir=$scratch/$tag/work" \
      "$parent" || return 1
    # mountinfo field 5 is the mount point (octal escapes for spaces and the like).
    while read -r m; do
      m=$(printf '%b' "$m")
      rel=${m#"$parent"/}
      [ "$rel" != "$m" ] || continue
      mount --rbind "$scratch/$tag/orig/$rel" "$m" 2>/dev/null || true
    done < <(awk '{print $5}' /proc/self/mountinfo | sort -u)
  }

  for dir in /etc/gx /var/lib/gx; do
    parent=${dir%/*}
    if [ -d "$dir" ] && [ ! -L "$dir" ]; then
      :
    elif [ -e "$dir" ] || [ -L "$dir" ]; then
      overlay_parent "$parent" "${parent//\//_}" || die "cannot overlay $parent"
      rm -rf "$dir" && mkdir "$dir" || die "cannot replace $dir in the overlay"
    else
      overlay_parent "$parent" "${parent//\//_}" || die "cannot overlay $parent"
      mkdir "$dir" || die "cannot create $dir in the overlay"
    fi
    mount -t tmpfs -o mode=0755 gx-hermetic "$dir" || die "cannot mount a tmpfs on $dir"
    [ "$(stat -f -c %T "$dir")" = tmpfs ] && [ -z "$(ls -A "$dir")" ] || die "$dir is not a private empty tmpfs"
  done
  export GX_HERMETIC=1
  exec "$@"
fi

command -v unshare >/dev/null || die "unshare (util-linux) not found"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/gx-hermetic.XXXXXX") || die "mktemp failed"
unshare --mount --propagation private -- bash "$0" --inside "$scratch" "$@"
rc=$?
rmdir "$scratch" 2>/dev/null
exit $rc
