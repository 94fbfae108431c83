// Frames on a socket (the format: lib/broker_protocol.h): reading one whole
// frame with its descriptors (SCM_RIGHTS) within a deadline, and writing
// one.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/broker_protocol.h"
#include "lib/decision.h"

namespace gx::broker {

using Deadline = std::optional<std::chrono::steady_clock::time_point>;

struct ReceivedFrame {
  FrameHeader header;
  std::string payload;
  std::vector<int> fds;  // received with the frame (close-on-exec); the caller owns them
};

// Reads one frame from a stream socket, waiting at most until `deadline`
// (IoError "timeout ..." when it passes; none: wait forever). Receives with
// MSG_CMSG_CLOEXEC; a truncated control message (MSG_CTRUNC) or more than
// `max_fds` descriptors is refused (and every received fd closed). End of
// stream before a header is IoError with detail "connection closed".
Result<ReceivedFrame> read_frame(int fd, Deadline deadline, uint32_t max_payload = kBrokerMaxPayload,
                                 size_t max_fds = 0);
// Writes a whole frame (MSG_NOSIGNAL: a closed peer is an error, not
// SIGPIPE), with `fds` attached to its first byte.
Decision write_frame(int fd, FrameType type, const std::string& payload, const std::vector<int>& fds = {});
// Writes whole frames back to back, without descriptors, in one send where
// the socket takes it all: a peer waiting for the last of them is woken
// once, not once a frame.
Decision write_frames(int fd, const std::vector<std::pair<FrameType, std::string>>& frames);

// Whether the closed-connection error of read_frame.
bool is_connection_closed(const Decision& d);

}  // namespace gx::broker
