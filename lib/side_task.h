#pragma once

#include <pthread.h>

#include <atomic>
#include <functional>
#include <memory>

namespace gx {

// Work done beside the caller, on another CPU, while the caller goes on
// with what does not depend on it. A standalone gx run makes its receipts'
// signing nonces and opens its use store this way while it verifies and
// matches (docs/performance.md, fourteenth pass).
//
// The thread is pinned to an allowed CPU other than the caller's from its
// start: a new thread starts on its creator's CPU, and on the 2-vCPU VMs gx
// is measured on it waited there (~1 ms) instead of moving to the idle
// one; pinned, it started within ~0.2 ms and ran beside its creator. It
// runs with every signal blocked, so that a signal meant for gx (forwarded
// to a child, or ending gx) never lands on it.
//
// Without a second allowed CPU, or when no thread can be made, start()
// returns null and the caller does the work itself, where it would have.
//
// Two parts: `first`, then `then`. wait_first() returns once `first` is
// over, wait() once both are. Contract: each part touches nothing the
// caller uses before the matching wait returns. An exception that escapes a
// part is swallowed (that part is then over, and its results must show
// that they are missing). Call wait() before anything that forks without
// CLONE_VM (which must start from a single-threaded process); the
// destructor waits too.
class SideTask {
 public:
  static std::unique_ptr<SideTask> start(std::function<void()> first, std::function<void()> then = {});
  ~SideTask();
  SideTask(const SideTask&) = delete;
  SideTask& operator=(const SideTask&) = delete;

  void wait_first();  // `first` is over when this returns
  void wait();        // both parts are over when this returns; idempotent

 private:
  SideTask(std::function<void()> first, std::function<void()> then);
  static void* entry(void* self);

  std::function<void()> first_, then_;
  std::atomic<bool> first_over_{false};
  pthread_t thread_{};
  bool joined_ = false;
};

// An allowed CPU other than the one the caller runs on, or -1.
int other_allowed_cpu();

}  // namespace gx
