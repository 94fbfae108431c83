#include "lib/learn_observe.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "lib/confine.h"
#include "lib/fd_passing.h"
#include "lib/fsutil.h"
#include "lib/learn_recorder.h"
#include "seccomp/bpf.h"

namespace gx {
namespace {

// Receives the listener fd (or the child's failure) from the socketpair.
Result<int> receive_listener(int sock) {
  ConfineFailure f{-1, 0};
  ReceivedFds r;
  do {
    r = recv_fds(sock, &f, sizeof f);
  } while (r.bytes == -EINTR);
  const ssize_t n = r.bytes;
  if (n == static_cast<ssize_t>(sizeof f) && f.step == 0 && r.count == 1) return r.fds[0];
  r.close_all();
  if (n == static_cast<ssize_t>(sizeof f) && f.step > 0) return confine_failure_decision(f);
  return Decision::deny(DenyReason::SandboxUnavailable,
                        "the observed child ended before handing over its seccomp listener", "learn");
}

}  // namespace

Result<Observation> observe_run(const MatchedInvocation& m, const ObserveOptions& options) {
  seccomp_notif_sizes sizes{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
    return Decision::deny(DenyReason::SandboxUnavailable,
                          "seccomp user notification is unavailable: " + fs::errno_text(errno), "learn");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return Decision::deny(DenyReason::IoError, "socketpair: " + fs::errno_text(errno), "learn");
  fs::UniqueFd ours(sv[0]), theirs(sv[1]);

  // gx run's child sequence (lib/confine.h) without Landlock and the main
  // filter: its notify step installs the observer and hands the listener over.
  CStringArray argv(m.argv), envp(m.env);
  std::vector<sock_filter> program = seccomp::observe_program(theirs.get());
  sock_fprog prog{static_cast<unsigned short>(program.size()), program.data()};
  ChildPlan plan;
  plan.exec_fd = m.image.fd();
  plan.inherit_fd = m.inherit_fd();
  plan.error_fd = theirs.get();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.cwd = m.cwd.c_str();
  plan.notify_filter = &prog;
  plan.parent_pid = getpid();
  if (options.stdout_to_stderr) plan.stdio[1] = 2;
  plan.signals = options.signals;
  plan.require_confinement = false;  // observation only: the command runs unconfined

  fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) return Decision::deny(DenyReason::IoError, "fork: " + fs::errno_text(errno), "learn");
  if (pid == 0) confine_and_exec(plan);
  theirs = fs::UniqueFd();

  auto reap = [&]() {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
  };
  auto got = receive_listener(ours.get());
  if (!got) {
    kill(pid, SIGKILL);
    reap();
    return got.error();
  }
  fs::UniqueFd listener(*got);
  fs::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));

  std::vector<char> req_buf(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)));
  std::vector<char> resp_buf(std::max<size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)));
  SyscallRecorder rec(pid);
  std::optional<ConfineFailure> exec_failure;
  bool root_done = false, sock_open = true, hup = false;
  int status = 0;
  while (true) {
    pollfd fds[3] = {{listener.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}, {ours.get(), POLLIN, 0}};
    if (root_done || pidfd.get() < 0) fds[1].fd = -1;
    if (!sock_open) fds[2].fd = -1;
    int ready = poll(fds, 3, root_done || pidfd.get() < 0 ? kIdleAfterExitMs : -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (ready == 0) {
      if (root_done) break;
      // no pidfd: poll the root's state
      if (waitpid(pid, &status, WNOHANG) == pid) root_done = true;
      continue;
    }
    if (fds[2].revents != 0) {
      ConfineFailure f{};
      ssize_t n = recv(ours.get(), &f, sizeof f, MSG_DONTWAIT);
      if (n == static_cast<ssize_t>(sizeof f) && f.step > 0) exec_failure = f;
      if (n <= 0 && !(n < 0 && errno == EAGAIN)) sock_open = false;  // closed by exec (CLOEXEC)
    }
    if (fds[0].revents & POLLIN) {
      auto* req = reinterpret_cast<seccomp_notif*>(req_buf.data());
      memset(req_buf.data(), 0, req_buf.size());
      if (ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
        if (errno == EINTR || errno == ENOENT) continue;
        break;
      }
      rec.on_notification(listener.get(), *req);
      auto* resp = reinterpret_cast<seccomp_notif_resp*>(resp_buf.data());
      memset(resp_buf.data(), 0, resp_buf.size());
      resp->id = req->id;
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      // ENOENT: the target died or was interrupted; nothing to answer.
      ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_SEND, resp);
    } else if (fds[0].revents & (POLLHUP | POLLERR)) {
      if (!root_done) {
        status = reap();
        root_done = true;
      }
      hup = true;
      break;  // no task uses the filter any more
    }
    if (fds[1].fd >= 0 && (fds[1].revents & POLLIN)) {
      status = reap();
      root_done = true;
    }
  }
  if (!root_done) {
    // The loop failed: the command cannot continue without answers.
    kill(pid, SIGKILL);
    status = reap();
    return Decision::deny(DenyReason::IoError, "lost the seccomp listener while observing: " + fs::errno_text(errno),
                          "learn");
  }
  if (exec_failure) return confine_failure_decision(*exec_failure);
  Observation obs = rec.take();
  obs.wait_status = status;
  if (!hup)
    obs.notes.push_back(
        "descendants were still running when the command exited; their later syscalls were not observed");
  return obs;
}

}  // namespace gx
