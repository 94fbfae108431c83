// What a process must be again before it may do another job: a broker
// worker serves several requests one after another (lib/broker.h, "Reuse")
// only while it is, after each, the process it was before the first.
//
// Taken: the open descriptors (each one's number, the file it refers to by
// device and inode, its access mode and status flags, its close-on-exec
// flag, and its open file description: the baseline holds a duplicate of
// each and compares them with kcmp(2)), the signal mask, which signals are
// ignored and which caught (SigIgn, SigCgt of /proc/self/status; not the
// numbers glibc keeps for itself, 32 and 33, where it installs handlers
// once on first use), every
// resource limit. Checked (differs()): the same, no pending signal (a blocked
// one would reach the next job: see discard_pending), no child process of
// any kind (running, or left unreaped: reaped here, and a running one
// differs), and no thread but the caller. A descriptor closed and replaced
// at the same number differs ("~N"): by another file, by the same file
// opened again, or by another anonymous-inode file (eventfds, epoll and
// signalfds all share one inode; review helper-54). Where kcmp is missing (a
// kernel without CONFIG_KCMP) or refused (a container's seccomp profile),
// descriptions are not compared: device, inode and flags only (the broker
// logs it at its start). Not compared: file offsets (gx's kept files are read and
// written at explicit positions). The held duplicates are close-on-exec,
// not counted as the process's own descriptors, and closed only with the
// baseline (which the broker's workers keep until they _exit): closing one
// would drop the process's POSIX locks on its file. One closed by mistake (a
// double close elsewhere) differs; one that could not be made (EMFILE)
// makes every check differ. Anything that cannot be read (/proc
// unmounted, a descriptor fstat refuses) differs: the caller then does not
// reuse the process.
// Not checked: which handler a caught signal has, the working directory and
// umask (never changed by the pipeline in its own process), memory
// contents (tests/adversarial/broker_reuse_worker_state.sh compares a
// reused worker's /proc state and what its next command sees).
// Not thread-safe; differs() reaps any exited child (waitpid(-1)), so no
// other part of the process may be waiting for one then.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstddef>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "lib/fd.h"

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
  // Whether open file descriptions can be compared here: kcmp(2) may be
  // missing (no CONFIG_KCMP) or refused (a container's seccomp profile);
  // errno's text when not, empty when they can. For the broker's log.
  static std::string why_descriptions_not_compared();
  // Empty when the process is as it was taken; else one phrase saying what
  // differs ("its open descriptors changed"). `also_open`: descriptors
  // opened since, kept on purpose by their owner (a worker's RulesetCache),
  // which checks them itself; they are left out of the comparison.
  std::string differs(const std::vector<int>& also_open = {}) const;

 private:
  // One open descriptor as differs() compares it.
  struct OpenFd {
    int fd = -1;
    dev_t dev = 0;
    ino_t ino = 0;
    int status_flags = 0;  // F_GETFL: access mode, O_APPEND, O_NONBLOCK...
    int fd_flags = 0;      // F_GETFD: FD_CLOEXEC
    bool operator==(const OpenFd&) const = default;
  };
  static std::optional<std::vector<OpenFd>> open_fds();

  std::optional<std::vector<OpenFd>> fds_;
  // held_[i] duplicates (*fds_)[i] (empty without kcmp). Never closed
  // before the process ends (see take()).
  std::vector<fs::UniqueFd> held_;
  int not_held_ = 0;  // errno of a duplicate that could not be made: differs
  sigset_t mask_{};
  std::string dispositions_;  // "SigIgn: ... SigCgt: ..."; empty if unreadable
  rlimit limits_[RLIM_NLIMITS]{};
};

}  // namespace gx
