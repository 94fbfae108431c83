#include "lib/broker_protocol.h"

#include <signal.h>

#include "lib/artifact.h"
#include "lib/utf8.h"

namespace gx::broker {
namespace {

// Field tags, per frame type.
enum : uint16_t {
  kReqArtifact = 1,
  kReqArtifactName = 2,
  kReqArg = 3,
  kReqEnv = 4,
  kReqCwd = 5,
  kReqFlags = 6,
  kReqIgnoredSignals = 7,
  kReqBlockedSignals = 8,
};
enum : uint16_t { kSigNumber = 1 };
enum : uint16_t { kReportJson = 1 };
enum : uint16_t { kExitStatus = 1 };
enum : uint16_t { kErrCode = 1, kErrMessage = 2 };

void put_u16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}
void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
uint32_t get_u32(std::string_view s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}
uint16_t get_u16(std::string_view s, size_t at) {
  return static_cast<uint16_t>((static_cast<unsigned char>(s[at]) << 8) | static_cast<unsigned char>(s[at + 1]));
}

void put_field(std::string& out, uint16_t tag, std::string_view value) {
  put_u16(out, tag);
  put_u32(out, static_cast<uint32_t>(value.size()));
  out.append(value);
}
void put_u32_field(std::string& out, uint16_t tag, uint32_t v) {
  std::string value;
  put_u32(value, v);
  put_field(out, tag, value);
}
void put_u64_field(std::string& out, uint16_t tag, uint64_t v) {
  std::string value;
  put_u32(value, static_cast<uint32_t>(v >> 32));
  put_u32(value, static_cast<uint32_t>(v));
  put_field(out, tag, value);
}

Decision malformed(std::string_view frame, const std::string& what, const std::string& field = {}) {
  return Decision::deny(DenyReason::Malformed, "broker " + std::string(frame) + " frame: " + what, field);
}

// One field as it sits in the payload (a view: nothing is copied until the
// decoder has checked its limit).
struct RawField {
  uint16_t tag;
  std::string_view value;
};

// Splits a payload into fields; only the framing is checked here.
Result<std::vector<RawField>> split_fields(std::string_view frame, std::string_view payload, size_t max_fields) {
  std::vector<RawField> fields;
  size_t at = 0;
  while (at < payload.size()) {
    if (payload.size() - at < 6) return malformed(frame, "truncated field header at byte " + std::to_string(at));
    uint16_t tag = get_u16(payload, at);
    uint32_t len = get_u32(payload, at + 2);
    at += 6;
    if (len > payload.size() - at)
      return malformed(frame,
                       "field " + std::to_string(tag) + " claims " + std::to_string(len) + " bytes, " +
                           std::to_string(payload.size() - at) + " left",
                       "tag " + std::to_string(tag));
    if (fields.size() >= max_fields)
      return Decision::deny(DenyReason::TooLarge, "broker " + std::string(frame) + " frame has more than " +
                                                      std::to_string(max_fields) + " fields");
    fields.push_back({tag, payload.substr(at, len)});
    at += len;
  }
  return fields;
}

Decision unknown_tag(std::string_view frame, uint16_t tag) {
  return Decision::deny(DenyReason::UnknownField,
                        "broker " + std::string(frame) + " frame has unknown field " + std::to_string(tag),
                        "tag " + std::to_string(tag));
}
Decision duplicate(std::string_view frame, const std::string& name) {
  return Decision::deny(DenyReason::DuplicateField, "broker " + std::string(frame) + " frame repeats field " + name,
                        name);
}
Decision missing(std::string_view frame, const std::string& name) {
  return Decision::deny(DenyReason::MissingField, "broker " + std::string(frame) + " frame lacks field " + name, name);
}
Decision too_long(std::string_view frame, const std::string& name, size_t limit) {
  return Decision::deny(
      DenyReason::TooLarge,
      "broker " + std::string(frame) + " frame field " + name + " is longer than " + std::to_string(limit) + " bytes",
      name);
}

// Strings on the wire never contain NUL (argv, env and paths cannot).
// `utf8`: a request's strings must be UTF-8 too -- they end up in the JSON
// report, and text that is not UTF-8 there can only be mangled.
Decision check_string(std::string_view frame, const std::string& name, std::string_view v, size_t limit,
                      bool utf8 = false) {
  if (v.size() > limit) return too_long(frame, name, limit);
  if (v.find('\0') != std::string_view::npos)
    return Decision::deny(DenyReason::InvalidValue,
                          "broker " + std::string(frame) + " frame field " + name + " contains a NUL byte", name);
  if (size_t at = utf8 ? invalid_utf8_at(v) : std::string_view::npos; at != std::string_view::npos)
    return Decision::deny(DenyReason::InvalidValue,
                          "broker " + std::string(frame) + " frame field " + name + " is not valid UTF-8 (byte " +
                              std::to_string(at) + ")",
                          name);
  return Decision::allow();
}

Result<uint32_t> read_u32(std::string_view frame, const std::string& name, std::string_view v) {
  if (v.size() != 4)
    return Decision::deny(DenyReason::WrongType,
                          "broker " + std::string(frame) + " frame field " + name + " is not 4 bytes", name);
  return get_u32(v, 0);
}
Result<uint64_t> read_u64(std::string_view frame, const std::string& name, std::string_view v) {
  if (v.size() != 8)
    return Decision::deny(DenyReason::WrongType,
                          "broker " + std::string(frame) + " frame field " + name + " is not 8 bytes", name);
  return (uint64_t{get_u32(v, 0)} << 32) | get_u32(v, 4);
}

// A single-valued field seen for the first time, or a duplicate.
template <class T>
Decision once(std::string_view frame, const std::string& name, std::optional<T>& slot) {
  if (slot) return duplicate(frame, name);
  slot.emplace();
  return Decision::allow();
}

}  // namespace

