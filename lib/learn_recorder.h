// gx learn's decoder: what each seccomp notification of an observed run
// shows (lib/learn_observe.h runs the command and feeds the notifications).
//
// It records the syscall's name (and ioctl request), and decodes path and
// sockaddr arguments by reading /proc/<tid>/mem, /proc/<tid>/cwd and
// /proc/<tid>/fd/N into PathAccess grants, TCP ports and unix socket paths —
// ACCEPTABLE FOR OBSERVATION ONLY: the values can change under a racing
// thread; nothing here ever decides on them. After reading it checks
// SECCOMP_IOCTL_NOTIF_ID_VALID, so a stale notification is not recorded.
// Grants are only what the kernel would allow the same uid (access(2)), and
// per-process /proc paths become a read of /proc.
//
// The notifications from the root process before its first execveat are
// gx's own set-up and are not recorded.
#pragma once

#include <linux/seccomp.h>
#include <sys/types.h>

#include <memory>

#include "lib/learn.h"

namespace gx {

class SyscallRecorder {
 public:
  explicit SyscallRecorder(pid_t root);  // the observed command's pid
  ~SyscallRecorder();
  SyscallRecorder(const SyscallRecorder&) = delete;
  SyscallRecorder& operator=(const SyscallRecorder&) = delete;

  // Records one notification received on `listener` (not yet answered).
  void on_notification(int listener, const seccomp_notif& n);
  // What was recorded; the recorder is spent afterwards.
  Observation take();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gx
