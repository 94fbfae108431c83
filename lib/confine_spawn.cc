#include "lib/confine_spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include "lib/confine.h"
#include "lib/exec_guard.h"
#include "lib/fd_passing.h"
#include "lib/fsutil.h"
#include "lib/side_task.h"

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
    case ConfineStep::Gate: return "go-ahead from gx";
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

void (*spawn_reader_released_hook)(pid_t child) = nullptr;

// What the child's side of the channel said before its exec (or death).
struct SpawnHandshake {
  ConfineFailure failure{};
  bool failed = false;
  int listener = -1;  // the exec guard's, once received
  uint64_t exec_refused = 0;
};

// What spawn_confined shares with its handshake reader thread, on the heap
// (SpawnInfo::reader): once `released` is set, the reader touches nothing
// spawn_confined reads, and spawn_confined goes on without joining it. The
// reader sets it just before the answer or the gate byte that lets the
// child exec -- and the child it lets go often takes its CPU at once
// (~0.3 ms of the program's start, docs/performance.md), so waiting for the
// reader to return would put that on the run's critical path.
struct SpawnReader {
  fs::UniqueFd gate_read, gate_write;  // closed with the reader: no gate byte meets a pipe without one (SIGPIPE)
  Decision gate_decision = Decision::allow();
  SpawnHandshake h;
  volatile pid_t child_tid = 0;
  std::atomic<bool> released{false};
  // The reader runs on another CPU when there is one (lib/side_task.h): its
  // gate work (the receipt's reservation, writing and fdatasync) goes on
  // while the child sets itself up, which it would otherwise share a CPU
  // with. On one CPU, a plain thread. Or a thread that was there already
  // (ReaderHost): `hosted`, and its work sets `hosted_over` as its last step.
  std::unique_ptr<SideTask> side;
  std::thread thread;
  bool hosted = false;
  std::atomic<bool> hosted_over{false};
  SpawnReader() = default;
  SpawnReader(const SpawnReader&) = delete;
  SpawnReader& operator=(const SpawnReader&) = delete;
  ~SpawnReader() { join(); }
  bool joinable() const { return side != nullptr || thread.joinable() || hosted; }
  void join() {
    if (side) side->wait();
    side.reset();
    if (thread.joinable()) thread.join();
    if (hosted)
      while (!hosted_over.load(std::memory_order_acquire)) hosted_over.wait(false, std::memory_order_acquire);
    hosted = false;
  }
};

