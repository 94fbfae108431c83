#include "lib/broker_protocol.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <thread>

#include "lib/artifact.h"
#include "lib/broker_transport.h"

using namespace gx;
using namespace gx::broker;

namespace {

Request sample() {
  Request r;
  r.artifact = "version = 1\n[[signature]]\n";
  r.artifact_name = "job.toml";
  r.argv = {"/bin/echo", "hello", ""};
  r.env = {"PATH=/usr/bin", "EMPTY="};
  r.cwd = "/tmp";
  r.flags = kFlagDryRun;
  return r;
}

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

struct SocketPair {
  int a = -1, b = -1;
  SocketPair() {
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    a = sv[0];
    b = sv[1];
  }
  ~SocketPair() {
    if (a >= 0) close(a);
    if (b >= 0) close(b);
  }
};

Deadline soon() { return std::chrono::steady_clock::now() + std::chrono::milliseconds(300); }

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
  CHECK(decode_header(encode_header(FrameType::Request, kBrokerMaxPayload + 1)).error().reason ==
        DenyReason::TooLarge);
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
    std::string liar = base + field(3, "") ;
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
    r = sample();
    r.artifact.assign(kArtifactMaxBytes + 1, 'a');
    CHECK(decode_request(encode_request(r)).error().reason == DenyReason::TooLarge);
    CHECK(decode_request(field(1, "a") + field(3, "x") + field(5, "/") + field(6, "abc")).error().reason ==
          DenyReason::WrongType);
  }
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

TEST_CASE("transport: a request with exactly three fds") {
  SocketPair sp;
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(devnull >= 0);
  REQUIRE(write_frame(sp.a, FrameType::Request, encode_request(sample()), {devnull, devnull, 2}));
  close(devnull);
  auto f = read_frame(sp.b, soon(), kBrokerMaxPayload, kRequestFds);
  REQUIRE(f);
  CHECK(f->header.type == FrameType::Request);
  REQUIRE(f->fds.size() == 3);
  for (int fd : f->fds) {
    CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    struct stat st {};
    CHECK(fstat(fd, &st) == 0);
    close(fd);
  }
  CHECK(decode_request(f->payload)->argv == sample().argv);
}

TEST_CASE("transport: fds on a frame that allows none are refused and closed") {
  SocketPair sp;
  REQUIRE(write_frame(sp.a, FrameType::Signal, encode_signal(2), {0}));
  auto f = read_frame(sp.b, soon(), kBrokerMaxPayload, kRequestFds);
  REQUIRE_FALSE(f);
  CHECK(f.error().field == "fds");
}

TEST_CASE("transport: more fds than allowed truncate the control message and are refused") {
  SocketPair sp;
  // Four fds in one message; the receiver has room for three.
  std::string bytes = frame(FrameType::Request, encode_request(sample()));
  int fds[4] = {0, 1, 2, 0};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)] = {};
  iovec iov{bytes.data(), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  std::memcpy(CMSG_DATA(c), fds, sizeof fds);
  REQUIRE(sendmsg(sp.a, &msg, 0) == static_cast<ssize_t>(bytes.size()));
  auto f = read_frame(sp.b, soon(), kBrokerMaxPayload, kRequestFds);
  REQUIRE_FALSE(f);
  CHECK(f.error().field == "fds");
}

TEST_CASE("transport: a silent peer times out, a closed one is named") {
  SocketPair sp;
  auto start = std::chrono::steady_clock::now();
  auto f = read_frame(sp.b, soon(), kBrokerMaxPayload, 0);
  REQUIRE_FALSE(f);
  CHECK(f.error().field == "timeout");
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(250));

  // Half a header, then close: mid-frame.
  REQUIRE(write(sp.a, "GXBR", 4) == 4);
  close(sp.a);
  sp.a = -1;
  f = read_frame(sp.b, soon(), kBrokerMaxPayload, 0);
  REQUIRE_FALSE(f);
  CHECK(f.error().detail == "connection closed mid-frame");
  CHECK_FALSE(is_connection_closed(Decision::deny(DenyReason::IoError, "other")));
}

TEST_CASE("transport: a header claiming too much is refused before the payload is read") {
  SocketPair sp;
  std::string h = encode_header(FrameType::Request, kBrokerMaxPayload + 1);
  REQUIRE(write(sp.a, h.data(), h.size()) == static_cast<ssize_t>(h.size()));
  auto f = read_frame(sp.b, soon(), kBrokerMaxPayload, kRequestFds);
  REQUIRE_FALSE(f);
  CHECK(f.error().reason == DenyReason::TooLarge);
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
