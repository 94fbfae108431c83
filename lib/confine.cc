#include "lib/confine.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "lib/fd_passing.h"
#include "lib/fsutil.h"
#include "lib/landlock_uapi.h"
#include "seccomp/bpf.h"

extern char** environ;

namespace gx {

InheritedSignals InheritedSignals::of_this_process() {
  InheritedSignals out;
  sigemptyset(&out.ignored);
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction cur {};
    // EINVAL for glibc's reserved numbers (32, 33): never ignored.
    if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, nullptr, &cur) == 0 && cur.sa_handler == SIG_IGN)
      sigaddset(&out.ignored, sig);
  }
  if (sigprocmask(SIG_SETMASK, nullptr, &out.blocked) != 0) sigemptyset(&out.blocked);
  return out;
}

InheritedSignals InheritedSignals::from_bits(uint64_t ignored, uint64_t blocked) {
  InheritedSignals out;
  sigemptyset(&out.ignored);
  sigemptyset(&out.blocked);
  for (int sig = 1; sig <= 64 && sig < NSIG; ++sig) {
    const uint64_t bit = uint64_t{1} << (sig - 1);
    // SIGKILL and SIGSTOP can be neither ignored nor blocked.
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (ignored & bit) sigaddset(&out.ignored, sig);
    if (blocked & bit) sigaddset(&out.blocked, sig);
  }
  return out;
}

uint64_t InheritedSignals::bits_of(const sigset_t& set) {
  uint64_t out = 0;
  for (int sig = 1; sig <= 64 && sig < NSIG; ++sig)
    if (sigismember(&set, sig) == 1) out |= uint64_t{1} << (sig - 1);
  return out;
}

