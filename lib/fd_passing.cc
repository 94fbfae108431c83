#include "lib/fd_passing.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gx {

ssize_t send_fds(int sock, const void* data, size_t len, const int* fds, size_t count) noexcept {
  if (count > kMaxPassedFds) return -EINVAL;
  iovec iov{const_cast<void*>(data), len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (count > 0) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * count);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * count);
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

void ReceivedFds::close_all() noexcept {
  for (size_t i = 0; i < count; ++i) close(fds[i]);
  count = 0;
}

ReceivedFds recv_fds(int sock, void* buf, size_t len, int flags) noexcept {
  ReceivedFds out;
  iovec iov{buf, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
  if (n < 0) {
    out.bytes = -errno;
    return out;
  }
  out.bytes = n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t in_message = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < in_message && out.count < kMaxPassedFds; ++i)
      std::memcpy(&out.fds[out.count++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
  }
  out.fds_truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  out.data_truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  return out;
}

}  // namespace gx
