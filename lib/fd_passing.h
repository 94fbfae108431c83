// File descriptors over a Unix socket (SCM_RIGHTS): the one place gx builds
// and parses the control messages — the broker protocol's stdio fds, the
// nested-run channel's connect frames, the exec guard's and gx learn's
// seccomp listener handed over by confine's child.
//
// Both functions are async-signal-safe (no allocation, no locks, no
// exceptions): confine's child calls send_fds between fork and exec.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace gx {

inline constexpr size_t kMaxPassedFds = 4;

// Sends `len` bytes of `data` with `count` fds (at most kMaxPassedFds)
// attached, MSG_NOSIGNAL (a closed peer is EPIPE, not SIGPIPE), retrying
// EINTR. Returns the bytes sent, or -errno (-EINVAL for too many fds).
ssize_t send_fds(int sock, const void* data, size_t len, const int* fds, size_t count) noexcept;

struct ReceivedFds {
  ssize_t bytes = 0;            // bytes received (0: end of stream, or an empty datagram), or -errno
  int fds[kMaxPassedFds] = {};  // close-on-exec; the caller owns them
  size_t count = 0;
  bool fds_truncated = false;   // MSG_CTRUNC: more fds were sent than fit (the kernel closed the rest)
  bool data_truncated = false;  // MSG_TRUNC: a datagram longer than `len` (the rest is lost)
  void close_all() noexcept;
};
// One recvmsg(MSG_CMSG_CLOEXEC | flags) into `buf`, collecting up to
// kMaxPassedFds. Not retried: EINTR and EAGAIN come back as -errno.
ReceivedFds recv_fds(int sock, void* buf, size_t len, int flags = 0) noexcept;

}  // namespace gx
