#include "lib/supervise.h"

#include <dirent.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "lib/clock.h"
#include "lib/fsutil.h"

namespace gx {
namespace {
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
}

void reset_ignored_sigchld() {
  struct sigaction cur {};
  if (sigaction(SIGCHLD, nullptr, &cur) == 0 && cur.sa_handler == SIG_IGN) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, nullptr);
  }
}

SignalGuard::SignalGuard() {
  sigemptyset(&set_);
  for (int s : kForwarded) sigaddset(&set_, s);
  sigaddset(&set_, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set_, &old_);
  // Blocked SIG_DFL is what we want.
  reset_ignored_sigchld();
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
    // Orphans re-parented to gx (subreaper) that have exited: reap them, but
    // look first (WNOWAIT) so the direct child is left to wait4 above.
    for (;;) {
      siginfo_t si{};
      if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0 || si.si_pid == pid) break;
      waitpid(si.si_pid, nullptr, WNOHANG);
    }
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

Decision become_subreaper() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    return Decision::deny(DenyReason::SandboxUnavailable,
                          "prctl(PR_SET_CHILD_SUBREAPER) failed: " + fs::errno_text(errno), "supervisor");
  return Decision::allow();
}

namespace {

int64_t mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// Children of `pid` (every thread's list). False when /proc cannot tell.
bool children_of(pid_t pid, std::vector<pid_t>& out) {
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return false;
  bool any = false;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto text = fs::read_file(dir + "/" + e->d_name + "/children", 1 << 20);
    if (!text) continue;
    any = true;
    const char* p = text->c_str();
    while (*p != '\0') {
      char* end = nullptr;
      long v = strtol(p, &end, 10);
      if (end == p) break;
      if (v > 0) out.push_back(static_cast<pid_t>(v));
      p = end;
      while (*p == ' ' || *p == '\n') ++p;
    }
  }
  closedir(d);
  return any;
}

// Reaps exited children; false when gx has no child left at all.
bool reap_exited() {
  for (;;) {
    pid_t r = waitpid(-1, nullptr, WNOHANG);
    if (r > 0) continue;
    if (r < 0 && errno == EINTR) continue;
    return !(r < 0 && errno == ECHILD);
  }
}

}  // namespace

DescendantCleanup terminate_descendants(pid_t child_pgid, int grace_ms, int limit_ms) {
  DescendantCleanup out;
  std::set<pid_t> signalled;
  if (!reap_exited()) return out;  // nothing left: the common case costs one waitpid
  const pid_t self = getpid();

  // SIGTERM to the whole remaining tree, as far as /proc shows it.
  std::vector<pid_t> tree;
  bool proc_ok = children_of(self, tree);
  for (size_t i = 0; i < tree.size() && tree.size() < 100000; ++i) children_of(tree[i], tree);
  for (pid_t p : tree)
    if (kill(p, SIGTERM) == 0) signalled.insert(p);
  if (!proc_ok && child_pgid > 0) kill(-child_pgid, SIGTERM);
  const int64_t start = mono_ms();
  while (mono_ms() - start < grace_ms) {
    if (!reap_exited()) {
      out.killed = static_cast<int64_t>(signalled.size());
      return out;
    }
    sleep_ms(10);
  }

  // SIGKILL, generation by generation: killing gx's children orphans their
  // children to gx, which the next round finds.
  for (;;) {
    if (!reap_exited()) break;
    std::vector<pid_t> kids;
    if (children_of(self, kids)) {
      for (pid_t p : kids)
        if (kill(p, SIGKILL) == 0) signalled.insert(p);
    } else {
      proc_ok = false;
      if (child_pgid > 0) kill(-child_pgid, SIGKILL);
    }
    if (mono_ms() - start > grace_ms + limit_ms) {
      out.complete = false;
      out.note = proc_ok ? "descendants still alive after SIGKILL (uninterruptible sleep?)"
                         : "/proc/<pid>/task/*/children is unreadable: only the child's process group was killed";
      break;
    }
    sleep_ms(5);
  }
  out.killed = static_cast<int64_t>(signalled.size());
  return out;
}

OwnLimits OwnLimits::save() {
  OwnLimits l;
  for (int r = 0; r < RLIM_NLIMITS; ++r)
    l.ok_[static_cast<size_t>(r)] =
        getrlimit(static_cast<__rlimit_resource>(r), &l.saved_[static_cast<size_t>(r)]) == 0;
  signal(SIGXFSZ, SIG_IGN);
  signal(SIGXCPU, SIG_IGN);
  return l;
}

std::vector<std::string> OwnLimits::restore() const {
  static const char* const kNames[] = {"RLIMIT_CPU",      "RLIMIT_FSIZE", "RLIMIT_DATA",   "RLIMIT_STACK",
                                       "RLIMIT_CORE",     "RLIMIT_RSS",   "RLIMIT_NPROC",  "RLIMIT_NOFILE",
                                       "RLIMIT_MEMLOCK",  "RLIMIT_AS",    "RLIMIT_LOCKS",  "RLIMIT_SIGPENDING",
                                       "RLIMIT_MSGQUEUE", "RLIMIT_NICE",  "RLIMIT_RTPRIO", "RLIMIT_RTTIME"};
  std::vector<std::string> notes;
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    auto i = static_cast<size_t>(r);
    auto res = static_cast<__rlimit_resource>(r);
    struct rlimit now {};
    if (!ok_[i] || getrlimit(res, &now) != 0) continue;
    if (now.rlim_cur >= saved_[i].rlim_cur && now.rlim_max >= saved_[i].rlim_max) continue;
    std::string name = r < static_cast<int>(sizeof kNames / sizeof *kNames) ? kNames[r] : "RLIMIT_" + std::to_string(r);
    std::string what = name + " of gx was lowered to " + std::to_string(now.rlim_cur) + "/" +
                       std::to_string(now.rlim_max) + " while the child ran";
    if (setrlimit(res, &saved_[i]) == 0) {
      notes.push_back(what + "; restored");
      continue;
    }
    struct rlimit best = now;
    best.rlim_cur = now.rlim_max;  // the most an unprivileged process may set
    setrlimit(res, &best);
    notes.push_back(what + "; could not restore it (" + fs::errno_text(errno) + ")");
  }
  return notes;
}

}  // namespace gx
