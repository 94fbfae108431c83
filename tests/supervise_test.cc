// lib/supervise: what a governed command inherits of its caller's signal
// handling (InheritedSignals), as bits for the broker protocol and back.
#include "lib/supervise.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

using namespace gx;

TEST_CASE("InheritedSignals: this process's ignored and blocked signals") {
  // In a child, so that the test runner's own handling is left alone.
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    signal(SIGUSR1, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGTERM, [](int) {});  // caught: not ignored
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, nullptr);
    const auto got = InheritedSignals::of_this_process();
    const uint64_t ign = InheritedSignals::bits_of(got.ignored);
    const uint64_t blk = InheritedSignals::bits_of(got.blocked);
    const uint64_t want_ign = (uint64_t{1} << (SIGUSR1 - 1)) | (uint64_t{1} << (SIGHUP - 1));
    const uint64_t want_blk = uint64_t{1} << (SIGUSR2 - 1);
    _exit(ign == want_ign && blk == want_blk ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("InheritedSignals: bits round-trip and SIGKILL and SIGSTOP are never ignored or blocked") {
  const uint64_t all = ~uint64_t{0};
  const auto s = InheritedSignals::from_bits(all, all);
  CHECK(sigismember(&s.ignored, SIGKILL) == 0);
  CHECK(sigismember(&s.blocked, SIGSTOP) == 0);
  CHECK(sigismember(&s.ignored, SIGINT) == 1);
  CHECK(sigismember(&s.blocked, SIGRTMAX) == 1);
  const uint64_t kill_stop = (uint64_t{1} << (SIGKILL - 1)) | (uint64_t{1} << (SIGSTOP - 1));
  // glibc keeps 32 and 33 for itself (sigaddset refuses them): never passed on either.
  const uint64_t glibc_own = (uint64_t{1} << 31) | (uint64_t{1} << 32);
  CHECK(InheritedSignals::bits_of(s.ignored) == (all & ~kill_stop & ~glibc_own));
  const uint64_t some = (uint64_t{1} << (SIGHUP - 1)) | (uint64_t{1} << (SIGWINCH - 1));
  CHECK(InheritedSignals::bits_of(InheritedSignals::from_bits(some, 0).ignored) == some);
  CHECK(InheritedSignals::bits_of(InheritedSignals::from_bits(0, some).blocked) == some);
  CHECK(InheritedSignals::bits_of(InheritedSignals::from_bits(0, 0).ignored) == 0);
}
