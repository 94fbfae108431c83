// Observing one run of a command with seccomp user notification.
//
// The child (forked here) runs gx run's own child sequence
// (confine_and_exec, lib/confine.h) with neither Landlock nor the main
// filter: signals, stdio, fds, PDEATHSIG, setsid, chdir, no_new_privs, then
// its notify step installs seccomp::observe_program() — SECCOMP_RET_USER_NOTIF
// for EVERY syscall of every architecture — and passes the listener to gx
// over a unix socket (SCM_RIGHTS; sendmsg on that one socket fd number is the
// only syscall the filter lets through unseen) before it execveat()s the
// sealed memfd of the MatchedInvocation. Threads and children inherit the
// filter.
//
// gx loops on SECCOMP_IOCTL_NOTIF_RECV, records the syscall, decodes path
// and sockaddr arguments by reading /proc/<tid>/mem, /proc/<tid>/cwd and
// /proc/<tid>/fd/N (ACCEPTABLE FOR OBSERVATION ONLY: the values can change
// under a racing thread; nothing here ever decides on them), checks
// SECCOMP_IOCTL_NOTIF_ID_VALID after reading (a stale notification is not
// recorded), and always answers SECCOMP_USER_NOTIF_FLAG_CONTINUE: nothing is
// denied, the command runs unconfined.
//
// Not observed: syscalls before the filter is installed (gx's own set-up);
// vDSO calls (clock_gettime, gettimeofday, time, getcpu) that never enter
// the kernel; operations submitted through io_uring; accesses through fds
// the command inherited; the ELF loader the kernel opens for an exec (learn
// adds it); descendants still running once the command exited and the
// listener is idle (kIdleAfterExitMs).
#pragma once

#include "lib/decision.h"
#include "lib/invocation.h"
#include "lib/learn.h"

namespace gx {

inline constexpr int kIdleAfterExitMs = 300;

struct ObserveOptions {
  bool stdout_to_stderr = false;  // dup2(2, 1) in the child
  InheritedSignals signals;       // what the command starts with, as under gx run
};

// Runs m (argv, env, cwd, sealed image) to completion under observation.
// Denies with sandbox-unavailable when the kernel refuses user notification.
Result<Observation> observe_run(const MatchedInvocation& m, const ObserveOptions& options);

}  // namespace gx
