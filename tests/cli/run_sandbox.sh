#!/usr/bin/env bash
# gx run's sandbox, probed from inside by tests/helpers/try_*.c: each helper
# tries exactly one forbidden (or control) action and prints "ok" or the
# errno name. Every forbidden action has a control that shows the helper can
# succeed when the artifact grants it, so a pass is not an artefact of a
# broken helper. Tests run as root in CI: Landlock and seccomp bind root too,
# and each root-specific caveat is noted where it matters.
source "$(dirname "$0")/lib/common.bash"
source "$(dirname "$0")/lib/run_env.bash"
mkdir -p "$T/secret" "$T/pub"
# probe RC OUT DESC ART -- CMD...: gx exits RC and the helper's first line is OUT
probe() {
  local want_rc=$1 want_out=$2 desc=$3 a=$4
  shift 5
  run R "$T/$a.toml" -- "$@"
  local got
  got=$(head -1 "$T/out")
  if [ "$RC" = "$want_rc" ] && [ "$got" = "$want_out" ]; then ok; else
    bad "$desc: exit $RC output '$got', wanted exit $want_rc output '$want_out'; stderr: $(head -c 300 "$T/err")"
  fi
}
KILL='s/^default_action = .*/default_action = "kill"/'

# --- network ---
art inet -- "$H/try_socket_inet"
probe 1 EPERM "network none: socket(AF_INET)" inet -- "$H/try_socket_inet"
art inet_tcp --net 443 -- "$H/try_socket_inet"
probe 0 ok "control: network tcp allows socket(AF_INET)" inet_tcp -- "$H/try_socket_inet"
art unix -- "$H/try_unix_socket"
probe 0 ok "network none: AF_UNIX socketpair works" unix -- "$H/try_unix_socket"

# --- filesystem: write, read, exec ---
art wr_in --write "$W" -- "$H/try_write" "$W/in.txt"
probe 0 ok "write inside a write path" wr_in -- "$H/try_write" "$W/in.txt"
check "the write landed" test "$(cat "$W/in.txt")" = x
art wr_out --write "$W" -- "$H/try_write" "$T/outside.txt"
probe 1 EACCES "write outside the write paths" wr_out -- "$H/try_write" "$T/outside.txt"
check "nothing written outside" test ! -e "$T/outside.txt"
art wr_tmp --write "$W" -- "$H/try_write" /tmp/gx-run-sandbox-escape.$$
probe 1 EACCES "write to /tmp (not granted)" wr_tmp -- "$H/try_write" /tmp/gx-run-sandbox-escape.$$
check "nothing written to /tmp" test ! -e /tmp/gx-run-sandbox-escape.$$
echo hunter2 >"$T/etc-overwrite"
art wr_ro --read "$T/etc-overwrite" -- "$H/try_write" "$T/etc-overwrite"
probe 1 EACCES "write to a read-only path" wr_ro -- "$H/try_write" "$T/etc-overwrite"
check "read-only file unchanged" test "$(cat "$T/etc-overwrite")" = hunter2
echo secret >"$T/secret/key"
echo public >"$T/pub/file"
art rd_out --read "$T/pub" -- "$H/try_read" "$T/secret/key"
probe 1 EACCES "read outside the read paths" rd_out -- "$H/try_read" "$T/secret/key"
art rd_in --read "$T/pub" -- "$H/try_read" "$T/pub/file"
probe 0 ok "control: read inside a read path" rd_in -- "$H/try_read" "$T/pub/file"
art rd_home -- "$H/try_read" /root/.bashrc
probe 1 EACCES "read of /root (not granted; root's DAC would allow it)" rd_home -- "$H/try_read" /root/.bashrc
cp "$H/try_marker" "$T/bin/marker"
# With exec paths, Landlock decides (EACCES outside them); with exec = [],
# the exec guard refuses every exec after gx's own (EPERM, lib/exec_guard.h).
art ex_out --write "$W" --exec "$T/pub" -- "$H/try_exec" "$T/bin/marker" "$W/exec-marker"
probe 1 EACCES "exec outside the exec paths" ex_out -- "$H/try_exec" "$T/bin/marker" "$W/exec-marker"
check "the exec'd program never ran" test ! -e "$W/exec-marker"
art ex_usr --exec "$T/pub" -- "$H/try_exec" /usr/bin/true
probe 1 EACCES "exec of a readable system binary not in exec paths" ex_usr -- "$H/try_exec" /usr/bin/true
art ex_none --write "$W" -- "$H/try_exec" "$T/bin/marker" "$W/exec-marker"
probe 1 EPERM "exec = []: no exec at all" ex_none -- "$H/try_exec" "$T/bin/marker" "$W/exec-marker"
check "the exec'd program never ran (exec = [])" test ! -e "$W/exec-marker"
art ex_in --write "$W" --exec "$T/bin" -- "$H/try_exec" "$T/bin/marker" "$W/exec-marker"
probe 0 marker "control: exec inside the exec paths" ex_in -- "$H/try_exec" "$T/bin/marker" "$W/exec-marker"
check "control exec ran" test -e "$W/exec-marker"

