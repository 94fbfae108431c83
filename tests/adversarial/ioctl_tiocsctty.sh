# Attack: the child (in its own session) steals the caller's terminal with ioctl(0, TIOCSCTTY, 1).
source "$(dirname "$0")/../cli/lib/common.bash"
source "$(dirname "$0")/../cli/lib/run_env.bash"
if ! script -qec true /dev/null >/dev/null 2>&1; then
  echo "skip: script(1) cannot allocate a pty here"
  finish
fi
art sctty -- "$H/try_ioctl" TIOCSCTTY -
script -qec "$GX run --trust $TR --state $S $T/sctty.toml -- $H/try_ioctl TIOCSCTTY -" /dev/null </dev/null >"$T/pty.out" 2>&1
check "TIOCSCTTY refused on a pty ($(tr -d '\r' <"$T/pty.out" | head -c 200))" grep -q '^EPERM' <(tr -d '\r' <"$T/pty.out")
refute "the child never became the terminal's owner" grep -q '^ok' <(tr -d '\r' <"$T/pty.out")
# control: a new session outside gx gets the terminal (root forces it)
if [ "$(id -u)" = 0 ]; then
  script -qec "setsid -w $H/try_ioctl TIOCSCTTY -" /dev/null </dev/null >"$T/ctl.out" 2>&1
  check "control: TIOCSCTTY outside gx succeeds ($(tr -d '\r' <"$T/ctl.out"))" grep -q '^ok' <(tr -d '\r' <"$T/ctl.out")
fi
# the default ioctl set still serves terminals: tcgetattr works on the pty
art tcgets -- "$H/try_ioctl" TCGETS -
script -qec "$GX run --trust $TR --state $S $T/tcgets.toml -- $H/try_ioctl TCGETS -" /dev/null </dev/null >"$T/pty.out" 2>&1
check "control: TCGETS allowed by default ($(tr -d '\r' <"$T/pty.out" | head -c 200))" grep -q '^ok' <(tr -d '\r' <"$T/pty.out")
finish
