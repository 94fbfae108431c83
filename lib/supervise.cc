#include "lib/supervise.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "lib/fsutil.h"
#include "lib/receipt.h"

namespace gx {
namespace {
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
}

SignalGuard::SignalGuard() {
  sigemptyset(&set_);
  for (int s : kForwarded) sigaddset(&set_, s);
  sigaddset(&set_, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set_, &old_);
}

SignalGuard::~SignalGuard() { sigprocmask(SIG_SETMASK, &old_, nullptr); }

int ChildExit::shell_status() const {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

Result<ChildExit> supervise_child(pid_t pid, const SignalGuard& guard, int64_t started_us) {
  // sigwaitinfo rather than a signalfd: it needs no extra fd and only
  // rt_sigtimedwait, which even a seccomp-confined gx (nested in another
  // gx's "default" profile) has. A child that is already running must never
  // be left unsupervised because gx could not set up its signal plumbing.
  ChildExit out;
  bool forwarding = true;
  for (;;) {
    // Reap first: the child may have ended before we started listening.
    pid_t r = wait4(pid, &out.wait_status, forwarding ? WNOHANG : 0, &out.usage);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return Decision::deny(DenyReason::IoError, "wait4: " + fs::errno_text(errno));
    if (!forwarding) continue;
    siginfo_t info{};
    int sig = sigwaitinfo(&guard.set(), &info);
    if (sig < 0) {
      if (errno != EINTR) forwarding = false;  // still wait, blocking, without forwarding
      continue;
    }
    if (sig != SIGCHLD) kill(pid, sig);
  }
  out.wall_us = now_unix_us() - started_us;
  return out;
}

}  // namespace gx
