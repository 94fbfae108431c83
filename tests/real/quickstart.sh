#!/usr/bin/env bash
# The quickstart as an unprivileged user with XDG paths (keygen -> trust ->
# init -> sign -> run -> log), gx's default paths, nothing passed explicitly.
# As root it runs as nobody (setpriv) over a world-readable scratch directory.
source "$(dirname "$0")/lib/corpus.bash"
D=$(mktemp -d /tmp/gx-quick.XXXXXX)
trap 'rm -rf "$T" "$D"' EXIT
chmod 755 "$D"
cp "$GX" "$D/gx"
chmod 755 "$D/gx"
mkdir -p "$D/home/work"
echo "quarterly numbers" >"$D/home/work/report.txt"
if [ "$(id -u)" = 0 ]; then
  command -v setpriv >/dev/null || { echo "SKIP: as root, setpriv is needed to become an unprivileged user"; exit 0; }
  chown -R 65534:65534 "$D/home"
  AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
  AS=()
fi
u() {  # u CMD...: as the unprivileged user, in ~/work, with XDG paths
  (cd "$D/home/work" && "${AS[@]}" env -i PATH=/usr/bin:/bin HOME="$D/home" XDG_CONFIG_HOME="$D/home/.config" \
    XDG_STATE_HOME="$D/home/.local/state" "$@" </dev/null)
}
run u id -u
check "runs unprivileged ($(cat "$T/out"))" test "$(cat "$T/out")" != 0
expect_rc 0 "keygen" u "$D/gx" keygen -o "$D/home/alice"
expect_rc 0 "trust add (XDG trust store)" u "$D/gx" trust add "$D/home/alice.pub" --name alice
check "trust store under XDG_CONFIG_HOME" test -s "$D/home/.config/gx/trust.toml"
expect_rc 0 "init" u "$D/gx" init -o job.toml --max-uses 1 --read "$D/home" -- /usr/bin/sha256sum report.txt
expect_rc 0 "sign" u "$D/gx" sign -k "$D/home/alice.key" job.toml
expect_rc 0 "verify" u "$D/gx" verify job.toml
expect_rc 0 "run (reading the whole home, which holds gx's state)" u "$D/gx" run job.toml -- /usr/bin/sha256sum report.txt
check "same output as bare" test "$(cat "$T/out")" = "$(cd "$D/home/work" && sha256sum report.txt)"
check "state under XDG_STATE_HOME" test -s "$D/home/.local/state/gx/receipts.log"
# The same home grant cannot reach the receipt key or the trust store.
u "$D/gx" init -o peek.toml --read "$D/home" -- /bin/sh -c 'for f; do (read -r l <"$f") && echo "read $f"; done; exit 1' sh \
  "$D/home/.local/state/gx/receipt.key" "$D/home/.config/gx/trust.toml" >/dev/null 2>&1
u "$D/gx" sign -k "$D/home/alice.key" peek.toml >/dev/null 2>&1
run u "$D/gx" run peek.toml -- /bin/sh -c 'for f; do (read -r l <"$f") && echo "read $f"; done; exit 1' sh \
  "$D/home/.local/state/gx/receipt.key" "$D/home/.config/gx/trust.toml"
check "receipt key and trust store unreadable under a home grant (exit $RC)" test "$RC" != 0 -a ! -s "$T/out"
check "...Permission denied ($(head -c 200 "$T/err"))" grep -q "receipt.key: Permission denied" "$T/err"
check "...for the trust store too" grep -q "trust.toml: Permission denied" "$T/err"
expect_rc 0 "log show" u "$D/gx" log show
check "log shows the finished run" grep -q "finished" "$T/out"
expect_rc 0 "log verify" u "$D/gx" log verify
expect_denied replay "a second run of a one-use artifact" u "$D/gx" run job.toml -- /usr/bin/sha256sum report.txt
finish