std::string_view frame_type_name(FrameType t) {
  switch (t) {
    case FrameType::Request: return "request";
    case FrameType::Signal: return "signal";
    case FrameType::Report: return "report";
    case FrameType::Exit: return "exit";
    case FrameType::Error: return "error";
    case FrameType::Connect: return "connect";
  }
  return "unknown";
}

std::string encode_header(FrameType type, uint32_t length) {
  std::string h(kFrameMagic);
  h.push_back(static_cast<char>(kBrokerProtocolVersion));
  h.push_back(static_cast<char>(type));
  put_u16(h, 0);
  put_u32(h, length);
  return h;
}

Result<FrameHeader> decode_header(std::string_view header, uint32_t max_payload) {
  if (header.size() != kFrameHeaderBytes)
    return Decision::deny(DenyReason::Malformed, "broker frame header is " + std::to_string(header.size()) +
                                                     " bytes, not " + std::to_string(kFrameHeaderBytes));
  if (header.substr(0, 4) != kFrameMagic)
    return Decision::deny(DenyReason::Malformed, "broker frame does not start with GXBR (not a gx broker client?)",
                          "magic");
  auto version = static_cast<uint8_t>(header[4]);
  if (version != kBrokerProtocolVersion)
    return Decision::deny(DenyReason::UnsupportedVersion,
                          "broker protocol version " + std::to_string(version) + " is not supported (this gx speaks " +
                              std::to_string(kBrokerProtocolVersion) + ")",
                          "version", std::to_string(version));
  auto type = static_cast<uint8_t>(header[5]);
  if (type < static_cast<uint8_t>(FrameType::Request) || type > static_cast<uint8_t>(FrameType::Connect))
    return Decision::deny(DenyReason::UnknownField, "broker frame type " + std::to_string(type) + " is unknown", "type",
                          std::to_string(type));
  if (header[6] != 0 || header[7] != 0)
    return Decision::deny(DenyReason::Malformed, "broker frame header's reserved bytes are not zero", "reserved");
  FrameHeader h;
  h.type = static_cast<FrameType>(type);
  h.length = get_u32(header, 8);
  uint32_t limit = std::min(max_payload, kBrokerMaxPayload);
  if (h.type != FrameType::Request && h.type != FrameType::Report) limit = std::min(limit, kSmallFrameMaxPayload);
  if (h.length > limit)
    return Decision::deny(DenyReason::TooLarge,
                          "broker " + std::string(frame_type_name(h.type)) + " frame of " + std::to_string(h.length) +
                              " bytes is larger than the limit of " + std::to_string(limit),
                          "length", std::to_string(h.length));
  return h;
}

std::string frame(FrameType type, const std::string& payload) {
  return encode_header(type, static_cast<uint32_t>(payload.size())) + payload;
}

std::string encode_request(const Request& r) {
  std::string out;
  put_field(out, kReqArtifact, r.artifact);
  if (!r.artifact_name.empty()) put_field(out, kReqArtifactName, r.artifact_name);
  for (const auto& a : r.argv) put_field(out, kReqArg, a);
  for (const auto& e : r.env) put_field(out, kReqEnv, e);
  put_field(out, kReqCwd, r.cwd);
  put_u32_field(out, kReqFlags, r.flags);
  if (r.ignored_signals != 0) put_u64_field(out, kReqIgnoredSignals, r.ignored_signals);
  if (r.blocked_signals != 0) put_u64_field(out, kReqBlockedSignals, r.blocked_signals);
  return out;
}

