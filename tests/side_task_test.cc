// lib/side_task: work beside the caller on another CPU, pinned from its
// start, with every signal blocked; null (the caller does the work) when
// no other CPU is allowed.
#include "lib/side_task.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "tests/test_util.h"

using namespace gx;

using gx::test::allowed_cpus;
using gx::test::OneCpu;

TEST_CASE("side task: both parts run on a thread pinned to another CPU, in order") {
  if (allowed_cpus() < 2) {
    std::puts("SKIP: side task placement: this process may use only one CPU");
    return;
  }
  const pid_t me = gettid();
  pid_t first_tid = 0, then_tid = 0;
  int first_cpu = -1, then_cpu = -1, allowed_in_thread = 0;
  std::atomic<int> order{0};
  int first_at = -1, then_at = -1;
  auto task = SideTask::start(
      [&] {
        first_tid = gettid();
        first_cpu = sched_getcpu();
        cpu_set_t s;
        CPU_ZERO(&s);
        sched_getaffinity(0, sizeof s, &s);
        allowed_in_thread = CPU_COUNT(&s);
        first_at = order.fetch_add(1);
      },
      [&] {
        then_tid = gettid();
        then_cpu = sched_getcpu();
        then_at = order.fetch_add(1);
      });
  REQUIRE(task);
  task->wait_first();
  CHECK(first_at == 0);
  task->wait();
  CHECK(then_at == 1);
  CHECK(first_tid != 0);
  CHECK(first_tid != me);
  CHECK(then_tid == first_tid);
  CHECK(allowed_in_thread == 1);  // pinned from its start: it never ran anywhere else
  CHECK(first_cpu >= 0);
  CHECK(then_cpu == first_cpu);
  task->wait();  // idempotent
}

TEST_CASE("side task: the thread has every signal blocked, the caller's mask is unchanged") {
  if (allowed_cpus() < 2) {
    std::puts("SKIP: side task signals: this process may use only one CPU");
    return;
  }
  sigset_t before, after, in_thread;
  sigemptyset(&in_thread);
  pthread_sigmask(SIG_SETMASK, nullptr, &before);
  auto task = SideTask::start([&] { pthread_sigmask(SIG_SETMASK, nullptr, &in_thread); });
  REQUIRE(task);
  task->wait();
  pthread_sigmask(SIG_SETMASK, nullptr, &after);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGQUIT}) {
    CHECK(sigismember(&in_thread, sig) == 1);
    CHECK(sigismember(&after, sig) == sigismember(&before, sig));
  }
}

TEST_CASE("side task: a process on one CPU gets none, and the work is not run") {
  OneCpu one;
  if (!one.ok()) {
    std::puts("SKIP: side task on one CPU: cannot restrict this thread's affinity");
    return;
  }
  CHECK(other_allowed_cpu() == -1);
  bool ran = false;
  auto task = SideTask::start([&] { ran = true; });
  CHECK_FALSE(task);
  CHECK_FALSE(ran);
}

TEST_CASE("side task: an exception ends its part, the next part still runs, waits return") {
  if (allowed_cpus() < 2) {
    std::puts("SKIP: side task exceptions: this process may use only one CPU");
    return;
  }
  bool then_ran = false;
  auto task = SideTask::start([] { throw std::runtime_error("boom"); }, [&] { then_ran = true; });
  REQUIRE(task);
  task->wait_first();
  task->wait();
  CHECK(then_ran);
}

TEST_CASE("side task: the destructor waits for the work") {
  if (allowed_cpus() < 2) {
    std::puts("SKIP: side task destructor: this process may use only one CPU");
    return;
  }
  std::atomic<bool> finished{false};
  {
    auto task = SideTask::start([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      finished = true;
    });
    REQUIRE(task);
  }
  CHECK(finished.load());
}