namespace {

// --- child side: async-signal-safe only --------------------------------

[[noreturn]] void fail(const ChildPlan& plan, ConfineStep step, int err) noexcept {
  if (plan.error_fd >= 0) {
    // sendmsg, the one syscall gx learn's observer lets through unanswered.
    ConfineFailure f{static_cast<int32_t>(step), err};
    iovec iov{&f, sizeof f};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n;
    do {
      n = sendmsg(plan.error_fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == ENOTSOCK) {  // a pipe (tests' own harness)
      do {
        n = write(plan.error_fd, &f, sizeof f);
      } while (n < 0 && errno == EINTR);
    }
  }
  _exit(127);
}

int close_range_sys(unsigned lo, unsigned hi) { return static_cast<int>(syscall(SYS_close_range, lo, hi, 0U)); }

// Closes every fd >= 3 except the (at most kMaxKept) kept ones.
constexpr int kMaxKept = 6;
int close_other_fds(const int* keep_in, int n) noexcept {
  if (n > kMaxKept) return EINVAL;
  int keep[kMaxKept];
  int k = 0;
  for (int i = 0; i < n; ++i)
    if (keep_in[i] >= 3) keep[k++] = keep_in[i];
  for (int i = 1; i < k; ++i)  // insertion sort, k <= kMaxKept
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

// Hands the exec guard's listener to gx: one message, the zero
// ConfineFailure (step 0 is no step) carrying the fd.
int send_listener(int channel, int listener) noexcept {
  ConfineFailure marker{0, 0};
  ssize_t n = send_fds(channel, &marker, sizeof marker, &listener, 1);  // async-signal-safe
  if (n < 0) return static_cast<int>(-n);
  return n == static_cast<ssize_t>(sizeof marker) ? 0 : EPROTO;
}

// Dispositions first, then the mask: spawn_confined clones with every
// signal blocked and the child shares gx's memory until its exec, so no
// handler of gx's may run here once signals are unblocked.
int reset_signals(const ChildPlan& plan) noexcept {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  struct sigaction ign = dfl;
  ign.sa_handler = SIG_IGN;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    // EINVAL for the signal numbers glibc reserves (32, 33): skip those.
    if (sigaction(sig, sigismember(&plan.signals.ignored, sig) == 1 ? &ign : &dfl, nullptr) != 0 && errno != EINVAL)
      return errno;
  }
  if (sigprocmask(SIG_SETMASK, &plan.signals.blocked, nullptr) != 0) return errno;
  return 0;
}

}  // namespace

namespace {

// Sources that already sit on 0..2 are moved up first, so that one dup2
// cannot overwrite another's source (stdout given as stdin, and so on).
int apply_stdio(const int (&stdio)[3]) noexcept {
  int src[3] = {stdio[0], stdio[1], stdio[2]};
  for (int& fd : src)
    if (fd >= 0 && fd < 3) {
      fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
      if (fd < 0) return errno;
    }
  for (int i = 0; i < 3; ++i)
    if (src[i] >= 0 && dup2(src[i], i) < 0) return errno;  // dup2's target is not close-on-exec
  return 0;
}

// Raw syscalls throughout: glibc's set*id wrappers signal every thread of
// the process (setxid broadcast); the raw calls change exactly this one,
// which after fork is the only one.
int cap_sets(__user_cap_data_struct (&data)[2], bool set) noexcept {
  __user_cap_header_struct head{_LINUX_CAPABILITY_VERSION_3, 0};
  long r = syscall(set ? SYS_capset : SYS_capget, &head, data);
  return r == 0 ? 0 : errno;
}

bool kept(const ChildCredentials& c, int cap) noexcept { return ((c.keep_caps >> cap) & 1U) != 0; }

// Step 2c'; returns 0, or the errno and the failed step. After exec a root
// process's permitted set is its bounding set plus what its inheritable set
// carries, and ambient capabilities survive too: all three lose them.
int drop_capabilities(uint64_t drop, ConfineStep& step) noexcept {
  step = ConfineStep::CapBound;
  for (int cap = 0; cap < 64; ++cap) {
    if (((drop >> cap) & 1U) == 0) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return errno;
    step = ConfineStep::AmbientCaps;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0) != 0 && errno != EINVAL) return errno;
    step = ConfineStep::CapBound;
  }
  step = ConfineStep::Capset;
  __user_cap_data_struct data[2] = {};
  if (int err = cap_sets(data, false)) return err;
  for (int i = 0; i < 2; ++i) {
    const auto word = static_cast<uint32_t>(drop >> (32 * i));
    data[i].inheritable &= ~word;
    data[i].permitted &= ~word;
    data[i].effective &= ~word;
  }
  return cap_sets(data, true);
}

