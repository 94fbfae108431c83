#include "lib/confine.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "lib/fsutil.h"
#include "lib/landlock_uapi.h"

extern char** environ;

namespace gx {

namespace {

// --- child side: async-signal-safe only --------------------------------

[[noreturn]] void fail(const ChildPlan& plan, ConfineStep step, int err) noexcept {
  if (plan.error_fd >= 0) {
    ConfineFailure f{static_cast<int32_t>(step), err};
    ssize_t n;
    do {
      n = write(plan.error_fd, &f, sizeof f);
    } while (n < 0 && errno == EINTR);
  }
  _exit(127);
}

int close_range_sys(unsigned lo, unsigned hi) {
  return static_cast<int>(syscall(SYS_close_range, lo, hi, 0U));
}

// Closes every fd >= 3 except the (at most four) kept ones.
int close_other_fds(const int* keep_in, int n) noexcept {
  int keep[4];
  int k = 0;
  for (int i = 0; i < n; ++i)
    if (keep_in[i] >= 3) keep[k++] = keep_in[i];
  for (int i = 1; i < k; ++i)  // insertion sort, k <= 4
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) {
      int t = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = t;
    }
  unsigned lo = 3;
  for (int i = 0; i < k; ++i) {
    unsigned fd = static_cast<unsigned>(keep[i]);
    if (fd > lo && close_range_sys(lo, fd - 1) != 0) return errno;
    if (fd + 1 > lo) lo = fd + 1;
  }
  if (close_range_sys(lo, UINT_MAX) != 0) return errno;
  return 0;
}

int set_cloexec(int fd) noexcept {
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) return errno;
  return 0;
}

int reset_signals() noexcept {
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) return errno;
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    // EINVAL for the signal numbers glibc reserves (32, 33): skip those.
    if (sigaction(sig, &dfl, nullptr) != 0 && errno != EINVAL) return errno;
  }
  return 0;
}

}  // namespace

