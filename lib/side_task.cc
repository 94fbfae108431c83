#include "lib/side_task.h"

#include <sched.h>
#include <signal.h>

#include <utility>

namespace gx {

int other_allowed_cpu() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
  // The next allowed CPU after the caller's, wrapping: callers on different
  // CPUs start their threads on different ones, not all on the lowest.
  const int mine = sched_getcpu();
  const int from = mine >= 0 && mine < CPU_SETSIZE ? mine : 0;
  for (int i = 1; i <= CPU_SETSIZE; ++i) {
    const int cpu = (from + i) % CPU_SETSIZE;
    if (cpu != mine && CPU_ISSET(cpu, &allowed)) return cpu;
  }
  return -1;
}

std::unique_ptr<SideTask> SideTask::start(std::vector<Step> steps) {
  const int cpu = other_allowed_cpu();
  if (cpu < 0) return nullptr;
  std::unique_ptr<SideTask> task(new SideTask(std::move(steps)));
  task->joined_ = true;  // until a thread exists
  if (sched_getaffinity(0, sizeof task->allowed_, &task->allowed_) != 0) return nullptr;
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return nullptr;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  // Started on the other CPU (started unpinned, it would begin on this
  // one), then free again (entry): pinned for good, it would wait behind
  // whatever else ran there while this CPU idles. Born with every signal
  // blocked (a thread inherits its creator's mask).
  sigset_t all, mine;
  sigfillset(&all);
  bool started = false;
  if (pthread_attr_setaffinity_np(&attr, sizeof one, &one) == 0 && pthread_sigmask(SIG_SETMASK, &all, &mine) == 0) {
    started = pthread_create(&task->thread_, &attr, &SideTask::entry, task.get()) == 0;
    pthread_sigmask(SIG_SETMASK, &mine, nullptr);
  }
  pthread_attr_destroy(&attr);
  if (!started) return nullptr;
  task->joined_ = false;
  return task;
}

SideTask::~SideTask() {
  cancel();
  wait();
}

void* SideTask::entry(void* self) {
  auto* task = static_cast<SideTask*>(self);
  pthread_setaffinity_np(pthread_self(), sizeof task->allowed_, &task->allowed_);
  for (const Step& step : task->steps_) {
    if (!task->cancelled_.load(std::memory_order_acquire)) {
      try {
        if (step) step();
      } catch (...) {
        // Documented: the step's results show what is missing.
      }
    }
    task->over_.fetch_add(1, std::memory_order_release);
    task->over_.notify_all();
  }
  return nullptr;
}

void SideTask::wait_for(size_t steps) {
  if (joined_) return;
  if (steps > steps_.size()) steps = steps_.size();
  for (size_t over = over_.load(std::memory_order_acquire); over < steps; over = over_.load(std::memory_order_acquire))
    over_.wait(over, std::memory_order_acquire);
}

void SideTask::cancel() { cancelled_.store(true, std::memory_order_release); }

void SideTask::wait() {
  if (joined_) return;
  joined_ = true;
  pthread_join(thread_, nullptr);
}

}  // namespace gx