// Step 2c; returns 0, or the errno and the failed step.
int apply_credentials(const ChildCredentials& c, ConfineStep& step) noexcept {
  step = ConfineStep::CapBound;
  if (c.last_cap < 0 || c.last_cap > 63 || c.group_count > kMaxChildGroups) return EINVAL;
  for (int cap = 0; cap <= c.last_cap; ++cap)
    if (!kept(c, cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return errno;

  step = ConfineStep::Securebits;
  unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
                       SECBIT_KEEP_CAPS_LOCKED;
  if (c.keep_caps == 0) bits |= SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0) return errno;

  // NO_SETUID_FIXUP keeps CAP_SETUID effective until the capset below.
  step = ConfineStep::Setgroups;
  if (syscall(SYS_setgroups, c.group_count, c.groups) != 0) return errno;
  step = ConfineStep::Setresgid;
  if (syscall(SYS_setresgid, c.gid, c.gid, c.gid) != 0) return errno;
  step = ConfineStep::Setresuid;
  if (syscall(SYS_setresuid, c.uid, c.uid, c.uid) != 0) return errno;
  // A uid change sets the mm's dumpable flag to fs.suid_dumpable, and this
  // mm is gx's own until the exec (CLONE_VM): at 1 the target user could
  // ptrace this child and read gx's memory (the receipt key). Not dumpable
  // again at once; prepare_credentials refuses a switch under 1 (the gap
  // between the two calls).
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return errno;

  step = ConfineStep::IdentityCheck;
  uid_t ru = 0, eu = 0, su = 0;
  gid_t rg = 0, eg = 0, sg = 0;
  if (syscall(SYS_getresuid, &ru, &eu, &su) != 0 || syscall(SYS_getresgid, &rg, &eg, &sg) != 0) return errno;
  if (ru != c.uid || eu != c.uid || su != c.uid || rg != c.gid || eg != c.gid || sg != c.gid) return EPERM;
  gid_t now[kMaxChildGroups];
  long n = syscall(SYS_getgroups, static_cast<int>(kMaxChildGroups), now);
  if (n < 0) return errno;
  if (static_cast<size_t>(n) != c.group_count) return EPERM;
  // The kernel sorts the list: compare as sets (the parent deduplicates).
  for (size_t i = 0; i < c.group_count; ++i) {
    bool found = false;
    for (size_t j = 0; j < c.group_count && !found; ++j) found = now[j] == c.groups[i];
    if (!found) return EPERM;
  }

  step = ConfineStep::Capset;
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    auto word = static_cast<uint32_t>(c.keep_caps >> (32 * i));
    data[i].effective = data[i].permitted = data[i].inheritable = word;
  }
  if (int err = cap_sets(data, true)) return err;

  step = ConfineStep::AmbientCaps;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return errno;
  for (int cap = 0; cap <= c.last_cap; ++cap)
    if (kept(c, cap) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) return errno;

  step = ConfineStep::CapCheck;
  __user_cap_data_struct got[2] = {};
  if (int err = cap_sets(got, false)) return err;
  for (int i = 0; i < 2; ++i) {
    auto word = static_cast<uint32_t>(c.keep_caps >> (32 * i));
    if (got[i].effective != word || got[i].permitted != word || got[i].inheritable != word) return EPERM;
  }
  // The ambient set is asked about the kept capabilities only: the kernel
  // keeps it within permitted AND inheritable (capabilities(7)), both just
  // read back equal to keep_caps, so nothing else can be ambient. That
  // saves 41 system calls before every exec (~1.4 us each here).
  for (int cap = 0; cap <= c.last_cap; ++cap) {
    int bound = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (bound < 0) return errno;
    if (bound != (kept(c, cap) ? 1 : 0)) return EPERM;
    if (!kept(c, cap)) continue;
    int ambient = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
    if (ambient < 0) return errno;
    if (ambient != 1) return EPERM;
  }
  if (prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) != static_cast<int>(bits)) return EPERM;
  return 0;
}

}  // namespace

// Step 2 makes the stdio 0, 1, 2: a plan fd there would be overwritten, and
// the child would exec, restrict itself with, or hand the command the wrong
// file.
const char* plan_fd_on_stdio(const ChildPlan& plan) noexcept {
  const struct {
    int fd;
    const char* name;
  } fds[] = {{plan.exec_fd, "exec fd"},       {plan.ruleset_fd, "ruleset fd"}, {plan.inherit_fd, "inherited fd"},
             {plan.channel_fd, "channel fd"}, {plan.gate_fd, "gate fd"},       {plan.error_fd, "error fd"}};
  for (const auto& f : fds)
    if (f.fd >= 0 && f.fd <= STDERR_FILENO) return f.name;
  return nullptr;
}

