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

#include <cstdint>

#include "lib/decision.h"

namespace gx {

class SignalGuard {
 public:
  SignalGuard();   // blocks the forwarded signals and SIGCHLD
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
// when the child was started (for wall time).
Result<ChildExit> supervise_child(pid_t pid, const SignalGuard& guard, int64_t started_us);

}  // namespace gx
