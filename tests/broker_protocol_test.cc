#include "lib/broker_protocol.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <thread>

#include "lib/artifact.h"
#include "tests/broker_protocol_fixture.h"

using namespace gx;
using namespace gx::broker;
using gx::broker::test::sample;

namespace {

std::string field(uint16_t tag, std::string_view value) {
  std::string out;
  out.push_back(static_cast<char>(tag >> 8));
  out.push_back(static_cast<char>(tag & 0xff));
  uint32_t n = static_cast<uint32_t>(value.size());
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((n >> s) & 0xff));
  out.append(value);
  return out;
}

std::string u32(uint32_t v) {
  std::string out;
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
  return out;
}

}  // namespace

TEST_CASE("a request round-trips through the codec") {
  Request r = sample();
  auto back = decode_request(encode_request(r));
  REQUIRE(back);
  CHECK(back->artifact == r.artifact);
  CHECK(back->artifact_name == r.artifact_name);
  CHECK(back->argv == r.argv);
  CHECK(back->env == r.env);
  CHECK(back->cwd == r.cwd);
  CHECK(back->flags == r.flags);
  CHECK(back->ignored_signals == 0);
  CHECK(back->blocked_signals == 0);
  // The requester's ignored and blocked signals: optional, 64 bits each.
  r.ignored_signals = (uint64_t{1} << 0) | (uint64_t{1} << 63);
  r.blocked_signals = uint64_t{1} << 11;
  back = decode_request(encode_request(r));
  REQUIRE(back);
  CHECK(back->ignored_signals == r.ignored_signals);
  CHECK(back->blocked_signals == r.blocked_signals);
  CHECK(encode_request(sample()).size() + 2 * (2 + 4 + 8) == encode_request(r).size());
}

TEST_CASE("small frames round-trip") {
  CHECK(*decode_signal(encode_signal(15)) == 15);
  CHECK(*decode_exit(encode_exit(130)) == 130);
  auto e = decode_error(encode_error({"busy", "too many"}));
  REQUIRE(e);
  CHECK(e->code == "busy");
  CHECK(e->message == "too many");
  CHECK(decode_report(encode_report({"{}"}))->json == "{}");
}

TEST_CASE("header: magic, version, type, reserved and length are checked") {
  std::string good = encode_header(FrameType::Request, 10);
  REQUIRE(decode_header(good));
  CHECK(decode_header(good)->length == 10);

  std::string bad = good;
  bad[0] = 'X';
  CHECK(decode_header(bad).error().field == "magic");
  bad = good;
  bad[4] = 2;
  CHECK(decode_header(bad).error().reason == DenyReason::UnsupportedVersion);
  CHECK(decode_header(bad).error().value == "2");
  bad = good;
  bad[5] = 9;
  CHECK(decode_header(bad).error().reason == DenyReason::UnknownField);
  CHECK(decode_header(bad).error().field == "type");
  bad = good;
  bad[7] = 1;
  CHECK(decode_header(bad).error().field == "reserved");
  CHECK(decode_header(good.substr(0, 11)).error().reason == DenyReason::Malformed);

  CHECK(decode_header(encode_header(FrameType::Request, kBrokerMaxPayload)));
  CHECK(decode_header(encode_header(FrameType::Request, kBrokerMaxPayload + 1)).error().reason == DenyReason::TooLarge);
  CHECK(decode_header(encode_header(FrameType::Signal, kSmallFrameMaxPayload + 1)).error().reason ==
        DenyReason::TooLarge);
  CHECK(decode_header(encode_header(FrameType::Request, 2000), 1000).error().reason == DenyReason::TooLarge);
}