void confine_and_exec(const ChildPlan& plan) noexcept {
  if (plan.exec_fd < 0 || plan.argv == nullptr || plan.envp == nullptr) fail(plan, ConfineStep::Plan, EINVAL);
  if (plan.require_confinement && (plan.ruleset_fd < 0 || plan.seccomp == nullptr))
    fail(plan, ConfineStep::Plan, EINVAL);
  if (plan_fd_on_stdio(plan) != nullptr) fail(plan, ConfineStep::Plan, EBADF);

  if (int err = reset_signals(plan)) fail(plan, ConfineStep::Signals, err);

  if (int err = apply_stdio(plan.stdio)) fail(plan, ConfineStep::Stdio, err);

  const int keep[6] = {plan.exec_fd, plan.error_fd, plan.ruleset_fd, plan.inherit_fd, plan.channel_fd, plan.gate_fd};
  if (int err = close_other_fds(keep, 6)) fail(plan, ConfineStep::CloseFds, err);
  // The fds the command is meant to get (a script's sealed copy, /dev/fd/N;
  // the nested-run channel).
  for (int fd : {plan.inherit_fd, plan.channel_fd}) {
    if (fd < 0) continue;
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) fail(plan, ConfineStep::CloseFds, errno);
  }
  if (plan.error_fd >= 0)
    if (int err = set_cloexec(plan.error_fd)) fail(plan, ConfineStep::CloseFds, err);
  if (plan.ruleset_fd >= 0)
    if (int err = set_cloexec(plan.ruleset_fd)) fail(plan, ConfineStep::CloseFds, err);
  if (plan.gate_fd >= 0)
    if (int err = set_cloexec(plan.gate_fd)) fail(plan, ConfineStep::CloseFds, err);

  if (plan.credentials.apply) {
    ConfineStep step = ConfineStep::CapBound;
    if (int err = apply_credentials(plan.credentials, step)) fail(plan, step, err);
  } else if (plan.credentials.drop_caps != 0) {
    ConfineStep step = ConfineStep::CapBound;
    if (int err = drop_capabilities(plan.credentials.drop_caps, step)) fail(plan, step, err);
  }

  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail(plan, ConfineStep::DeathSignal, errno);
  // gx may have died between fork and prctl: then nobody would kill us.
  if (plan.parent_pid != 0 && getppid() != plan.parent_pid) fail(plan, ConfineStep::ParentGone, ESRCH);

  if (plan.new_session && setsid() < 0) fail(plan, ConfineStep::Setsid, errno);
  if (plan.cwd != nullptr && chdir(plan.cwd) != 0) fail(plan, ConfineStep::Chdir, errno);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(plan, ConfineStep::NoNewPrivs, errno);

  if (plan.ruleset_fd >= 0) {
    if (ll::restrict_self(plan.ruleset_fd, plan.landlock_flags) != 0) fail(plan, ConfineStep::Landlock, errno);
    close(plan.ruleset_fd);
  }
  if (plan.notify_filter != nullptr) {
    if (plan.error_fd < 0) fail(plan, ConfineStep::ExecGuard, EINVAL);
    int listener = seccomp::install_listener(plan.notify_filter);
    if (listener < 0) fail(plan, ConfineStep::ExecGuard, -listener);
    if (int err = send_listener(plan.error_fd, listener)) fail(plan, ConfineStep::ExecGuard, err);
    close(listener);
  }
  // Under a filter that lets the gate be read and closed, installed while
  // gx still syncs: its ~0.1 ms is then not between the gate and the exec.
  const bool filter_first = plan.seccomp != nullptr && plan.seccomp_before_gate;
  if (filter_first)
    if (int err = seccomp::install_filter(plan.seccomp, plan.seccomp_flags)) fail(plan, ConfineStep::Seccomp, err);
  if (plan.gate_fd >= 0) {
    char go = 0;
    ssize_t n;
    while ((n = read(plan.gate_fd, &go, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) fail(plan, ConfineStep::Gate, n < 0 ? errno : EPIPE);
    close(plan.gate_fd);
  }
  if (plan.seccomp != nullptr && !filter_first)
    if (int err = seccomp::install_filter(plan.seccomp, plan.seccomp_flags)) fail(plan, ConfineStep::Seccomp, err);

  execveat(plan.exec_fd, "", plan.argv, plan.envp, AT_EMPTY_PATH);
  fail(plan, ConfineStep::Exec, errno);
}

}  // namespace gx
