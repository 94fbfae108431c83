#include "lib/exec_guard.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace gx {

int exec_guard_answer(int listener, pid_t child, int exec_fd, bool allow,
                      const std::function<void()>& before_continue) {
  seccomp_notif req{};  // the kernel insists on a zeroed buffer
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) return -errno;
  // Register values only: never the memory they point to.
  const bool first_exec = allow && req.pid == static_cast<uint32_t>(child) && req.data.arch == AUDIT_ARCH_X86_64 &&
                          req.data.nr == __NR_execveat && static_cast<int>(req.data.args[0]) == exec_fd &&
                          (req.data.args[4] & AT_EMPTY_PATH) != 0;
  seccomp_notif_resp resp{};
  resp.id = req.id;
  if (first_exec) {
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    if (before_continue) before_continue();
  } else {
    resp.error = -EPERM;
  }
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0) return -errno;
  return first_exec ? 1 : 0;
}

ExecGuard::ExecGuard(int listener) : listener_(listener) {
  if (pipe2(stop_, O_CLOEXEC) != 0) {
    stop_[0] = stop_[1] = -1;
  }
  thread_ = std::thread([this] { loop(); });
}

void ExecGuard::loop() {
  for (;;) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
    int n = poll(fds, stop_[0] >= 0 ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents & POLLIN) {
      int r = exec_guard_answer(listener_, 0, -1, false);
      if (r == 0) refused_.fetch_add(1);
      // ENOENT: the asking task died before its answer. Anything else (an outer
      // sandbox refusing the notify ioctls) would leave the tree blocked in exec
      // forever: close the listener, so the kernel fails every pending and later
      // exec of the tree (ENOSYS). Fail closed, never spin.
      if (r < 0 && r != -ENOENT && r != -EINTR) {
        close(listener_);
        listener_ = -1;
        return;
      }
      continue;
    }
    // POLLHUP: no task uses the filter any more. Or gx asked us to stop.
    if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) return;
    if (fds[1].revents) return;
  }
}

uint64_t ExecGuard::stop() {
  if (thread_.joinable()) {
    if (stop_[1] >= 0) {
      char c = 1;
      ssize_t w;
      do {
        w = write(stop_[1], &c, 1);
      } while (w < 0 && errno == EINTR);
    }
    thread_.join();
  }
  return refused_.load();
}

ExecGuard::~ExecGuard() {
  stop();
  for (int fd : {listener_, stop_[0], stop_[1]})
    if (fd >= 0) close(fd);
}

}  // namespace gx