void confine_and_exec(const ChildPlan& plan) noexcept {
  if (plan.exec_fd < 0 || plan.argv == nullptr || plan.envp == nullptr)
    fail(plan, ConfineStep::Plan, EINVAL);
  if (plan.require_confinement && (plan.ruleset_fd < 0 || plan.seccomp == nullptr))
    fail(plan, ConfineStep::Plan, EINVAL);

  if (int err = reset_signals()) fail(plan, ConfineStep::Signals, err);

  const int keep[4] = {plan.exec_fd, plan.error_fd, plan.ruleset_fd, plan.inherit_fd};
  if (int err = close_other_fds(keep, 4)) fail(plan, ConfineStep::CloseFds, err);
  // The one fd the command is meant to get (a script's sealed copy, /dev/fd/N).
  if (plan.inherit_fd >= 0) {
    int flags = fcntl(plan.inherit_fd, F_GETFD);
    if (flags < 0 || fcntl(plan.inherit_fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
      fail(plan, ConfineStep::CloseFds, errno);
  }
  if (plan.error_fd >= 0)
    if (int err = set_cloexec(plan.error_fd)) fail(plan, ConfineStep::CloseFds, err);
  if (plan.ruleset_fd >= 0)
    if (int err = set_cloexec(plan.ruleset_fd)) fail(plan, ConfineStep::CloseFds, err);

  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(plan, ConfineStep::DeathSignal, errno);
  // gx may have died between fork and prctl: then nobody would kill us.
  if (plan.parent_pid != 0 && getppid() != plan.parent_pid)
    fail(plan, ConfineStep::ParentGone, ESRCH);

  if (plan.new_session && setsid() < 0) fail(plan, ConfineStep::Setsid, errno);
  if (plan.cwd != nullptr && chdir(plan.cwd) != 0) fail(plan, ConfineStep::Chdir, errno);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(plan, ConfineStep::NoNewPrivs, errno);

  if (plan.ruleset_fd >= 0) {
    if (ll::restrict_self(plan.ruleset_fd, plan.landlock_flags) != 0)
      fail(plan, ConfineStep::Landlock, errno);
    close(plan.ruleset_fd);
  }
  if (plan.seccomp != nullptr &&
      syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, plan.seccomp_flags, plan.seccomp) != 0)
    fail(plan, ConfineStep::Seccomp, errno);

  execveat(plan.exec_fd, "", plan.argv, plan.envp, AT_EMPTY_PATH);
  fail(plan, ConfineStep::Exec, errno);
}

// --- parent side ----------------------------------------------------------

std::string_view confine_step_name(ConfineStep step) {
  switch (step) {
    case ConfineStep::Plan: return "child plan";
    case ConfineStep::Signals: return "signal reset";
    case ConfineStep::CloseFds: return "close_range";
    case ConfineStep::DeathSignal: return "prctl(PR_SET_PDEATHSIG)";
    case ConfineStep::ParentGone: return "parent check";
    case ConfineStep::Setsid: return "setsid";
    case ConfineStep::Chdir: return "chdir";
    case ConfineStep::NoNewPrivs: return "prctl(PR_SET_NO_NEW_PRIVS)";
    case ConfineStep::Landlock: return "landlock_restrict_self";
    case ConfineStep::Seccomp: return "seccomp(SECCOMP_SET_MODE_FILTER)";
    case ConfineStep::Exec: return "execveat";
  }
  return "unknown step";
}

Decision confine_failure_decision(const ConfineFailure& f) {
  auto step = static_cast<ConfineStep>(f.step);
  const char* name = strerrorname_np(f.err);
  std::string detail = std::string(confine_step_name(step)) + " failed: " +
                       (name != nullptr ? name : std::to_string(f.err)) + " (" +
                       fs::errno_text(f.err) + ")";
  if (step == ConfineStep::Exec && f.err == EACCES)
    detail += "; under Landlock the ELF or script interpreter needs the execute right";
  if (step == ConfineStep::Exec && f.err == ENOENT)
    detail += "; a close-on-exec fd cannot run a #! script";
  DenyReason reason = (step == ConfineStep::Chdir || step == ConfineStep::Exec)
                          ? DenyReason::IoError
                          : DenyReason::SandboxUnavailable;
  return Decision::deny(reason, detail, "confine", std::string(confine_step_name(step)));
}

Result<pid_t> spawn_confined(const ChildPlan& plan) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0)
    return Decision::deny(DenyReason::IoError, "pipe2 failed: " + fs::errno_text(errno), "confine");
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(pipefd[0]);
    close(pipefd[1]);
    return Decision::deny(DenyReason::IoError, "fork failed: " + fs::errno_text(err), "confine");
  }
  if (pid == 0) {
    ChildPlan p = plan;  // trivially copyable: a stack copy, no allocation
    p.error_fd = pipefd[1];
    close(pipefd[0]);
    confine_and_exec(p);
  }
  close(pipefd[1]);
  ConfineFailure f{};
  size_t got = 0;
  while (got < sizeof f) {
    ssize_t n = read(pipefd[0], reinterpret_cast<char*>(&f) + got, sizeof f - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(pipefd[0]);
  if (got == 0) return pid;  // pipe closed by exec: the command is running
  if (got != sizeof f) {
    kill(pid, SIGKILL);
    f = {static_cast<int32_t>(ConfineStep::Plan), EPROTO};
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return confine_failure_decision(f);
}

namespace {

// /proc/<gx>/environ shows the bytes of gx's ORIGINAL environment strings
// (the kernel reads [env_start, env_end) of gx's memory). Non-dumpable does
// not hide them from a root child (CAP_SYS_PTRACE overrides it), and
// Landlock's ptrace scope only refuses PTRACE_MODE_ATTACH (mem), not
// PTRACE_MODE_READ (environ) — tested on 6.18, tests/cli/run_sandbox.sh.
// A child granted /proc could then read every variable its artifact
// stripped. So gx moves its own environment to the heap and zeroes the
// originals; getenv keeps working. Once per process: a second pass would
// copy the heap copies again and leak the first ones (ASan found it).
void wipe_original_environment() {
  static bool wiped = false;
  if (wiped) return;
  wiped = true;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    size_t n = strlen(*e);
    char* copy = strdup(*e);
    if (copy == nullptr) continue;  // keep it: better visible than lost
    char* original = *e;
    *e = copy;
    memset(original, 0, n);
  }
}

}  // namespace

Decision harden_supervisor() {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
    return Decision::deny(DenyReason::SandboxUnavailable,
                          "cannot make gx non-dumpable: " + fs::errno_text(errno), "supervisor");
  wipe_original_environment();
  return Decision::allow();
}

CStringArray::CStringArray(std::vector<std::string> items) : items_(std::move(items)) {
  ptrs_.reserve(items_.size() + 1);
  for (auto& s : items_) ptrs_.push_back(s.data());
  ptrs_.push_back(nullptr);
}

}  // namespace gx
