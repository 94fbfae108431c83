#!/usr/bin/env bash
# Real programs under the default syscall group and the default ioctl set:
# the ioctl allowlist, the AF_UNIX opt-in and the pid checks must not break
# ls, sh -c, python3, git status, a terminal program on a pty, nor what
# shells and interpreters do to themselves (kill -TERM $$, job control,
# rlimits, nice). Programs missing on the machine are skipped with a note.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/run_env.bash"
PY=/usr/bin/python3
# R_OK DESC ART -- CMD...: gx run succeeds (exit 0)
r_ok() {
  local desc=$1 a=$2
  shift 3
  run R "$T/$a.toml" -- "$@"
  if [ "$RC" = 0 ]; then ok; else bad "$desc: exit $RC; out: $(head -c 200 "$T/out"); err: $(head -c 300 "$T/err")"; fi
}
have() { command -v "$1" >/dev/null 2>&1 || { echo "skip: $1 not installed"; return 1; }; }

art ls --read "$T/work" -- /usr/bin/ls -la "$T/work"
r_ok "ls -la" ls -- /usr/bin/ls -la "$T/work"
art sh --exec /usr/bin -- /bin/sh -c 'echo a | cat; trap "echo trapped" TERM; kill -TERM $$; echo after'
r_ok "sh -c with a pipe and kill -TERM \$\$" sh -- /bin/sh -c 'echo a | cat; trap "echo trapped" TERM; kill -TERM $$; echo after'
check "sh trapped its own signal" grep -q trapped "$T/out"
if have bash; then
  art bash --exec /usr/bin -- /usr/bin/bash -c 'sleep 5 & kill %1; wait; ulimit -n 64; ulimit -n; nice -n 3 true; echo done'
  r_ok "bash: background job, kill %1, ulimit, nice" bash -- /usr/bin/bash -c 'sleep 5 & kill %1; wait; ulimit -n 64; ulimit -n; nice -n 3 true; echo done'
  check "bash reached the end" grep -q done "$T/out"
fi
if [ -x "$PY" ]; then
  art py --exec /usr/bin/sleep -- "$PY" -c 'import os, signal, resource, subprocess, sys
signal.signal(signal.SIGUSR1, lambda *a: print("usr1"))
os.kill(os.getpid(), signal.SIGUSR1)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
os.set_inheritable(1, True); os.nice(1); os.sched_getaffinity(0)
p = subprocess.Popen(["/usr/bin/sleep", "5"]); p.terminate(); p.wait()
print("py ok", sys.stdout.isatty())'
  r_ok "python3: signals, rlimits, inheritable fds, nice, affinity, subprocess" py -- "$PY" -c 'import os, signal, resource, subprocess, sys
signal.signal(signal.SIGUSR1, lambda *a: print("usr1"))
os.kill(os.getpid(), signal.SIGUSR1)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
os.set_inheritable(1, True); os.nice(1); os.sched_getaffinity(0)
p = subprocess.Popen(["/usr/bin/sleep", "5"]); p.terminate(); p.wait()
print("py ok", sys.stdout.isatty())'
  check "python3 ran to the end" grep -q "py ok" "$T/out"
fi
if have git; then
  git init -q "$T/repo" && echo x >"$T/repo/f"
  art git --read "$T/repo" --exec /usr/lib/git-core --env HOME -- /usr/bin/git -C "$T/repo" status --short
  HOME=$T run R "$T/git.toml" -- /usr/bin/git -C "$T/repo" status --short
  if [ "$RC" = 0 ] && grep -q '?? f' "$T/out"; then ok; else bad "git status: exit $RC; $(head -c 300 "$T/err")"; fi
fi
if have make && have tar; then
  mkdir -p "$T/mk"
  printf 'all:\n\t@echo made\n' >"$T/mk/Makefile"
  # GNU make resets its effective uid in each child (setresuid): `process` group
  art make --write "$T/mk" --exec /usr/bin --exec /bin --group process -- /usr/bin/make -C "$T/mk"
  r_ok "make" make -- /usr/bin/make -C "$T/mk"
  art tar --write "$T/mk" --read "$T/repo" -- /usr/bin/tar -cf "$T/mk/a.tar" -C "$T/repo" f
  r_ok "tar -c" tar -- /usr/bin/tar -cf "$T/mk/a.tar" -C "$T/repo" f
fi
if have jq; then
  art jq -- /usr/bin/jq -n '[1,2]|add'
  r_ok "jq" jq -- /usr/bin/jq -n '[1,2]|add'
fi
if have sqlite3; then
  # sqlite removes its journal (unlink): `filesystem` group
  art sq --write "$T/mk" --group filesystem -- /usr/bin/sqlite3 "$T/mk/db" 'create table t(x); insert into t values(42); select x from t;'
  r_ok "sqlite3" sq -- /usr/bin/sqlite3 "$T/mk/db" 'create table t(x); insert into t values(42); select x from t;'
fi
# a terminal program on a pty (script(1)): stty -a and tput need TCGETS/TIOCGWINSZ
if script -qec true /dev/null >/dev/null 2>&1; then
  art stty --read /usr/share/terminfo --read /lib/terminfo -- /usr/bin/stty -a
  script -qec "$GX run --trust $TR --state $S $T/stty.toml -- /usr/bin/stty -a" /dev/null </dev/null >"$T/pty.out" 2>&1
  check "stty -a on a pty ($(tr -d '\r' <"$T/pty.out" | head -c 200))" grep -q 'speed' "$T/pty.out"
  art stty_raw -- /usr/bin/stty raw -echo
  script -qec "$GX run --trust $TR --state $S $T/stty_raw.toml -- /usr/bin/stty raw -echo; echo rc=\$?" /dev/null </dev/null >"$T/pty.out" 2>&1
  check "stty raw -echo (tcsetattr) on a pty ($(tr -d '\r' <"$T/pty.out" | head -c 200))" grep -q 'rc=0' "$T/pty.out"
else
  echo "skip: script(1) cannot allocate a pty here"
fi
finish
