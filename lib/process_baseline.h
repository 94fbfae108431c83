// What a process must be again before it may do another job: a broker
// worker serves several requests one after another (lib/broker.h, "Reuse")
// only while it is, after each, the process it was before the first.
//
// Taken: the open descriptors (their numbers, /proc/self/fd), the signal
// mask, every resource limit. Checked (differs()): the same three, no
// pending signal (a blocked one would reach the next job: see
// discard_pending), no child process of any kind (running, or left
// unreaped: reaped here, and a running one differs), and no thread but the
// caller. Descriptor numbers only: one closed and replaced by another file
// at the same number passes (gx's kept state reopens files only with a
// reload, which its callers treat as a difference themselves). Anything that cannot be read
// (/proc unmounted) differs: the caller then does not reuse the process.
// Not checked: signal dispositions (gx's pipeline sets the same ones every
// run: SIGPIPE, SIGXFSZ, SIGXCPU ignored), the working directory and umask
// (never changed by the pipeline in its own process), memory contents.
// Not thread-safe; differs() reaps any exited child (waitpid(-1)), so no
// other part of the process may be waiting for one then.
#pragma once

#include <signal.h>
#include <sys/resource.h>

#include <cstddef>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace gx {

// Takes every pending signal of `signals` (blocked ones: sigtimedwait with
// no wait), so none is delivered later.
template <size_t N>
void discard_pending(const int (&signals)[N]) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  const timespec now{0, 0};
  while (sigtimedwait(&set, nullptr, &now) > 0) {
  }
}

class ProcessBaseline {
 public:
  static ProcessBaseline take();
  // Empty when the process is as it was taken; else one phrase saying what
  // differs ("its open descriptors changed").
  std::string differs() const;

 private:
  std::optional<std::vector<std::string>> fds_;
  sigset_t mask_{};
  rlimit limits_[RLIM_NLIMITS]{};
};

}  // namespace gx
