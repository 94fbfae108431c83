#include "lib/supervise.h"

#include <sys/signalfd.h>
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
  int sfd = signalfd(-1, &guard.set(), SFD_CLOEXEC);
  if (sfd < 0) return Decision::deny(DenyReason::IoError, "signalfd: " + fs::errno_text(errno));
  ChildExit out;
  for (;;) {
    // Reap first: the child may have ended before we started listening.
    pid_t r = wait4(pid, &out.wait_status, WNOHANG, &out.usage);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      int err = errno;
      close(sfd);
      return Decision::deny(DenyReason::IoError, "wait4: " + fs::errno_text(err));
    }
    signalfd_siginfo info{};
    ssize_t n = read(sfd, &info, sizeof info);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof info)) continue;
    int sig = static_cast<int>(info.ssi_signo);
    if (sig != SIGCHLD) kill(pid, sig);
  }
  close(sfd);
  out.wall_us = now_unix_us() - started_us;
  return out;
}

}  // namespace gx