# --- dangerous syscalls: EPERM by default, SIGSYS under default_action = "kill" ---
for h in ptrace bpf unshare; do
  art "$h" -- "$H/try_$h"
  probe 1 EPERM "$h denied" "$h" -- "$H/try_$h"
  art_edit "${h}_kill" "$KILL" -- "$H/try_$h"
  probe 159 "" "$h killed under default_action = kill" "${h}_kill" -- "$H/try_$h"
done
# io_uring answers ENOSYS (runtimes probe it and fall back), even under kill
art io_uring -- "$H/try_io_uring"
probe 1 ENOSYS "io_uring_setup refused" io_uring -- "$H/try_io_uring"
art_edit io_uring_kill "$KILL" -- "$H/try_io_uring"
probe 1 ENOSYS "io_uring_setup refused (not killed) under kill" io_uring_kill -- "$H/try_io_uring"
# control: the helpers can succeed when the artifact names the syscall
art_edit unshare_ok 's/^allow_syscalls = .*/allow_syscalls = ["unshare"]/' -- "$H/try_unshare"
probe 0 ok "control: unshare when allowed by name" unshare_ok -- "$H/try_unshare"
# clone() with namespace flags is refused even though clone is in "default"
art_edit nsclone 's/^groups = .*/groups = ["default"]/' -- /usr/bin/unshare -U /bin/true
run R "$T/nsclone.toml" -- /usr/bin/unshare -U /bin/true
check "unshare(1) -U fails ($RC: $(head -c 200 "$T/err"))" test "$RC" != 0

# --- i386 ABI via int 0x80: killed, whatever the default action ---
# Probe the machine first: without IA-32 emulation `int 0x80` faults
# (SIGSEGV) even outside gx. What must hold everywhere: it never returns.
"$H/try_int80" >/dev/null 2>&1
INT80_BASE=$?
art int80 -- "$H/try_int80"
if [ "$INT80_BASE" = 0 ]; then
  probe 159 "" "int 0x80 killed by SIGSYS" int80 -- "$H/try_int80"
  check "finished receipt records SIGSYS" test "$("$GX" log show --state "$S" --json --tail 1 | jq -r .signal)" = 31
else
  echo "note: no IA-32 emulation here (int 0x80 exits $INT80_BASE outside gx): expecting SIGSEGV or SIGSYS"
  run R "$T/int80.toml" -- "$H/try_int80"
  check "int 0x80 killed (exit $RC: 139 SIGSEGV or 159 SIGSYS)" test "$RC" = 139 -o "$RC" = 159
fi
refute "int 0x80 never returned" grep -q survived "$T/out"

# --- terminal injection ---
art tiocsti --max-uses 3 -- "$H/try_tiocsti"
probe 1 EPERM "TIOCSTI refused by seccomp (a pipe would give ENOTTY)" tiocsti -- "$H/try_tiocsti"
art tiocsti_hi -- "$H/try_tiocsti" hi
probe 1 EPERM "TIOCSTI with high bits set" tiocsti_hi -- "$H/try_tiocsti" hi
# on a real pty (as root, TIOCSTI on a non-controlling tty is allowed by the
# kernel: only seccomp stands in the way)
if script -qec true /dev/null >/dev/null 2>&1; then
  script -qec "$H/try_tiocsti" /dev/null </dev/null >"$T/pty.out" 2>&1
  grep -q ok "$T/pty.out" && echo "note: outside gx, TIOCSTI on this pty succeeds: the check below is meaningful"
  script -qec "$GX run --trust $TR --state $S $T/tiocsti.toml -- $H/try_tiocsti" /dev/null </dev/null >"$T/pty.out" 2>&1
  check "TIOCSTI on a pty refused ($(tr -d '\r' <"$T/pty.out"))" grep -q EPERM "$T/pty.out"
fi

