// SCM_RIGHTS in one place (lib/fd_passing.h): fds arrive, close-on-exec, and
// every kind of truncation is reported rather than silently dropped.
#include "lib/fd_passing.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>

using namespace gx;

namespace {
struct Pair {
  int fd[2] = {-1, -1};
  explicit Pair(int type) { REQUIRE(socketpair(AF_UNIX, type, 0, fd) == 0); }
  ~Pair() {
    for (int f : fd)
      if (f >= 0) close(f);
  }
};
}  // namespace

TEST_CASE("fds sent with bytes arrive with them, close-on-exec, as the same files") {
  Pair p(SOCK_STREAM);
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  REQUIRE(send_fds(p.fd[0], "hello", 5, pipe_fds, 2) == 5);
  char buf[16];
  ReceivedFds r = recv_fds(p.fd[1], buf, sizeof buf);
  REQUIRE(r.bytes == 5);
  CHECK(std::string(buf, 5) == "hello");
  REQUIRE(r.count == 2);
  CHECK_FALSE(r.fds_truncated);
  CHECK_FALSE(r.data_truncated);
  struct stat a {
  }, b{};
  REQUIRE(fstat(pipe_fds[1], &a) == 0);
  REQUIRE(fstat(r.fds[1], &b) == 0);
  CHECK(a.st_ino == b.st_ino);
  CHECK((fcntl(r.fds[0], F_GETFD) & FD_CLOEXEC) != 0);
  r.close_all();
  CHECK(r.count == 0);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

TEST_CASE("limits and errors come back as values") {
  Pair p(SOCK_SEQPACKET);
  int five[5] = {0, 0, 0, 0, 0};
  CHECK(send_fds(p.fd[0], "x", 1, five, kMaxPassedFds + 1) == -EINVAL);
  // A datagram longer than the buffer: reported, not silently cut.
  REQUIRE(send_fds(p.fd[0], "0123456789", 10, nullptr, 0) == 10);
  char small[4];
  ReceivedFds r = recv_fds(p.fd[1], small, sizeof small);
  CHECK(r.bytes == 4);
  CHECK(r.data_truncated);
  // Nothing there: -EAGAIN, not retried.
  CHECK(recv_fds(p.fd[1], small, sizeof small, MSG_DONTWAIT).bytes == -EAGAIN);
  // A closed peer: -EPIPE, and no SIGPIPE.
  close(p.fd[1]);
  p.fd[1] = -1;
  CHECK(send_fds(p.fd[0], "x", 1, nullptr, 0) == -EPIPE);
}