TEST_CASE("request decoding is strict and names the field") {
  std::string base = encode_request(sample());
  SECTION("unknown tag") {
    auto r = decode_request(base + field(99, "x"));
    CHECK(r.error().reason == DenyReason::UnknownField);
    CHECK(r.error().field == "tag 99");
  }
  SECTION("duplicate single-valued field") {
    auto r = decode_request(base + field(5, "/other"));
    CHECK(r.error().reason == DenyReason::DuplicateField);
    CHECK(r.error().field == "cwd");
  }
  SECTION("missing fields") {
    CHECK(decode_request(field(3, "/bin/true") + field(5, "/") + field(6, u32(0))).error().field == "artifact");
    CHECK(decode_request(field(1, "a") + field(5, "/") + field(6, u32(0))).error().field == "argv");
    CHECK(decode_request(field(1, "a") + field(3, "x") + field(6, u32(0))).error().field == "cwd");
    CHECK(decode_request(field(1, "a") + field(3, "x") + field(5, "/")).error().field == "flags");
  }
  SECTION("truncated field and claimed lengths beyond the payload") {
    CHECK(decode_request(base.substr(0, base.size() - 1)).error().reason == DenyReason::Malformed);
    CHECK(decode_request(base + std::string("\0\1\0", 3)).error().reason == DenyReason::Malformed);
    std::string liar = base + field(3, "");
    liar[liar.size() - 1] = static_cast<char>(0xff);  // claims 255 bytes, has none
    CHECK(decode_request(liar).error().reason == DenyReason::Malformed);
    std::string huge = base + std::string("\0\3\xff\xff\xff\xff", 6);
    CHECK(decode_request(huge).error().reason == DenyReason::Malformed);
  }
  SECTION("values out of their domain") {
    CHECK(decode_request(base + field(4, "NOEQUALS")).error().reason == DenyReason::InvalidValue);
    CHECK(decode_request(base + field(3, std::string("a\0b", 3))).error().reason == DenyReason::InvalidValue);
    Request r = sample();
    r.cwd = "relative";
    CHECK(decode_request(encode_request(r)).error().field == "cwd");
    r = sample();
    r.flags = 1u << 7;
    CHECK(decode_request(encode_request(r)).error().field == "flags");
    r.flags = 1u << 3;  // the first bit after the known ones
    CHECK(decode_request(encode_request(r)).error().field == "flags");
    r.flags = kFlagNoReport;
    REQUIRE(decode_request(encode_request(r)));
    CHECK(decode_request(encode_request(r))->flags == r.flags);
    // Those two show the report: asking for none with them is refused.
    for (uint32_t shown : {kFlagDryRun, kFlagJson}) {
      r.flags = kFlagNoReport | shown;
      CHECK(decode_request(encode_request(r)).error().field == "flags");
    }
    r = sample();
    r.artifact.assign(kArtifactMaxBytes + 1, 'a');
    CHECK(decode_request(encode_request(r)).error().reason == DenyReason::TooLarge);
    CHECK(decode_request(field(1, "a") + field(3, "x") + field(5, "/") + field(6, "abc")).error().reason ==
          DenyReason::WrongType);
    auto short_mask = decode_request(base + field(7, u32(1)));
    CHECK(short_mask.error().reason == DenyReason::WrongType);
    CHECK(short_mask.error().field == "ignored_signals");
    auto twice = decode_request(base + field(8, u32(0) + u32(1)) + field(8, u32(0) + u32(2)));
    CHECK(twice.error().reason == DenyReason::DuplicateField);
    CHECK(twice.error().field == "blocked_signals");
    auto zero = decode_request(base + field(7, u32(0) + u32(0)));
    CHECK(zero.error().reason == DenyReason::InvalidValue);
    CHECK(zero.error().field == "ignored_signals");
    const uint32_t sigkill_bit = 1u << (SIGKILL - 1);
    CHECK(decode_request(base + field(8, u32(0) + u32(sigkill_bit))).error().field == "blocked_signals");
    CHECK(decode_request(base + field(7, u32(1u << 0) + u32(0))).error().reason == DenyReason::InvalidValue);  // 33
    CHECK(decode_request(base + field(7, u32(0) + u32(1u << 1))));  // SIGINT alone: fine
  }
}

TEST_CASE("a request's strings must be UTF-8, and the refusal names the field") {
  auto refused = [](const Request& r, const std::string& field) {
    auto d = decode_request(encode_request(r));
    REQUIRE_FALSE(d);
    CHECK(d.error().reason == DenyReason::InvalidValue);
    CHECK(d.error().field == field);
    CHECK(d.error().detail.find("not valid UTF-8") != std::string::npos);
  };
  const std::string bad = "\xff\xfe-bad";
  Request r = sample();
  r.argv.push_back("ok-" + bad);
  refused(r, "argv[" + std::to_string(r.argv.size() - 1) + "]");
  r = sample();
  r.argv[0] += bad;
  refused(r, "argv[0]");
  r = sample();
  r.env.push_back("FOO=" + bad);
  refused(r, "env[" + std::to_string(r.env.size() - 1) + "]");
  r = sample();
  r.env.push_back(bad + "=1");
  refused(r, "env[" + std::to_string(r.env.size() - 1) + "]");
  r = sample();
  r.cwd += "/" + bad;
  refused(r, "cwd");
  r = sample();
  r.artifact_name = bad;
  refused(r, "artifact_name");
  // Strictly well-formed: no overlong form, surrogate, code point above
  // U+10FFFF, truncated or stray continuation byte.
  for (const char* s :
       {"\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80", "\xf8\x88\x80\x80\x80"}) {
    r = sample();
    r.argv.push_back(s);
    INFO(s);
    CHECK_FALSE(decode_request(encode_request(r)));
  }
  // Multi-byte text passes, up to U+10FFFF.
  r = sample();
  r.argv.push_back("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
  r.env.push_back("NAME=\xc3\xa9t\xc3\xa9");
  r.cwd = "/tmp/\xe6\x97\xa5";
  auto back = decode_request(encode_request(r));
  REQUIRE(back);
  CHECK(back->argv == r.argv);
  // The artifact is bytes: its parser checks it as text (toml_reader.h).
  r = sample();
  r.artifact += bad;
  CHECK(decode_request(encode_request(r)));
}

TEST_CASE("small frames are strict") {
  CHECK(decode_signal(field(1, u32(0))).error().field == "signo");
  CHECK(decode_signal(field(1, u32(65))).error().field == "signo");
  CHECK(decode_signal(field(1, u32(2)) + field(1, u32(2))).error().reason == DenyReason::DuplicateField);
  CHECK(decode_signal("").error().reason == DenyReason::MissingField);
  CHECK(decode_exit(field(1, u32(256))).error().reason == DenyReason::InvalidValue);
  CHECK(decode_error(field(1, "x")).error().field == "message");
  CHECK(decode_report(field(2, "{}")).error().reason == DenyReason::UnknownField);
}

TEST_CASE("connect frames: one whole channel message, nothing else") {
  const std::string connect = encode_header(FrameType::Connect, 0);
  CHECK(decode_connect(connect).allowed());
  CHECK(frame_type_name(FrameType::Connect) == "connect");
  CHECK(decode_connect(connect.substr(0, 11)).reason == DenyReason::Malformed);
  CHECK(decode_connect(connect + "x").field == "length");
  CHECK(decode_connect(encode_header(FrameType::Request, 0)).field == "type");
  CHECK(decode_connect(encode_header(FrameType::Connect, 1)).reason == DenyReason::TooLarge);  // no payload allowed
  std::string bad = connect;
  bad[4] = 2;
  CHECK(decode_connect(bad).reason == DenyReason::UnsupportedVersion);
  CHECK(decode_connect("").reason == DenyReason::Malformed);
}
