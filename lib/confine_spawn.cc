#include "lib/confine_spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "lib/confine.h"
#include "lib/exec_guard.h"
#include "lib/fd_passing.h"
#include "lib/fsutil.h"

extern char** environ;

namespace gx {

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
    case ConfineStep::ExecGuard: return "exec guard (seccomp user notification)";
    case ConfineStep::Died: return "exec";
    case ConfineStep::Stdio: return "stdio dup2";
    case ConfineStep::CapBound: return "prctl(PR_CAPBSET_DROP)";
    case ConfineStep::Securebits: return "prctl(PR_SET_SECUREBITS)";
    case ConfineStep::Setgroups: return "setgroups";
    case ConfineStep::Setresgid: return "setresgid";
    case ConfineStep::Setresuid: return "setresuid";
    case ConfineStep::IdentityCheck: return "identity check";
    case ConfineStep::Capset: return "capset";
    case ConfineStep::AmbientCaps: return "prctl(PR_CAP_AMBIENT)";
    case ConfineStep::CapCheck: return "capability check";
  }
  return "unknown step";
}

Decision confine_failure_decision(const ConfineFailure& f) {
  auto step = static_cast<ConfineStep>(f.step);
  const char* name = strerrorname_np(f.err);
  std::string detail = std::string(confine_step_name(step)) +
                       " failed: " + (name != nullptr ? name : std::to_string(f.err)) + " (" + fs::errno_text(f.err) +
                       ")";
  if (step == ConfineStep::Exec && f.err == EACCES)
    detail += "; under Landlock the ELF or script interpreter needs the execute right";
  if (step == ConfineStep::Exec && f.err == ENOENT) detail += "; a close-on-exec fd cannot run a #! script";
  if (step == ConfineStep::ExecGuard && f.err == EBUSY)
    detail +=
        "; another seccomp listener is active above gx (a container runtime?): "
        "exec = [] cannot be enforced here";
  const bool credentials =
      f.step >= static_cast<int32_t>(ConfineStep::CapBound) && f.step <= static_cast<int32_t>(ConfineStep::CapCheck);
  DenyReason reason = (step == ConfineStep::Chdir || step == ConfineStep::Exec) ? DenyReason::IoError
                      : credentials                                             ? DenyReason::RunAsUnavailable
                                                                                : DenyReason::SandboxUnavailable;
  return Decision::deny(reason, detail, "confine", std::string(confine_step_name(step)));
}

int never_execed(pid_t pid) {
  auto stat = fs::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat) return -EIO;
  // Fields after the command name, which ends at the LAST ')': state ppid
  // pgrp session tty_nr tpgid flags ...
  auto close_paren = stat->rfind(')');
  if (close_paren == std::string::npos) return -EPROTO;
  const char* p = stat->c_str() + close_paren + 1;
  unsigned long flags = 0;
  for (int field = 0; field < 7; ++field) {
    while (*p == ' ') ++p;
    if (*p == '\0') return -EPROTO;
    if (field == 6) {
      char* end = nullptr;
      flags = strtoul(p, &end, 10);
      if (end == p) return -EPROTO;
    }
    while (*p != ' ' && *p != '\0') ++p;
  }
  constexpr unsigned long kPfForkNoExec = 0x00000040;  // include/linux/sched.h
  return (flags & kPfForkNoExec) != 0 ? 1 : 0;
}

