// The broker's frames on a socket: descriptors, deadlines, closed peers
// (lib/broker_transport.h).
#include "lib/broker_transport.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>

#include "lib/broker_protocol.h"
#include "tests/broker_protocol_fixture.h"

using namespace gx;
using namespace gx::broker;
using gx::broker::test::sample;

namespace {

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

TEST_CASE("transport: frames written together arrive whole and in order; an oversized one stops all") {
  SocketPair sp;
  const std::string report = encode_report({"{\"decision\":{}}"});
  REQUIRE(write_frames(sp.a, {{FrameType::Report, report}, {FrameType::Exit, encode_exit(7)}}));
  auto first = read_frame(sp.b, soon());
  REQUIRE(first);
  CHECK(first->header.type == FrameType::Report);
  CHECK(first->payload == report);
  auto second = read_frame(sp.b, soon());
  REQUIRE(second);
  CHECK(second->header.type == FrameType::Exit);
  CHECK(*decode_exit(second->payload) == 7);
  // One payload over the limit: refused before anything is sent, the
  // frames before it included.
  Decision d = write_frames(
      sp.a, {{FrameType::Exit, encode_exit(1)}, {FrameType::Report, std::string(kBrokerMaxPayload + 1, 'x')}});
  CHECK(d.reason == DenyReason::TooLarge);
  shutdown(sp.a, SHUT_WR);
  auto none = read_frame(sp.b, soon());
  REQUIRE_FALSE(none);
  CHECK(is_connection_closed(none.error()));
}
