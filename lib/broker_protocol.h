// The broker's wire protocol (docs/broker.md): versioned, length-prefixed
// frames on a Unix stream socket, one request per connection.
//
// Frame = 12-byte header + payload:
//   magic    4 bytes  "GXBR"
//   version  1 byte   kBrokerProtocolVersion (anything else: refused, named)
//   type     1 byte   FrameType (unknown: refused, named)
//   reserved 2 bytes  zero
//   length   4 bytes  big-endian payload length, at most kBrokerMaxPayload
//                     (and the type's own limit, checked from the header
//                     before a byte of payload is read or allocated)
// Payload = fields, each: tag (2 bytes BE), length (4 bytes BE), value. A
// field's length is checked against what is left of the payload and the
// field's own limit before it is copied. Unknown tags, a repeated
// single-valued field, a missing required field, trailing bytes or a value
// out of its domain are refused with a Decision naming the field
// (DenyReason::Malformed / UnknownField / DuplicateField / MissingField /
// InvalidValue / TooLarge / UnsupportedVersion).
//
// Conversation (client -> broker, then broker -> client):
//   Request  (exactly 3 fds by SCM_RIGHTS: the client's stdin, stdout,
//             stderr; any other count, or MSG_CTRUNC, is refused)
//   Signal*  (client -> broker at any time after the request: a signal the
//             client received, forwarded to the child)
//   Report   (broker -> client: the run's JSON report, warnings, flags)
//   Exit     (broker -> client: the status the client exits with)
// or, instead of Report + Exit, one Error frame (refused before any
// request was run: not allowed, busy, malformed, timeout). A Signal frame
// carries no fds; fds on any frame but Request are refused.
//
// The nested-run channel (lib/nested_channel.h) is a SOCK_SEQPACKET socket
// whose every message is one Connect frame: a header with length 0 and
// exactly one fd, the client's end of a fresh stream socketpair, on which
// the conversation above then runs. Connect frames never appear on a stream.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/decision.h"

namespace gx::broker {

inline constexpr std::string_view kFrameMagic = "GXBR";
inline constexpr uint8_t kBrokerProtocolVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 12;
// Hard limit on one frame's payload: an artifact (256 KiB), argv and the
// environment (the kernel's ARG_MAX is 2 MiB by default) fit with room.
inline constexpr uint32_t kBrokerMaxPayload = 4 * 1024 * 1024;
// Small frames (Signal, Exit, Error) have their own, much smaller limit.
inline constexpr uint32_t kSmallFrameMaxPayload = 64 * 1024;
inline constexpr size_t kMaxArgs = 65536;      // argv elements
inline constexpr size_t kMaxEnv = 65536;       // environment entries
inline constexpr size_t kMaxPathBytes = 4096;  // cwd, artifact name
inline constexpr size_t kRequestFds = 3;       // stdin, stdout, stderr

enum class FrameType : uint8_t {
  Request = 1,  // client -> broker
  Signal = 2,   // client -> broker
  Report = 3,   // broker -> client
  Exit = 4,     // broker -> client
  Error = 5,    // broker -> client
  Connect = 6,  // nested-run channel only: opens a conversation (one fd, no payload)
};
std::string_view frame_type_name(FrameType t);

struct FrameHeader {
  FrameType type = FrameType::Request;
  uint32_t length = 0;
};

// Request flags (unknown bits are refused).
inline constexpr uint32_t kFlagDryRun = 1u << 0;
inline constexpr uint32_t kFlagJson = 1u << 1;
// The client needs no run report (no --report, --json or dry run): the
// Report frame then carries the decision, warnings and flags without the
// report itself, which its client would parse only to drop (docs/performance.md,
// twentieth pass). Refused with kFlagDryRun or kFlagJson, which show it. A
// broker older than this bit refuses it as unknown; the client then asks
// again without it (lib/broker_client.h, run_on_broker).
inline constexpr uint32_t kFlagNoReport = 1u << 2;
inline constexpr uint32_t kKnownFlags = kFlagDryRun | kFlagJson | kFlagNoReport;

// Its strings (artifact_name, argv, env, cwd) are refused when they hold a
// NUL byte or are not valid UTF-8 (invalid-value naming the field, e.g.
// argv[1]): the report carries them back as JSON text.
struct Request {
  std::string artifact;       // the artifact's bytes (at most kArtifactMaxBytes)
  std::string artifact_name;  // the path the client named, for messages only
  std::vector<std::string> argv;
  std::vector<std::string> env;  // NAME=VALUE
  std::string cwd;               // absolute
  uint32_t flags = 0;
  // The signals the requester ignores and blocks (bit n-1: signal n), which
  // the command starts with, as it would without gx (lib/confine.h,
  // InheritedSignals). Optional fields, sent only when not zero.
  uint64_t ignored_signals = 0;
  uint64_t blocked_signals = 0;
};

struct Report {
  std::string json;  // the RunResult, as JSON (lib/broker_request.h: result_to_json)
};

struct ErrorReply {
  std::string code;     // a reason code (decision.h) or "busy", "timeout"
  std::string message;  // one line
};

// ---- codec (pure: no I/O) ----
std::string encode_header(FrameType type, uint32_t length);
// Checks magic, version, type, reserved bytes and the length limit of the
// type (`max_payload` caps it further, e.g. the broker's configured limit).
Result<FrameHeader> decode_header(std::string_view header, uint32_t max_payload = kBrokerMaxPayload);

std::string encode_request(const Request& r);
std::string encode_signal(int signo);
std::string encode_report(const Report& r);
std::string encode_exit(int status);
std::string encode_error(const ErrorReply& e);
// Whole frames: header + payload.
std::string frame(FrameType type, const std::string& payload);

Result<Request> decode_request(std::string_view payload);
Result<int> decode_signal(std::string_view payload);  // 1..64
Result<Report> decode_report(std::string_view payload);
Result<int> decode_exit(std::string_view payload);  // 0..255
Result<ErrorReply> decode_error(std::string_view payload);
// One whole message of the nested-run channel: exactly a Connect header
// with length 0 (anything else, shorter or longer, is refused).
Decision decode_connect(std::string_view message);

}  // namespace gx::broker