Result<Request> decode_request(std::string_view payload) {
  constexpr std::string_view F = "request";
  if (payload.size() > kBrokerMaxPayload) return too_long(F, "payload", kBrokerMaxPayload);
  auto fields = split_fields(F, payload, kMaxArgs + kMaxEnv + 8);
  if (!fields) return fields.error();
  Request r;
  std::optional<bool> artifact, name, cwd, flags, ignored, blocked;
  for (const auto& f : *fields) {
    switch (f.tag) {
      case kReqArtifact:
        if (Decision d = once(F, "artifact", artifact); !d) return d;
        if (f.value.size() > kArtifactMaxBytes) return too_long(F, "artifact", kArtifactMaxBytes);
        r.artifact.assign(f.value);
        break;
      case kReqArtifactName:
        if (Decision d = once(F, "artifact_name", name); !d) return d;
        if (Decision d = check_string(F, "artifact_name", f.value, kMaxPathBytes, true); !d) return d;
        r.artifact_name.assign(f.value);
        break;
      case kReqArg:
        if (r.argv.size() >= kMaxArgs) return too_long(F, "argv (count)", kMaxArgs);
        if (Decision d =
                check_string(F, "argv[" + std::to_string(r.argv.size()) + "]", f.value, kBrokerMaxPayload, true);
            !d)
          return d;
        r.argv.emplace_back(f.value);
        break;
      case kReqEnv:
        if (r.env.size() >= kMaxEnv) return too_long(F, "env (count)", kMaxEnv);
        if (Decision d = check_string(F, "env[" + std::to_string(r.env.size()) + "]", f.value, kBrokerMaxPayload, true);
            !d)
          return d;
        if (f.value.find('=') == std::string_view::npos)
          return Decision::deny(DenyReason::InvalidValue,
                                "broker request frame field env[" + std::to_string(r.env.size()) + "] has no '='",
                                "env[" + std::to_string(r.env.size()) + "]");
        r.env.emplace_back(f.value);
        break;
      case kReqCwd:
        if (Decision d = once(F, "cwd", cwd); !d) return d;
        if (Decision d = check_string(F, "cwd", f.value, kMaxPathBytes, true); !d) return d;
        if (f.value.empty() || f.value[0] != '/')
          return Decision::deny(DenyReason::InvalidValue, "broker request frame field cwd is not an absolute path",
                                "cwd", std::string(f.value.substr(0, 200)));
        r.cwd.assign(f.value);
        break;
      case kReqFlags: {
        if (Decision d = once(F, "flags", flags); !d) return d;
        auto v = read_u32(F, "flags", f.value);
        if (!v) return v.error();
        if ((*v & ~kKnownFlags) != 0)
          return Decision::deny(DenyReason::InvalidValue, "broker request frame has unknown flag bits", "flags",
                                std::to_string(*v & ~kKnownFlags));
        // No report is asked only by a client that shows none.
        if ((*v & kFlagNoReport) != 0 && (*v & (kFlagDryRun | kFlagJson)) != 0)
          return Decision::deny(DenyReason::InvalidValue,
                                "broker request frame asks for no report on a dry run or a --json run", "flags",
                                std::to_string(*v));
        r.flags = *v;
        break;
      }
      case kReqIgnoredSignals:
      case kReqBlockedSignals: {
        const bool ign = f.tag == kReqIgnoredSignals;
        const std::string field = ign ? "ignored_signals" : "blocked_signals";
        if (Decision d = once(F, field, ign ? ignored : blocked); !d) return d;
        auto v = read_u64(F, field, f.value);
        if (!v) return v.error();
        // One spelling per request: absent, never zero; and no signal that
        // cannot be ignored or blocked (SIGKILL, SIGSTOP) or that glibc keeps (32, 33).
        constexpr uint64_t kNever =
            (uint64_t{1} << (SIGKILL - 1)) | (uint64_t{1} << (SIGSTOP - 1)) | (uint64_t{1} << 31) | (uint64_t{1} << 32);
        if (*v == 0 || (*v & kNever) != 0)
          return Decision::deny(DenyReason::InvalidValue,
                                "broker request frame field " + field +
                                    (*v == 0 ? " is 0 (it is sent only when not 0)"
                                             : " names SIGKILL, SIGSTOP or a signal glibc reserves"),
                                field, std::to_string(*v));
        (ign ? r.ignored_signals : r.blocked_signals) = *v;
        break;
      }
      default: return unknown_tag(F, f.tag);
    }
  }
  if (!artifact) return missing(F, "artifact");
  if (r.argv.empty()) return missing(F, "argv");
  if (!cwd) return missing(F, "cwd");
  if (!flags) return missing(F, "flags");
  return r;
}

