#pragma once

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

namespace gx {

// Work done beside the caller, on another CPU, while the caller goes on
// with what does not depend on it. A standalone gx run opens its receipt
// log and its use store and makes its receipts' signing nonces this way
// while it verifies and matches (docs/performance.md, fourteenth pass).
//
// The thread starts pinned to an allowed CPU other than the caller's: a new
// thread starts on its creator's CPU, and on the 2-vCPU VMs gx is measured
// on it waited there (~1 ms) instead of moving to the idle one; started on
// the other, it began within ~0.2 ms and ran beside its creator. Once
// running it may use every CPU the caller may again, so that a busy CPU
// (another process's, even a real-time one) cannot hold the caller's wait
// hostage. It runs with every signal blocked, so that a signal meant for
// gx (forwarded to a child, or ending gx) never lands on it.
//
// Without a second allowed CPU, or when no thread can be made, start()
// returns null and the caller does the work itself, where it would have.
//
// The work is a list of steps, run in order. wait_for(n) returns once the
// first n are over, wait() once all are; cancel() skips the steps not yet
// begun (one under way finishes). Contract: a step touches nothing the
// caller uses before the wait that covers it returns. An exception that
// escapes a step is swallowed (that step is over, and its results must
// show that they are missing). Call wait() before anything that forks
// without CLONE_VM (which must start from a single-threaded process); the
// destructor cancels what has not begun and waits.
class SideTask {
 public:
  using Step = std::function<void()>;
  static std::unique_ptr<SideTask> start(std::vector<Step> steps);
  ~SideTask();
  SideTask(const SideTask&) = delete;
  SideTask& operator=(const SideTask&) = delete;

  void wait_for(size_t steps);  // the first `steps` steps are over (or skipped)
  void cancel();                // steps not yet begun are skipped
  void wait();                  // every step is over (or skipped); idempotent
  bool done() const { return joined_ || over_.load(std::memory_order_acquire) >= steps_.size(); }

 private:
  explicit SideTask(std::vector<Step> steps) : steps_(std::move(steps)) {}
  static void* entry(void* self);

  std::vector<Step> steps_;
  cpu_set_t allowed_{};          // the caller's CPUs, given back to the thread once it runs
  std::atomic<size_t> over_{0};  // steps over or skipped, in order
  std::atomic<bool> cancelled_{false};
  pthread_t thread_{};
  bool joined_ = false;
};

// An allowed CPU other than the one the caller runs on (the next one after
// it, wrapping), or -1.
int other_allowed_cpu();

}  // namespace gx
