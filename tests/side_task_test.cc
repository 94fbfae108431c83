// lib/side_task: steps run in order beside the caller on another CPU,
// pinned from the thread's start, with every signal blocked; waits for a
// prefix of the steps; cancel skips what has not begun; null (the caller
// does the work) when no other CPU is allowed.
#include "lib/side_task.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/test_util.h"

using namespace gx;
using gx::test::allowed_cpus;
using gx::test::OneCpu;

namespace {

bool skip_without_two_cpus(const char* what) {
  if (allowed_cpus() >= 2) return false;
  std::printf("SKIP: side task %s: this process may use only one CPU\n", what);
  return true;
}

// A step that waits until released (a bounded wait: a broken test fails
// instead of hanging).
struct Gate {
  std::atomic<bool> open{false};
  std::atomic<bool> reached{false};
  void pass() {
    reached = true;
    for (int i = 0; i < 5000 && !open.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void wait_reached() {
    for (int i = 0; i < 5000 && !reached.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
};

}  // namespace

TEST_CASE("side task: steps run in order on one thread, which may use every CPU the caller may once it runs") {
  if (skip_without_two_cpus("placement")) return;
  const pid_t me = gettid();
  std::vector<pid_t> tids(3, 0);
  std::vector<int> cpus(3, -1), order;
  int allowed_in_thread = 0;
  std::vector<SideTask::Step> steps;
  for (int i = 0; i < 3; ++i)
    steps.push_back([&, i] {
      tids[static_cast<size_t>(i)] = gettid();
      cpus[static_cast<size_t>(i)] = sched_getcpu();
      order.push_back(i);
      if (i == 0) {
        cpu_set_t s;
        CPU_ZERO(&s);
        sched_getaffinity(0, sizeof s, &s);
        allowed_in_thread = CPU_COUNT(&s);
      }
    });
  auto task = SideTask::start(std::move(steps));
  REQUIRE(task);
  task->wait();
  CHECK(order == std::vector<int>{0, 1, 2});
  CHECK(tids[0] != 0);
  CHECK(tids[0] != me);
  CHECK(tids[1] == tids[0]);
  CHECK(tids[2] == tids[0]);
  // Started pinned to another CPU (not observable after the fact), then
  // given the caller's CPUs back: a busy CPU cannot hold it.
  CHECK(allowed_in_thread == allowed_cpus());
  for (int cpu : cpus) CHECK(cpu >= 0);
  task->wait();  // idempotent
}

TEST_CASE("side task: wait_for returns once the first steps are over, while later ones still run") {
  if (skip_without_two_cpus("wait_for")) return;
  Gate gate;
  std::atomic<bool> first_done{false}, last_done{false};
  auto task = SideTask::start({[&] { first_done = true; }, [&] { gate.pass(); }, [&] { last_done = true; }});
  REQUIRE(task);
  task->wait_for(1);
  CHECK(first_done.load());
  gate.wait_reached();
  CHECK(gate.reached.load());
  CHECK_FALSE(last_done.load());  // held at the second step
  gate.open = true;
  task->wait_for(99);  // more than there are: all of them
  CHECK(last_done.load());
  task->wait();
}

TEST_CASE("side task: the thread has every signal blocked, the caller's mask is unchanged") {
  if (skip_without_two_cpus("signals")) return;
  sigset_t before, after, in_thread;
  sigemptyset(&in_thread);
  pthread_sigmask(SIG_SETMASK, nullptr, &before);
  auto task = SideTask::start({[&] { pthread_sigmask(SIG_SETMASK, nullptr, &in_thread); }});
  REQUIRE(task);
  task->wait();
  pthread_sigmask(SIG_SETMASK, nullptr, &after);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGQUIT}) {
    CHECK(sigismember(&in_thread, sig) == 1);
    CHECK(sigismember(&after, sig) == sigismember(&before, sig));
  }
}

TEST_CASE("side task: the CPU it starts on is allowed and, when there is a choice, another") {
  if (skip_without_two_cpus("other CPU")) return;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  REQUIRE(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
  const int cpu = other_allowed_cpu();
  REQUIRE(cpu >= 0);
  CHECK(CPU_ISSET(cpu, &allowed));
}

TEST_CASE("side task: a process on one CPU gets none, and no step runs") {
  OneCpu one;
  if (!one.ok()) {
    std::puts("SKIP: side task on one CPU: cannot restrict this thread's affinity");
    return;
  }
  CHECK(other_allowed_cpu() == -1);
  bool ran = false;
  auto task = SideTask::start({[&] { ran = true; }});
  CHECK_FALSE(task);
  CHECK_FALSE(ran);
}

TEST_CASE("side task: an exception ends its step, the next step still runs") {
  if (skip_without_two_cpus("exceptions")) return;
  bool next_ran = false;
  auto task = SideTask::start({[] { throw std::runtime_error("boom"); }, [&] { next_ran = true; }});
  REQUIRE(task);
  task->wait_for(1);
  task->wait();
  CHECK(next_ran);
}

TEST_CASE("side task: cancel skips the steps not begun; the one under way finishes") {
  if (skip_without_two_cpus("cancel")) return;
  Gate gate;
  std::atomic<bool> under_way_done{false}, skipped_ran{false};
  auto task = SideTask::start({[&] {
                                 gate.pass();
                                 under_way_done = true;
                               },
                               [&] { skipped_ran = true; }});
  REQUIRE(task);
  gate.wait_reached();
  task->cancel();
  gate.open = true;
  task->wait_for(2);  // a skipped step counts as over
  task->wait();
  CHECK(under_way_done.load());
  CHECK_FALSE(skipped_ran.load());
}

TEST_CASE("side task: the destructor skips what has not begun and waits for what has") {
  if (skip_without_two_cpus("destructor")) return;
  Gate gate;
  std::atomic<bool> under_way_done{false}, skipped_ran{false};
  {
    auto task = SideTask::start({[&] {
                                   gate.pass();
                                   std::this_thread::sleep_for(std::chrono::milliseconds(20));
                                   under_way_done = true;
                                 },
                                 [&] { skipped_ran = true; }});
    REQUIRE(task);
    gate.wait_reached();
    gate.open = true;
  }
  CHECK(under_way_done.load());
  CHECK_FALSE(skipped_ran.load());
}
