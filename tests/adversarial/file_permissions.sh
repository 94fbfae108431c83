# Attack: a child with the common `filesystem` group chmods, chowns and sets xattrs on gx's receipt key, state directory and trust store (Landlock has no right for these), and with chmod allowed plants a setuid program.
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: needs python3"; finish; }
# The state directory and its receipt key exist after a first run.
art first -- /bin/true
run R "$T/first.toml" -- /bin/true
check "state made" test -f "$S/receipt.key"
key_mode() { stat -c %a "$S/receipt.key"; }
check "receipt key is 600 to start with" test "$(key_mode)" = 600

ATTACK='import os, sys
key, state, trust = sys.argv[1:4]
for what, f in [("chmod key", lambda: os.chmod(key, 0o644)), ("chmod state", lambda: os.chmod(state, 0o777)),
                 ("chown trust", lambda: os.chown(trust, 65534, 65534)),
                 ("xattr key", lambda: os.setxattr(key, "user.gx", b"1")),
                 ("utime key", lambda: os.utime(key, (0, 0)))]:
    try:
        f(); print(what, "ok")
    except OSError as e:
        print(what, e.errno)'
art_edit meta 's/^groups = .*/groups = ["default", "filesystem"]/' --write "$W" -- "$PY" -c "$ATTACK" "$S/receipt.key" "$S" "$TR"
run R "$T/meta.toml" -- "$PY" -c "$ATTACK" "$S/receipt.key" "$S" "$TR"
check "the child ran ($(head -c 300 "$T/err"))" grep -q "chmod key" "$T/out"
check "chmod of the receipt key refused ($(grep 'chmod key' "$T/out"))" grep -qx "chmod key 1" "$T/out"
check "chmod of the state directory refused" grep -qx "chmod state 1" "$T/out"
check "chown of the trust store refused" grep -qx "chown trust 1" "$T/out"
check "xattr on the receipt key refused" grep -qx "xattr key 1" "$T/out"
check "the receipt key is still 600 ($(key_mode))" test "$(key_mode)" = 600
check "the state directory is still 700" test "$(stat -c %a "$S")" = 700
check "the trust store's owner is unchanged" test "$(stat -c %u "$TR")" = "$(id -u)"
check "no xattr on the receipt key" bash -c "! getfattr -n user.gx '$S/receipt.key' 2>/dev/null | grep -q gx"

# With chmod allowed (the permissions group), no setuid or setgid program.
cp /bin/true "$W/prog"
SETID='import os, sys
w = sys.argv[1]
for what, f in [("setuid chmod", lambda: os.chmod(w + "/prog", 0o4755)),
                ("setgid chmod", lambda: os.chmod(w + "/prog", 0o2755)),
                ("setuid create", lambda: os.open(w + "/made", os.O_WRONLY | os.O_CREAT, 0o4755)),
                ("plain chmod", lambda: os.chmod(w + "/prog", 0o700))]:
    try:
        f(); print(what, "ok")
    except OSError as e:
        print(what, e.errno)'
art_edit setid 's/^groups = .*/groups = ["default", "filesystem", "permissions"]/' --write "$W" -- "$PY" -c "$SETID" "$W"
run R "$T/setid.toml" -- "$PY" -c "$SETID" "$W"
check "setuid chmod refused ($(tr '\n' ';' <"$T/out"))" grep -qx "setuid chmod 1" "$T/out"
check "setgid chmod refused" grep -qx "setgid chmod 1" "$T/out"
check "setuid creation refused" grep -qx "setuid create 1" "$T/out"
check "no file was created" test ! -e "$W/made"
check "control: a plain chmod works with the permissions group" grep -qx "plain chmod ok" "$T/out"
check "the program carries no set-id bit ($(stat -c %a "$W/prog"))" test "$(stat -c %a "$W/prog")" = 700
finish