# --- the child against gx ---
art killp -- "$H/try_kill_parent"
probe 1 EPERM "kill(gx) refused by Landlock's signal scope (kill is in default)" killp -- "$H/try_kill_parent"
art_edit killp_sig 's/^groups = .*/groups = ["default", "signals", "process"]/' -- "$H/try_kill_parent"
probe 1 EPERM "kill(gx) refused by Landlock's signal scope with kill allowed (root would otherwise succeed)" killp_sig -- "$H/try_kill_parent"
check "gx survived and wrote the finished receipt" test "$("$GX" log show --state "$S" --json --tail 1 | jq -r '.decision + " " + (.exit_code|tostring)')" = "finished 1"
art proc_mem --read /proc -- "$H/try_proc_parent" mem
probe 1 EACCES "open /proc/<gx>/mem (root has CAP_SYS_PTRACE; Landlock's ptrace scope refuses ATTACH mode)" proc_mem -- "$H/try_proc_parent" mem
art proc_mem_noread -- "$H/try_proc_parent" mem
probe 1 EACCES "open /proc/<gx>/mem without /proc granted" proc_mem_noread -- "$H/try_proc_parent" mem
art proc_environ_noread -- "$H/try_proc_parent" environ
probe 1 EACCES "open /proc/<gx>/environ without /proc granted" proc_environ_noread -- "$H/try_proc_parent" environ
# With /proc granted, a ROOT child can open /proc/<gx>/environ: CAP_SYS_PTRACE
# overrides gx's PR_SET_DUMPABLE 0, and on 6.18 Landlock's ptrace scope
# refuses only PTRACE_MODE_ATTACH (mem), not PTRACE_MODE_READ (environ,
# maps, cmdline). (A non-root child is refused by non-dumpable.) What it
# must not find there is the environment the artifact stripped: gx wipes
# its original environment strings before it forks.
art proc_environ --read /proc -- "$H/try_proc_parent" environ
GX_TEST_SECRET=hunter2-secret-value run R "$T/proc_environ.toml" -- "$H/try_proc_parent" environ
if [ "$(head -1 "$T/out")" = ok ]; then
  refute "gx's environ shows no stripped secret" grep -q hunter2-secret-value "$T/out"
  refute "gx's environ shows no variables at all" grep -q "^PATH=" "$T/out"
else
  check "gx's environ refused ($(head -1 "$T/out"))" test "$RC" = 1
fi
art proc_self --read /proc -- "$H/try_read" /proc/self/environ
probe 0 ok "control: /proc/self/environ readable with /proc granted" proc_self -- "$H/try_read" /proc/self/environ

# --- no fd leaks from gx (or from whoever started gx) ---
art fds --read /proc -- "$H/try_list_fds"
R "$T/fds.toml" -- "$H/try_list_fds" >"$T/out" 2>"$T/err" 3</etc/hostname 7>"$T/leak" 9</dev/null
check "exit 0" test $? = 0
check "child has only 0 1 2 ($(tr '\n' ' ' <"$T/out"))" test "$(tr '\n' ' ' <"$T/out")" = "0 1 2 "
printf '#!/bin/sh\necho "$0"\nls /proc/self/fd\n' >"$T/bin/fds.sh"
chmod +x "$T/bin/fds.sh"
art fds_script --read /proc --exec /usr/bin/ls -- "$T/bin/fds.sh"
R "$T/fds_script.toml" -- "$T/bin/fds.sh" >"$T/out" 2>"$T/err" 3</etc/hostname 7>"$T/leak"
# A script in a directory only root/the caller can write is handed to its
# interpreter by path: ls (the script's child) sees 0 1 2 and its own
# directory fd 3; nothing of gx's or of the caller's fds 3 and 7
check "script \$0 is its path ($(head -1 "$T/out"))" test "$(head -1 "$T/out")" = "$T/bin/fds.sh"
check "script child: fds 0 1 2 3 only ($(tail -n +2 "$T/out" | tr '\n' ' ') $(head -c 200 "$T/err"))" \
  test "$(tail -n +2 "$T/out" | sort -n | tr '\n' ' ')" = "0 1 2 3 "
# In a group-writable directory it gets the sealed copy as /dev/fd/N instead,
# and N is the only extra fd
art fds_script_open --read /proc --exec /usr/bin/ls -- "$T/bin/fds.sh"
chmod g+w "$T/bin"
R "$T/fds_script_open.toml" -- "$T/bin/fds.sh" >"$T/out" 2>"$T/err" 3</etc/hostname 7>"$T/leak"
chmod g-w "$T/bin"
n=$(head -1 "$T/out" | sed -n 's|^/dev/fd/\([0-9]*\)$|\1|p')
check "fallback script child: fds 0 1 2 3 $n only ($(tail -n +2 "$T/out" | tr '\n' ' ') $(head -c 200 "$T/err"))" \
  test "$(tail -n +2 "$T/out" | sort -n | tr '\n' ' ')" = "$(printf '%s\n' 0 1 2 3 "$n" | sort -n | tr '\n' ' ')"