namespace {

// Reads the spawn channel until EOF (exec'd, or dead) or a ConfineFailure,
// answering the exec guard's first notification on the way. `child` is
// read only when a notification arrives: the kernel has stored the pid
// (CLONE_PARENT_SETTID) before the child could run. With `released`: it
// is set just before gx's own exec is let go, and the reader returns after
// that answer, touching `h` no more (the caller reads the rest) -- unless
// the answer failed and the child would wait in its exec forever: then it
// closes the listener (the exec fails with ENOSYS), which it may, since
// nothing can go on until the child has died of it. Without `may_exec`
// (before_exec denied the run) even gx's own exec is refused: the child's
// execveat fails with EPERM and it reports that.
void read_handshake(int channel, const ChildPlan& plan, const volatile pid_t* child, SpawnHandshake& h,
                    std::atomic<bool>* released = nullptr, bool may_exec = true) {
  bool listener_live = false;
  bool first_exec_allowed = false;
  for (;;) {
    pollfd fds[2] = {{channel, POLLIN, 0}, {h.listener, POLLIN, 0}};
    int n = poll(fds, listener_live ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      h.failure = {static_cast<int32_t>(ConfineStep::Plan), errno};
      h.failed = true;
      return;
    }
    if (listener_live && (fds[1].revents & POLLIN) != 0) {
      // The child blocks in its execveat until this answer.
      std::function<void()> release;
      if (released != nullptr)
        release = [released, child] {
          released->store(true);
          if (spawn_reader_released_hook != nullptr) spawn_reader_released_hook(*child);
        };
      int r = exec_guard_answer(h.listener, *child, plan.exec_fd, may_exec && !first_exec_allowed, release);
      if (released != nullptr && released->load()) {
        if (r < 0 && r != -ENOENT) {
          int listener = h.listener;
          h.listener = -1;
          close(listener);
        }
        return;
      }
      if (r == 1) first_exec_allowed = true;
      if (r == 0) ++h.exec_refused;
      if (r < 0 && r != -ENOENT && r != -EINTR) {
        // Cannot answer (an outer sandbox refuses the notify ioctls): closing
        // the listener fails the child's exec (ENOSYS), so it reports a
        // failure and never runs, instead of both sides waiting forever.
        close(h.listener);
        h.listener = -1;
        listener_live = false;
      }
      continue;
    }
    if (listener_live && (fds[1].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) listener_live = false;
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    int passed = -1;
    ssize_t got = recv_message(channel, h.failure, &passed);
    if (got == -EINTR) continue;
    if (got == 0) return;  // EOF: exec'd, or dead
    if (got != static_cast<ssize_t>(sizeof h.failure)) {
      if (passed >= 0) close(passed);
      h.failure = {static_cast<int32_t>(ConfineStep::Plan), EPROTO};
      h.failed = true;
      return;
    }
    if (h.failure.step == 0 && passed >= 0 && h.listener < 0 && plan.notify_filter != nullptr) {
      h.listener = passed;
      listener_live = true;
      continue;
    }
    if (passed >= 0) close(passed);
    h.failed = true;
    return;
  }
}

struct CloneArgs {
  const ChildPlan* plan;
  int child_end;
  int parent_end;
};

int child_main(void* arg) {
  const auto* a = static_cast<const CloneArgs*>(arg);
  ChildPlan p = *a->plan;  // trivially copyable: a stack copy, no allocation
  p.error_fd = a->child_end;
  close(a->parent_end);  // the child's own fd table (no CLONE_FILES)
  confine_and_exec(p);
}

// The child's stack: CLONE_VM shares gx's memory, so it cannot run on gx's.
// Only the pages it touches are ever allocated (a few).
constexpr size_t kChildStackBytes = 1 << 20;

// AddressSanitizer cannot follow a child that runs on a foreign stack in
// gx's own memory: its no-return hook poisons and unpoisons shadow that the
// parent shares. Sanitizer builds fork instead (same child code, same
// handshake); release builds never take this path.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kShareMemory = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kShareMemory = false;
#else
constexpr bool kShareMemory = true;
#endif
#else
constexpr bool kShareMemory = true;
#endif

// After the handshake: reaps a child that never exec'd and turns what it
// reported into a decision; otherwise hands back the running child.
Result<pid_t> finish_spawn(pid_t pid, int channel, SpawnReader& rd, SpawnInfo& out);
}  // namespace

bool spawn_shares_memory() { return kShareMemory; }

Result<pid_t> spawn_confined(const ChildPlan& plan_in, SpawnInfo* info, const BeforeExec& before_exec,
                             const ReaderHost& host) {
  SpawnInfo local;
  SpawnInfo& out = info != nullptr ? *info : local;
  out = SpawnInfo{};
  // Refused here with a message rather than by the child's step 0.
  if (const char* what = plan_fd_on_stdio(plan_in))
    return Decision::deny(DenyReason::InvalidValue, std::string("the child's ") + what + " is a standard stream",
                          "confine", what);
  // before_exec alongside the child's set-up: on the handshake reader (a
  // thread started for it when there is no exec guard to answer, or the
  // caller's ReaderHost), or the parent itself after fork.
  const bool gated = static_cast<bool>(before_exec);
  const bool guarded = plan_in.notify_filter != nullptr;  // the exec guard answers gx's own exec
  ChildPlan plan = plan_in;                               // trivially copyable; the child reads this copy
  auto reader = std::make_shared<SpawnReader>();
  SpawnReader& rd = *reader;
  // With the exec guard, the child's execveat is held by the kernel until
  // gx answers it, and gx answers only after before_exec: that answer is the
  // gate. A gate pipe besides it would cost the child a wake-up and gx a
  // second one (its byte, then the notification) after the receipt's sync.
  if (gated && !guarded) {
    int g[2];
    if (pipe2(g, O_CLOEXEC) != 0)
      return Decision::deny(DenyReason::IoError, "pipe2 failed: " + fs::errno_text(errno), "confine");
    // Never on 0..2 (gx started with a closed stream): the child keeps those
    // through its fd cleanup and overwrites them with its stdio.
    rd.gate_read = fs::UniqueFd(fs::move_above_std_fds(g[0]));
    rd.gate_write = fs::UniqueFd(fs::move_above_std_fds(g[1]));
    if (!rd.gate_read.ok() || !rd.gate_write.ok())
      return Decision::deny(DenyReason::IoError, "gate pipe: " + fs::errno_text(errno), "confine");
    plan.gate_fd = rd.gate_read.get();
  }
  // Without the exec guard one byte lets the child exec, and closing the
  // pipe without it fails the child at its gate; the byte is what lets the
  // child go, so the reader is released just before it (the decision is set
  // by then). With the guard the decision is the handshake's `may_exec`.
  // Runs once, on whichever thread is free.
  auto open_gate = [&before_exec, &rd, gated, guarded] {
    if (!gated) return;
    // An exception must not escape: on the reader thread it would terminate
    // gx, after fork it would leave the child unreaped. Denied instead.
    Decision d = Decision::allow();
    try {
      d = before_exec();
    } catch (const std::exception& e) {
      d = Decision::deny(DenyReason::IoError, std::string("before exec: ") + e.what(), "confine");
    } catch (...) {
      d = Decision::deny(DenyReason::IoError, "before exec: unknown exception", "confine");
    }
    const bool go_ahead = d.allowed();
    rd.gate_decision = std::move(d);  // noexcept: nothing can throw past the decision
    if (guarded) return;              // the handshake answers with the decision (no pipe)
    fs::UniqueFd gate = std::move(rd.gate_write);
    rd.released = true;
    if (go_ahead) {
      const char go = 1;
      ssize_t n;
      while ((n = write(gate.get(), &go, 1)) < 0 && errno == EINTR) {
      }
    }
  };
  // A gate the child failed at is before_exec's denial, not the child's.
  auto result = [&](Result<pid_t> r) -> Result<pid_t> {
    if (rd.gate_decision) return r;
    if (r) {  // cannot happen (no byte, no exec); never leave it running
      kill(*r, SIGKILL);
      while (waitpid(*r, nullptr, 0) < 0 && errno == EINTR) {
      }
      if (out.exec_listener >= 0) close(out.exec_listener);
      out.exec_listener = -1;
    }
    return rd.gate_decision;
  };
  // A unix socket rather than a pipe: it can carry the exec guard's fd.
  // Like a pipe, it reads EOF once the child's end is closed, by exec
  // (CLOEXEC) or by the child's death.
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return Decision::deny(DenyReason::IoError, "socketpair failed: " + fs::errno_text(errno), "confine");
  sv[0] = fs::move_above_std_fds(sv[0]);
  sv[1] = fs::move_above_std_fds(sv[1]);
  if (sv[0] < 0 || sv[1] < 0) {
    int err = errno;
    if (sv[0] >= 0) close(sv[0]);
    if (sv[1] >= 0) close(sv[1]);
    return Decision::deny(DenyReason::IoError, "error channel: " + fs::errno_text(err), "confine");
  }
  SpawnHandshake& h = rd.h;
  CloneArgs args{&plan, sv[1], sv[0]};
  sigset_t all, old;
  sigfillset(&all);
  if constexpr (!kShareMemory) {
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) child_main(&args);
    int fork_err = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    close(sv[1]);
    if (pid < 0) {
      close(sv[0]);
      return Decision::deny(DenyReason::IoError, "fork failed: " + fs::errno_text(fork_err), "confine");
    }
    rd.child_tid = pid;
    out.pid = pid;
    open_gate();
    read_handshake(sv[0], plan, &rd.child_tid, h, nullptr, rd.gate_decision.allowed());
    return result(finish_spawn(pid, sv[0], rd, out));
  }
  void* stack = mmap(nullptr, kChildStackBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    int err = errno;
    close(sv[0]);
    close(sv[1]);
    return Decision::deny(DenyReason::IoError, "child stack: " + fs::errno_text(err), "confine");
  }
  // CLONE_VM | CLONE_VFORK (as posix_spawn does): no copy of gx's page
  // tables and no copy-on-write fault on every page gx writes afterwards —
  // with fork that was the largest cost of a run on a VM where a page fault
  // costs ~10 us (docs/performance.md). This thread sleeps until the child
  // has exec'd or exited; the child runs confine_and_exec, which is
  // async-signal-safe, on its own stack, and shares only this suspended
  // thread's TLS (errno). With the exec guard the child blocks in its exec
  // until the first notification is answered, so a second thread reads the
  // handshake; so it does when there is a before_exec, which it runs first,
  // while the child sets itself up (its fdatasync would otherwise precede
  // the clone: ~0.3 ms, docs/performance.md) -- a thread started here, or
  // one the caller has (ReaderHost). Once the reader has let the
  // child go (SpawnReader::released) this thread reads the rest of the
  // handshake itself and leaves the reader to SpawnInfo.
  // Every signal is blocked across the clone: the child inherits
  // the mask and resets dispositions before it unblocks (reset_signals), so
  // no handler of gx's ever runs in the child on gx's memory.
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const bool threaded = guarded || gated;
  pid_t pid = -1;
  int clone_err = 0;
  try {
    if (threaded) {
      // Nothing of this frame is touched after `released` (open_gate's own
      // last steps use its locals; `guarded` is a copy).
      // SideTask swallows what escapes a step; here that would leave the
      // child at its gate and this thread in the clone for good: abort.
      auto body = [&rd, &open_gate, &plan, channel = sv[0], guarded] {
        try {
          open_gate();
          if (guarded) read_handshake(channel, plan, &rd.child_tid, rd.h, &rd.released, rd.gate_decision.allowed());
        } catch (...) {
          std::terminate();
        }
      };
      // A host's work keeps the reader alive (its copy of `reader`) until
      // it has said that it is over: nothing waits for it past that.
      if (gated && host)
        rd.hosted = host([body, keep = reader] {
          body();
          keep->hosted_over.store(true, std::memory_order_release);
          keep->hosted_over.notify_all();
        });
      if (!rd.hosted) rd.side = SideTask::start({body});
      if (!rd.hosted && !rd.side) rd.thread = std::thread(body);
    }
    pid = clone(child_main, static_cast<char*>(stack) + kChildStackBytes,
                CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID | SIGCHLD, &args, const_cast<pid_t*>(&rd.child_tid));
    clone_err = errno;
  } catch (const std::system_error& e) {  // no thread, hence no clone
    pid = -1;
    clone_err = e.code().value();
  } catch (const std::bad_alloc&) {
    pid = -1;
    clone_err = ENOMEM;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(sv[1]);  // also ends the reader when the clone failed: EOF
  // Not released: the child died before its exec (or was never started),
  // and the reader is still at its gate or its handshake; it ends now.
  if (rd.joinable() && !rd.released.load()) rd.join();
  munmap(stack, kChildStackBytes);
  if (pid < 0) {
    rd.join();
    close(sv[0]);
    if (h.listener >= 0) close(h.listener);
    if (!rd.gate_decision) return rd.gate_decision;
    return Decision::deny(DenyReason::IoError, "clone failed: " + fs::errno_text(clone_err), "confine");
  }
  out.pid = pid;
  // What the reader did not read (all of it without the exec guard).
  if (!threaded || rd.released.load()) read_handshake(sv[0], plan, &rd.child_tid, h);
  out.reader = reader;  // joined when the caller drops it
  return result(finish_spawn(pid, sv[0], rd, out));
}

namespace {

Result<pid_t> finish_spawn(pid_t pid, int channel, SpawnReader& rd, SpawnInfo& out) {
  SpawnHandshake& h = rd.h;
  ConfineFailure& f = h.failure;
  const bool failed = h.failed;
  out.exec_refused = h.exec_refused;
  close(channel);
  if (!failed) {
    // EOF: did the child exec? Ask the kernel, before reaping.
    int never = never_execed(pid);
    // Exec'd: the reader's answer was delivered (no CONTINUE, no exec), so
    // it touches the listener no more.
    if (never != 1) {
      out.exec_listener = h.listener;
      return pid;
    }
    f = {static_cast<int32_t>(ConfineStep::Died), 0};
  } else {
    kill(pid, SIGKILL);  // a protocol error leaves it alive; a failed step is exiting anyway
  }
  // Never started: a reader released at gx's own exec may still be in its
  // answer, and close the listener if that fails -- after this closed it,
  // the number reused by then (review helper-46). It ends first.
  rd.join();
  if (h.listener >= 0) close(h.listener);
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
