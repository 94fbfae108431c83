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

ATTACK='import ctypes, os, sys
key, state, trust = sys.argv[1:4]
libc = ctypes.CDLL(None, use_errno=True)
def fchmodat2(path, mode):  # Linux 6.6; glibc may not wrap it
    if libc.syscall(452, -100, path.encode(), mode, 0) != 0:
        e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
for what, f in [("chmod key", lambda: os.chmod(key, 0o644)), ("chmod state", lambda: os.chmod(state, 0o777)),
                 ("chown trust", lambda: os.chown(trust, 65534, 65534)),
                 ("xattr key", lambda: os.setxattr(key, "user.gx", b"1")),
                 ("fchmodat2 key", lambda: fchmodat2(key, 0o644))]:
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
check "fchmodat2 of the receipt key refused" grep -qx "fchmodat2 key 1" "$T/out"
check "the receipt key is still 600 ($(key_mode))" test "$(key_mode)" = 600
check "the state directory is still 700" test "$(stat -c %a "$S")" = 700
check "the trust store's owner is unchanged" test "$(stat -c %u "$TR")" = "$(id -u)"
check "no xattr on the receipt key" bash -c "! getfattr -n user.gx '$S/receipt.key' 2>/dev/null | grep -q gx"

# With chmod allowed (the permissions group), no setuid or setgid program.
cp /bin/true "$W/prog"
SETID='import ctypes, os, struct, sys
w = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
def openat2(path, flags, mode):  # struct open_how {flags, mode, resolve}: the mode is in memory
    how = ctypes.create_string_buffer(struct.pack("QQQ", flags, mode, 0))
    fd = libc.syscall(437, -100, path.encode(), how, 24)
    if fd < 0:
        e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
for what, f in [("setuid chmod", lambda: os.chmod(w + "/prog", 0o4755)),
                ("setuid openat2", lambda: openat2(w + "/made2", os.O_WRONLY | os.O_CREAT, 0o6755)),
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
check "openat2 answers ENOSYS (its mode is out of seccomp's sight)" grep -qx "setuid openat2 38" "$T/out"
check "openat2 created nothing" test ! -e "$W/made2"
check "control: a plain chmod works with the permissions group" grep -qx "plain chmod ok" "$T/out"
check "the program carries no set-id bit ($(stat -c %a "$W/prog"))" test "$(stat -c %a "$W/prog")" = 700

# A root child (no [run]) has no CAP_SETFCAP or CAP_FSETID: no file capabilities,
# and a setuid file it rewrites loses its bit.
if [ "$(id -u)" = 0 ]; then
  cp /bin/true "$W/suid" && chmod 4755 "$W/suid"
  CAPS='import ctypes, os, struct, sys
w = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
hdr = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0))
data = ctypes.create_string_buffer(24)
assert libc.syscall(125, hdr, data) == 0  # capget
e0, p0, i0, e1, p1, i1 = struct.unpack("6I", data.raw)
sets = {"CapEff": e0 | e1 << 32, "CapPrm": p0 | p1 << 32, "CapInh": i0 | i1 << 32,
        "CapBnd": [libc.prctl(23, c, 0, 0, 0) for c in range(41)],     # PR_CAPBSET_READ
        "CapAmb": [libc.prctl(47, 1, c, 0, 0) for c in range(41)]}     # PR_CAP_AMBIENT_IS_SET
for name, v in sets.items():
    if isinstance(v, list):
        if -1 in v:
            print(name, "unreadable"); continue
        v = sum(1 << c for c, on in enumerate(v) if on == 1)
    print(name, "setfcap" if v >> 31 & 1 else "-", "fsetid" if v >> 4 & 1 else "-", "setuid" if v >> 7 & 1 else "-")
try:
    os.setxattr(w + "/prog", "security.capability", bytes.fromhex("0100000280000000000000000000000000000000")); print("fcap ok")
except OSError as e:
    print("fcap", e.errno)
with open(w + "/suid", "r+b") as f:
    f.write(b"\x7f")
print("suid mode", oct(os.stat(w + "/suid").st_mode & 0o7777))'
  art_edit caps 's/^groups = .*/groups = ["default", "filesystem", "permissions", "process"]/' --write "$W" -- "$PY" -c "$CAPS" "$W"
  run R "$T/caps.toml" -- "$PY" -c "$CAPS" "$W"
  check "the root child ran ($(tr '\n' ';' <"$T/out"; head -c 200 "$T/err"))" grep -q "^CapEff" "$T/out"
  for set in CapEff CapBnd CapPrm CapInh CapAmb; do
    check "$set: no CAP_SETFCAP, no CAP_FSETID" grep -q "^$set - - " "$T/out"
  done
  check "control: the root child keeps its other capabilities (CAP_SETUID)" grep -q "^CapEff - - setuid" "$T/out"
  check "control: and CAP_SETUID stays in its bounding set" grep -q "^CapBnd - - setuid" "$T/out"
  check "setting a file capability is refused" grep -qx "fcap 1" "$T/out"
  check "no file capability on the program" bash -c "! getcap '$W/prog' 2>/dev/null | grep -q cap_"
  check "the rewritten setuid file lost its bit" grep -qx "suid mode 0o755" "$T/out"
else
  echo "skip: the root child's capabilities need root"
fi
finish
