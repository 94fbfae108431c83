#include "lib/broker_transport.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lib/fd_passing.h"
#include "lib/fsutil.h"

namespace gx::broker {

namespace {

void close_all(std::vector<int>& fds) {
  for (int fd : fds) close(fd);
  fds.clear();
}

// Waits until fd is readable or the deadline passes.
Decision wait_readable(int fd, const Deadline& deadline) {
  for (;;) {
    int timeout = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Decision::deny(DenyReason::IoError, "timeout waiting for the peer", "timeout");
      timeout = static_cast<int>(std::min<long long>(left.count() + 1, 1 << 30));
    }
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Decision::deny(DenyReason::IoError, "poll: " + fs::errno_text(errno));
    if (n == 0) continue;  // re-checks the deadline
    return Decision::allow();
  }
}

// Reads exactly `want` bytes into out (appending), collecting fds.
Decision read_exact(int fd, const Deadline& deadline, size_t want, std::string& out, std::vector<int>& fds,
                    size_t max_fds, bool at_frame_start) {
  size_t got = 0;
  const size_t base = out.size();
  out.resize(base + want);
  while (got < want) {
    if (Decision d = wait_readable(fd, deadline); !d) return d;
    ReceivedFds r = recv_fds(fd, out.data() + base + got, want - got, MSG_DONTWAIT);
    const ssize_t n = r.bytes;
    if (n == -EINTR || n == -EAGAIN) continue;
    if (n < 0) return Decision::deny(DenyReason::IoError, "recvmsg: " + fs::errno_text(static_cast<int>(-n)));
    fds.insert(fds.end(), r.fds, r.fds + r.count);
    if (r.fds_truncated)
      return Decision::deny(DenyReason::Malformed,
                            "peer sent more file descriptors than the frame allows "
                            "(control message truncated)",
                            "fds");
    if (fds.size() > max_fds)
      return Decision::deny(
          DenyReason::Malformed,
          "peer sent " + std::to_string(fds.size()) + " file descriptors; this frame allows " + std::to_string(max_fds),
          "fds", std::to_string(fds.size()));
    if (n == 0)
      return Decision::deny(DenyReason::IoError,
                            at_frame_start && got == 0 ? "connection closed" : "connection closed mid-frame");
    got += static_cast<size_t>(n);
  }
  return Decision::allow();
}

}  // namespace

bool is_connection_closed(const Decision& d) {
  return d.reason == DenyReason::IoError && d.detail.rfind("connection closed", 0) == 0;
}

Result<ReceivedFrame> read_frame(int fd, Deadline deadline, uint32_t max_payload, size_t max_fds) {
  ReceivedFrame f;
  std::string header;
  // Up to kRequestFds may arrive with the header's first byte; how many
  // this frame type allows is checked once the type is known.
  if (Decision d = read_exact(fd, deadline, kFrameHeaderBytes, header, f.fds, std::max(max_fds, kRequestFds), true);
      !d) {
    close_all(f.fds);
    return d;
  }
  auto h = decode_header(header, max_payload);
  if (!h) {
    close_all(f.fds);
    return h.error();
  }
  size_t allowed = h->type == FrameType::Request ? max_fds : 0;
  if (f.fds.size() > allowed) {
    Decision d =
        Decision::deny(DenyReason::Malformed,
                       "peer sent " + std::to_string(f.fds.size()) + " file descriptors with a " +
                           std::string(frame_type_name(h->type)) + " frame, which allows " + std::to_string(allowed),
                       "fds", std::to_string(f.fds.size()));
    close_all(f.fds);
    return d;
  }
  f.header = *h;
  // The length was checked against the limit above: this allocation is
  // bounded by the limit, never by what an unchecked peer claims.
  if (Decision d = read_exact(fd, deadline, h->length, f.payload, f.fds, allowed, false); !d) {
    close_all(f.fds);
    return d;
  }
  return f;
}

namespace {

Decision payload_fits(const std::string& payload) {
  if (payload.size() > kBrokerMaxPayload)
    return Decision::deny(DenyReason::TooLarge,
                          "broker frame payload is larger than " + std::to_string(kBrokerMaxPayload) + " bytes");
  return Decision::allow();
}

Decision send_all(int fd, const std::string& bytes, const std::vector<int>& fds) {
  size_t off = 0;
  bool first = true;
  while (off < bytes.size()) {
    if (first && fds.size() > kRequestFds) return Decision::deny(DenyReason::Usage, "too many fds for one frame");
    ssize_t n =
        send_fds(fd, bytes.data() + off, bytes.size() - off, first ? fds.data() : nullptr, first ? fds.size() : 0);
    if (n < 0) return Decision::deny(DenyReason::IoError, "sendmsg: " + fs::errno_text(static_cast<int>(-n)));
    off += static_cast<size_t>(n);
    first = false;
  }
  return Decision::allow();
}

}  // namespace

Decision write_frame(int fd, FrameType type, const std::string& payload, const std::vector<int>& fds) {
  if (Decision d = payload_fits(payload); !d) return d;
  return send_all(fd, frame(type, payload), fds);
}

Decision write_frames(int fd, const std::vector<std::pair<FrameType, std::string>>& frames) {
  std::string bytes;
  for (const auto& [type, payload] : frames) {
    if (Decision d = payload_fits(payload); !d) return d;
    bytes += frame(type, payload);
  }
  return send_all(fd, bytes, {});
}

}  // namespace gx::broker
