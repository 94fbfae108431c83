// gx stays the parent: it forwards signals to the governed child and waits
// for it, collecting how it ended and what it used.
//
// Forwarded: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH.
// They (and SIGCHLD) are blocked BEFORE the child is forked, so none is lost
// in the window between fork and wait; the child resets its own mask
// (confine.h, step 1). stdin/stdout/stderr are simply inherited.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/decision.h"

namespace gx {

// Sets SIGCHLD back to SIG_DFL when it is SIG_IGN: an ignored SIGCHLD
// survives exec (a caller can hand one to gx), and with it the kernel reaps
// gx's children itself and wait4 fails with ECHILD, losing their status.
void reset_ignored_sigchld();

class SignalGuard {
 public:
  // Blocks the forwarded signals and SIGCHLD, and resets an inherited
  // SIG_IGN of SIGCHLD (which would make the kernel reap the child for us).
  // A blocked signal is queued even while its disposition is SIG_IGN, so an
  // ignored one is still forwarded (and the command, ignoring it too, drops it).
  SignalGuard();
  ~SignalGuard();  // restores the previous mask
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;
  const sigset_t& set() const { return set_; }

 private:
  sigset_t set_{};
  sigset_t old_{};
};

struct ChildExit {
  int wait_status = 0;
  struct rusage usage {};
  int64_t wall_us = 0;
  // Shell convention: the exit code, or 128+N when killed by signal N.
  int shell_status() const;
};

// Waits for `pid`, forwarding signals from guard.set(). `started_us` is
// when the child was started (for wall time). As a subreaper gx also gets
// orphaned descendants as children: those that exit meanwhile are reaped
// here (never the direct child by accident: waitid(WNOWAIT) looks first).
Result<ChildExit> supervise_child(pid_t pid, const SignalGuard& guard, int64_t started_us);

// PR_SET_CHILD_SUBREAPER on gx, before the fork: every descendant that
// loses its parent (a double fork, a daemon) is re-parented to gx instead
// of init, so gx can find it when the child exits.
Decision become_subreaper();

// After the direct child was reaped: terminates and reaps everything left
// of its tree. SIGTERM to every remaining descendant (found through
// /proc/<pid>/task/<tid>/children, recursively), `grace_ms` for them to
// exit, then SIGKILL to gx's remaining children, round after round (each
// round orphans the next generation to gx) until waitpid reports no child
// at all. Without /proc, the child's process group (setsid made it one) is
// killed instead and `complete` is false. Gives up after `limit_ms`
// (processes stuck in uninterruptible sleep), with complete = false.
// Caveat: a process that left the tree by other means (asked a daemon
// outside the sandbox to start it) is not a descendant and is not found.
inline constexpr int kDescendantGraceMs = 1000;
struct DescendantCleanup {
  int64_t killed = 0;    // distinct descendants signalled (still alive after the child's exit)
  bool complete = true;  // no child of gx is left
  std::string note;      // why not complete
};
DescendantCleanup terminate_descendants(pid_t child_pgid, int grace_ms = kDescendantGraceMs, int limit_ms = 10000);

// gx's own resource limits, saved before the fork and restored before the
// finished receipt is written: a child that may call prlimit64 on gx (the
// syscall takes any pid) could otherwise make gx die by SIGXFSZ, or fail to
// open the log, while recording the run. Raising a lowered hard limit needs
// CAP_SYS_RESOURCE: without it, the soft limit is raised to the new hard
// limit and the loss is reported (the write may then fail, which fails the
// run). Also ignores SIGXFSZ and SIGXCPU in gx (an oversized write then
// fails with EFBIG instead of killing gx); the child resets its signal
// dispositions (confine.h, step 1).
class OwnLimits {
 public:
  static OwnLimits save();
  // Restores every limit that is now lower; returns one line per limit
  // that was lowered ("RLIMIT_FSIZE was lowered to 1; restored").
  std::vector<std::string> restore() const;

 private:
  std::array<struct rlimit, RLIM_NLIMITS> saved_{};
  std::array<bool, RLIM_NLIMITS> ok_{};
};

}  // namespace gx
