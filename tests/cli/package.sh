#!/usr/bin/env bash
# Packaging: `cmake --install` puts the binary, man pages and completions at
# the standard paths, and the DEB built from that tree installs into a
# scratch root with the right dependencies and a gx that runs.
#
# The shared build directory is only read (cmake --install writes its
# install_manifest.txt there, nothing else): the DEB is made by cpack from
# the installed tree, so cpack never runs the build's "preinstall" target,
# which would rebuild everything.
source "$(dirname "$0")/lib/common.bash"
: "${GX_BUILD:?GX_BUILD must point at the build directory}" "${GX_SRC:?GX_SRC must point at the source tree}"
ROOT=$T/root
version=$("$GX" --version)

# --- cmake --install ---
expect_rc 0 "cmake --install" cmake --install "$GX_BUILD" --prefix "$ROOT/usr" --strip
usr=$ROOT/usr
check "bin/gx is installed" test -x "$usr/bin/gx"
check "installed gx runs" test "$("$usr/bin/gx" --version)" = "$version"
for page in "$GX_SRC"/man/*.1; do
  check "man1/$(basename "$page") installed" cmp -s "$page" "$usr/share/man/man1/$(basename "$page")"
done
for page in "$GX_SRC"/man/*.5; do
  check "man5/$(basename "$page") installed" cmp -s "$page" "$usr/share/man/man5/$(basename "$page")"
done
check "gx.1 installed" test -f "$usr/share/man/man1/gx.1"
check "gx-artifact.5 installed" test -f "$usr/share/man/man5/gx-artifact.5"
check "bash completion installed" cmp -s "$GX_SRC/completions/gx.bash" "$usr/share/bash-completion/completions/gx"
check "zsh completion installed" cmp -s "$GX_SRC/completions/_gx" "$usr/share/zsh/vendor-completions/_gx"
check "fish completion installed" cmp -s "$GX_SRC/completions/gx.fish" "$usr/share/fish/vendor_completions.d/gx.fish"
for unit in gx-broker.socket gx-broker.service; do
  check "systemd unit $unit installed" cmp -s "$GX_SRC/packaging/systemd/$unit" "$usr/lib/systemd/system/$unit"
done
if command -v systemd-analyze >/dev/null; then
  # The units parse (unknown keys, bad values); ExecStart's path is the installed one.
  run systemd-analyze verify --man=no "$GX_SRC/packaging/systemd/gx-broker.socket" "$GX_SRC/packaging/systemd/gx-broker.service"
  if ! grep -Eiq "unknown|invalid|failed to parse" "$T/err"; then ok; else bad "systemd-analyze verify: $(head -c 600 "$T/err")"; fi
fi
if command -v man >/dev/null; then
  check "man finds the installed page" bash -c "MANPATH='$usr/share/man' man -w gx-run | grep -q man1/gx-run.1"
fi

# --- DEB ---
run cpack --config "$GX_BUILD/CPackConfig.cmake" -G DEB -B "$T/pkg" \
  -D CPACK_INSTALL_CMAKE_PROJECTS= -D "CPACK_INSTALLED_DIRECTORIES=$ROOT;."
if [ "$RC" = 0 ]; then ok; else bad "cpack -G DEB: exit $RC: $(tail -c 600 "$T/out") $(tail -c 600 "$T/err")"; fi
deb=$(ls "$T"/pkg/*.deb 2>/dev/null | head -1)
check "a .deb was built" test -f "$deb"
if [ -f "$deb" ]; then
  dpkg-deb -c "$deb" >"$T/contents"
  for f in ./usr/bin/gx ./usr/share/man/man1/gx.1 ./usr/share/man/man1/gx-run.1 ./usr/share/man/man5/gx-artifact.5 \
           ./usr/share/bash-completion/completions/gx ./usr/share/zsh/vendor-completions/_gx \
           ./usr/share/fish/vendor_completions.d/gx.fish \
           ./usr/lib/systemd/system/gx-broker.socket ./usr/lib/systemd/system/gx-broker.service; do
    if awk '{print $NF}' "$T/contents" | grep -qxF -- "$f"; then ok; else bad "the .deb lacks $f"; fi
  done
  check "package name" test "$(dpkg-deb -f "$deb" Package)" = gx
  check "package version" test "$(dpkg-deb -f "$deb" Version)" = "${version#gx }"
  depends=$(dpkg-deb -f "$deb" Depends)
  # Every shared library gx links must come from a declared dependency
  # (with GX_STATIC_DEPS, the default, only libc is still shared).
  if grep -q libc6 <<<"$depends"; then ok; else bad "Depends lacks libc6: $depends"; fi
  for pair in libmbedcrypto:libmbedcrypto libseccomp:libseccomp libsqlite3:libsqlite3 libstdc++:libstdc++ \
              libtomlplusplus:libtomlplusplus; do
    # Direct dependencies only (ldd also lists a sanitizer runtime's own).
    if readelf -d "$GX" | grep NEEDED | grep -q "${pair%%:*}"; then
      if grep -q "${pair#*:}" <<<"$depends"; then ok; else bad "Depends lacks ${pair#*:}: $depends"; fi
    fi
  done

  # Install into a scratch root with its own dpkg database (dependencies are
  # the host's, so they are not in that database: --force-depends).
  mkdir -p "$T/inst" "$T/admin/info" "$T/admin/updates"
  : >"$T/admin/status"
  run dpkg --root="$T/inst" --admindir="$T/admin" --force-depends --force-not-root --force-script-chrootless -i "$deb"
  if [ "$RC" = 0 ]; then
    ok
    check "dpkg records the package" bash -c "dpkg --admindir='$T/admin' -s gx | grep -q '^Status: install ok installed'"
  else
    # dpkg could not install into a scratch root here: extracting is the fallback.
    echo "note: dpkg --root failed ($RC), extracting instead: $(head -c 300 "$T/err")" >&2
    expect_rc 0 "dpkg -x" dpkg -x "$deb" "$T/inst"
  fi
  check "gx from the .deb runs" test "$("$T/inst/usr/bin/gx" --version)" = "$version"
  check "man page from the .deb lints" test -z "$(mandoc -Tlint -W warning "$T/inst/usr/share/man/man1/gx.1" 2>&1)"
fi

finish