check "script fd is not one of the caller's (3, 7)" test -n "$n" -a "$n" != 3 -a "$n" != 7

# --- gx's state is out of reach ---
mkdir -p "$T/sibling"
"$GX" run --trust "$TR" --state "$S" --dry-run "$T/inet.toml" -- "$H/try_socket_inet" >/dev/null 2>&1
for target in "$S/receipts.log" "$S/new-file" "$S/receipt.key"; do
  art "st_$(basename "$target")" --write "$T/sibling" -- "$H/try_write" "$target"
  probe 1 EACCES "write into the state dir: $(basename "$target")" "st_$(basename "$target")" -- "$H/try_write" "$target"
  after=$(stat -c %s "$target" 2>/dev/null || echo none)
  # receipts.log grows by gx's own receipts only: it must still verify (below)
  [ "$target" = "$S/new-file" ] && check "no file created in the state dir" test "$after" = none
done
check "receipt log intact after the attempts" "$GX" log verify --state "$S"
# A read grant containing the receipt key is expanded around it (Landlock
# cannot subtract): the run goes ahead, the key stays unreadable.
art st_key_read --read "$S" -- "$H/try_read" "$S/receipt.key"
probe 1 EACCES "read grant containing the receipt key: the key stays unreadable" st_key_read -- "$H/try_read" "$S/receipt.key"

# --- the child cannot run code from its own memfd ---
art memfd -- "$H/try_memfd_exec" /bin/echo EXECUTED
probe 1 "memfd_create: EPERM" "memfd_create refused under the default profile" memfd -- "$H/try_memfd_exec" /bin/echo EXECUTED
refute "payload never ran" grep -q EXECUTED "$T/out"
art_edit memfd_ipc 's/^groups = .*/groups = ["default", "ipc"]/' -- "$H/try_memfd_exec" /bin/echo EXECUTED
probe 1 "memfd_create: EPERM" "memfd_create refused even with the ipc group" memfd_ipc -- "$H/try_memfd_exec" /bin/echo EXECUTED
art_edit memfd_named 's/^allow_syscalls = .*/allow_syscalls = ["memfd_create"]/' --exec "$T/pub" -- "$H/try_memfd_exec" /bin/echo EXECUTED
probe 0 EXECUTED "control: named in allow_syscalls, with an exec grant, memfd exec works (Landlock does not check memfds)" memfd_named -- "$H/try_memfd_exec" /bin/echo EXECUTED
art_edit memfd_noexec 's/^allow_syscalls = .*/allow_syscalls = ["memfd_create"]/' -- "$H/try_memfd_exec" /bin/echo EXECUTED
probe 1 "execveat: EPERM" "memfd_create named but exec = []: the exec guard refuses the memfd exec" memfd_noexec -- "$H/try_memfd_exec" /bin/echo EXECUTED
refute "payload never ran (exec = [])" grep -q EXECUTED "$T/out"

# --- the gate and the filter: a profile that denies read(2) ---
# Without the exec guard (an exec list), gx's child reads its go-ahead (the
# receipt is durable) from a pipe; it installs the main filter before that
# read only when the filter allows read and close. With it (exec = []) the
# guard's answer to its execveat is the go-ahead. Denying read must not leave the program "not started":
# the filter then comes after the gate, the program is exec'd and its own
# loader fails (a denied read), as it would under any such filter.
for exec_list in "" "--exec $H"; do
  # shellcheck disable=SC2086
  art_edit noread 's/^deny_syscalls = .*/deny_syscalls = ["read"]/' $exec_list --write "$W" -- "$H/try_marker" "$W/noread"
  run R "$T/noread.toml" -- "$H/try_marker" "$W/noread"
  refute "deny read${exec_list:+ (exec list)}: not 'not started' (rc $RC, $(head -c 300 "$T/err"))" grep -q "not started" "$T/err"
  check "deny read${exec_list:+ (exec list)}: exec'd, the loader failed (rc $RC)" test "$RC" = 127
  tail2=$("$GX" log show --state "$S" --json --tail 2 | jq -r .decision | tr '\n' ' ')
  check "deny read${exec_list:+ (exec list)}: authorized, then finished ($tail2)" test "$tail2" = "authorized finished "
  check "deny read${exec_list:+ (exec list)}: the marker was never made" test ! -e "$W/noread"
done

finish
