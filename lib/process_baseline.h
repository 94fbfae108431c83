// What a process must be again before it may do another job: a broker
// worker serves several requests one after another (lib/broker.h, "Reuse")
// only while it is, after each, the process it was before the first.
//
// Taken: the open descriptors (their numbers, /proc/self/fd), the signal
// mask, every resource limit. Checked (differs()): the same three, no
// child process (running, or left unreaped: reaped here, and a running one
// differs), and no thread but the caller. Anything that cannot be read
// (/proc unmounted) differs: the caller then does not reuse the process.
// Not checked: signal dispositions (gx's pipeline sets the same ones every
// run: SIGPIPE, SIGXFSZ, SIGXCPU ignored), the working directory and umask
// (never changed by the pipeline in its own process), memory contents.
// Not thread-safe; differs() reaps any exited child (waitpid(-1)), so no
// other part of the process may be waiting for one then.
#pragma once

#include <signal.h>
#include <sys/resource.h>

#include <optional>
#include <string>
#include <vector>

namespace gx {

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