namespace {

// A frame whose payload is exactly one u32 field (signal, exit).
Result<uint32_t> decode_one_u32(std::string_view frame, const std::string& name, uint16_t tag,
                                std::string_view payload) {
  auto fields = split_fields(frame, payload, 4);
  if (!fields) return fields.error();
  std::optional<uint32_t> value;
  for (const auto& f : *fields) {
    if (f.tag != tag) return unknown_tag(frame, f.tag);
    if (value) return duplicate(frame, name);
    auto v = read_u32(frame, name, f.value);
    if (!v) return v.error();
    value = *v;
  }
  if (!value) return missing(frame, name);
  return *value;
}

}  // namespace

std::string encode_signal(int signo) {
  std::string out;
  put_u32_field(out, kSigNumber, static_cast<uint32_t>(signo));
  return out;
}

Result<int> decode_signal(std::string_view payload) {
  auto signo = decode_one_u32("signal", "signo", kSigNumber, payload);
  if (!signo) return signo.error();
  if (*signo < 1 || *signo > 64)
    return Decision::deny(DenyReason::InvalidValue,
                          "broker signal frame names signal " + std::to_string(*signo) + ", not 1..64", "signo",
                          std::to_string(*signo));
  return static_cast<int>(*signo);
}

std::string encode_report(const Report& r) {
  std::string out;
  put_field(out, kReportJson, r.json);
  return out;
}

Result<Report> decode_report(std::string_view payload) {
  constexpr std::string_view F = "report";
  auto fields = split_fields(F, payload, 4);
  if (!fields) return fields.error();
  std::optional<Report> r;
  for (const auto& f : *fields) {
    if (f.tag != kReportJson) return unknown_tag(F, f.tag);
    if (r) return duplicate(F, "json");
    r.emplace();
    r->json.assign(f.value);
  }
  if (!r) return missing(F, "json");
  return *r;
}

std::string encode_exit(int status) {
  std::string out;
  put_u32_field(out, kExitStatus, static_cast<uint32_t>(status));
  return out;
}

Result<int> decode_exit(std::string_view payload) {
  auto status = decode_one_u32("exit", "status", kExitStatus, payload);
  if (!status) return status.error();
  if (*status > 255)
    return Decision::deny(DenyReason::InvalidValue,
                          "broker exit frame status " + std::to_string(*status) + " is not 0..255", "status",
                          std::to_string(*status));
  return static_cast<int>(*status);
}

std::string encode_error(const ErrorReply& e) {
  std::string out;
  put_field(out, kErrCode, e.code);
  put_field(out, kErrMessage, e.message);
  return out;
}

Decision decode_connect(std::string_view message) {
  if (message.size() < kFrameHeaderBytes)
    return Decision::deny(
        DenyReason::Malformed,
        "channel message of " + std::to_string(message.size()) + " bytes is shorter than a frame header", "length",
        std::to_string(message.size()));
  auto h = decode_header(message.substr(0, kFrameHeaderBytes), 0);
  if (!h) return h.error();
  if (h->type != FrameType::Connect)
    return Decision::deny(DenyReason::Malformed,
                          "a channel message must be a connect frame, not " + std::string(frame_type_name(h->type)),
                          "type", std::string(frame_type_name(h->type)));
  if (message.size() != kFrameHeaderBytes)
    return Decision::deny(
        DenyReason::Malformed,
        "connect frame with " + std::to_string(message.size() - kFrameHeaderBytes) + " trailing bytes", "length",
        std::to_string(message.size() - kFrameHeaderBytes));
  return Decision::allow();
}

Result<ErrorReply> decode_error(std::string_view payload) {
  constexpr std::string_view F = "error";
  auto fields = split_fields(F, payload, 4);
  if (!fields) return fields.error();
  std::optional<bool> code, message;
  ErrorReply e;
  for (const auto& f : *fields) {
    if (f.tag == kErrCode) {
      if (Decision d = once(F, "code", code); !d) return d;
      if (Decision d = check_string(F, "code", f.value, 64); !d) return d;
      e.code.assign(f.value);
    } else if (f.tag == kErrMessage) {
      if (Decision d = once(F, "message", message); !d) return d;
      if (Decision d = check_string(F, "message", f.value, kSmallFrameMaxPayload); !d) return d;
      e.message.assign(f.value);
    } else {
      return unknown_tag(F, f.tag);
    }
  }
  if (!code) return missing(F, "code");
  if (!message) return missing(F, "message");
  return e;
}

}  // namespace gx::broker
