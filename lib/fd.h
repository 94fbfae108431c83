// File descriptors and advisory locks: the one owning descriptor class and
// the one flock(2) primitive the modules share.
//
// Locks are flock(2) locks: advisory (only gx processes that take the same
// lock are serialised), held by the open file description, released when
// the descriptor is closed — also when the process dies, so a crash never
// leaves a lock behind. Waiting is unbounded: whoever holds the lock is
// another gx process doing a short critical section.
#pragma once

#include <sys/file.h>

#include <string>

#include "lib/decision.h"

namespace gx::fs {

// Owns one descriptor (closed on destruction; move-only).
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// Standard streams. A descriptor gx opens must never be 0, 1 or 2: a
// diagnostic written to a closed-then-reused stderr would land in the
// receipt log or the state database, and a child keeps 0..2 across its fd
// cleanup (lib/confine.h), so a pipe end there would leak into it.
//
// open_closed_std_fds: opens /dev/null (read-write) on each of 0, 1, 2 that
// is closed, as OpenSSH's sanitise_stdfd and glibc for set-id programs do;
// a child of gx then finds /dev/null where its caller left a stream closed.
// Called first thing by main. Returns 0, or the errno of a failed open
// (ENODEV: what opened is not the null device, 1:3).
int open_closed_std_fds();
// Moves `fd` (close-on-exec) to the lowest free descriptor >= 3 when it is
// 0, 1 or 2, closing the original; returns the descriptor to use from now
// on, or -1 (errno set; `fd` closed). Other descriptors are returned as is.
int move_above_std_fds(int fd);

// flock(fd, operation), retried when a signal interrupts the wait: 0, or
// the errno of the failure.
int flock_retrying(int fd, int operation);

// 0 when descriptors `a` and `b` of this process share one open file
// description (kcmp(2) KCMP_FILE); otherwise nonzero (-1 with errno when
// kcmp is missing or refused).
long same_description(int a, int b);

// An exclusive flock on `path`, held until the object is destroyed.
//   lock_file:      a lock file, created 0600 when missing (O_NOFOLLOW: a
//                   symlink in its place is refused);
//   lock_directory: the directory itself (O_DIRECTORY).
// Errors deny with `reason`, "cannot open|lock <path>: <errno text>", the
// given field and the path as value.
class FileLock {
 public:
  static Result<FileLock> lock_file(const std::string& path, DenyReason reason, const std::string& field);
  static Result<FileLock> lock_directory(const std::string& path, DenyReason reason, const std::string& field);

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  static Result<FileLock> take(const std::string& path, int open_flags, DenyReason reason, const std::string& field);
  UniqueFd fd_;
};

}  // namespace gx::fs