namespace {

// One message from the child: a ConfineFailure, possibly carrying an fd.
// Returns bytes read (0 at EOF, <0 on error); *fd gets a passed fd or -1.
ssize_t recv_message(int channel, ConfineFailure& f, int* fd) {
  *fd = -1;
  ReceivedFds r = recv_fds(channel, &f, sizeof f);
  if (r.bytes < 0) return r.bytes;
  if (r.fds_truncated || r.data_truncated || r.count > 1) {
    r.close_all();
    return -EPROTO;
  }
  if (r.count == 1) *fd = r.fds[0];
  return r.bytes;
}

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace

Result<pid_t> spawn_confined(const ChildPlan& plan, SpawnInfo* info) {
  SpawnInfo local;
  SpawnInfo& out = info != nullptr ? *info : local;
  out = SpawnInfo{};
  // A unix socket rather than a pipe: it can carry the exec guard's fd.
  // Like a pipe, it reads EOF once the child's end is closed, by exec
  // (CLOEXEC) or by the child's death.
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return Decision::deny(DenyReason::IoError, "socketpair failed: " + fs::errno_text(errno), "confine");
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(sv[0]);
    close(sv[1]);
    return Decision::deny(DenyReason::IoError, "fork failed: " + fs::errno_text(err), "confine");
  }
  if (pid == 0) {
    ChildPlan p = plan;  // trivially copyable: a stack copy, no allocation
    p.error_fd = sv[1];
    close(sv[0]);
    confine_and_exec(p);
  }
  close(sv[1]);
  out.pid = pid;
  ConfineFailure f{};
  bool failed = false;
  int listener = -1;
  bool listener_live = false;
  bool first_exec_allowed = false;
  for (;;) {
    pollfd fds[2] = {{sv[0], POLLIN, 0}, {listener, POLLIN, 0}};
    int n = poll(fds, listener_live ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      f = {static_cast<int32_t>(ConfineStep::Plan), errno};
      failed = true;
      break;
    }
    if (listener_live && (fds[1].revents & POLLIN) != 0) {
      // The child blocks in its execveat until this answer.
      int r = exec_guard_answer(listener, pid, plan.exec_fd, !first_exec_allowed);
      if (r == 1) first_exec_allowed = true;
      if (r == 0) ++out.exec_refused;
      if (r < 0 && r != -ENOENT && r != -EINTR) {
        // Cannot answer (an outer sandbox refuses the notify ioctls): closing
        // the listener fails the child's exec (ENOSYS), so it reports a
        // failure and never runs, instead of both sides waiting forever.
        close(listener);
        listener = -1;
        listener_live = false;
      }
      continue;
    }
    if (listener_live && (fds[1].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) listener_live = false;
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    int passed = -1;
    ssize_t got = recv_message(sv[0], f, &passed);
    if (got == -EINTR) continue;
    if (got == 0) break;  // EOF: exec'd, or dead
    if (got != static_cast<ssize_t>(sizeof f)) {
      if (passed >= 0) close(passed);
      f = {static_cast<int32_t>(ConfineStep::Plan), EPROTO};
      failed = true;
      break;
    }
    if (f.step == 0 && passed >= 0 && listener < 0 && plan.notify_filter != nullptr) {
      listener = passed;
      listener_live = true;
      continue;
    }
    if (passed >= 0) close(passed);
    failed = true;
    break;
  }
  close(sv[0]);
  if (!failed) {
    // EOF: did the child exec? Ask the kernel, before reaping.
    int never = never_execed(pid);
    if (never != 1) {
      out.exec_listener = listener;
      return pid;
    }
    f = {static_cast<int32_t>(ConfineStep::Died), 0};
  } else {
    kill(pid, SIGKILL);  // a protocol error leaves it alive; a failed step is exiting anyway
  }
  if (listener >= 0) close(listener);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (f.step != static_cast<int32_t>(ConfineStep::Died)) return confine_failure_decision(f);
  out.wait_status = status;
  std::string how = WIFSIGNALED(status) ? "was killed by " + signal_text(WTERMSIG(status))
                                        : "exited with status " + std::to_string(WEXITSTATUS(status));
  std::string detail = "the program never started: gx's child " + how + " before its exec completed";
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
    detail += " (the seccomp filter kills execveat, which gx needs to start the program)";
  return Decision::deny(
      WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS ? DenyReason::SandboxUnavailable : DenyReason::IoError, detail,
      "confine", "execveat");
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
    return Decision::deny(DenyReason::SandboxUnavailable, "cannot make gx non-dumpable: " + fs::errno_text(errno),
                          "supervisor");
  wipe_original_environment();
  return Decision::allow();
}

CStringArray::CStringArray(std::vector<std::string> items) : items_(std::move(items)) {
  ptrs_.reserve(items_.size() + 1);
  for (auto& s : items_) ptrs_.push_back(s.data());
  ptrs_.push_back(nullptr);
}

}  // namespace gx
