#include "lib/fd.h"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "lib/fsutil.h"

namespace gx::fs {

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.release();
  }
  return *this;
}

int open_closed_std_fds() {
  for (int fd = 0; fd < 3; ++fd) {
    if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    // The lowest free descriptor is this one: 0..fd-1 are open by now.
    int null = open("/dev/null", O_RDWR | O_NOCTTY);
    if (null < 0) return errno;
    if (null != fd) {  // cannot happen, but never leave a stray descriptor
      close(null);
      return EBADF;
    }
    // Only the null device (1:3): a file planted at /dev/null would be what
    // gx writes its messages to, or reads a passphrase from.
    struct stat st {};
    if (fstat(null, &st) != 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3) {
      close(null);
      return ENODEV;
    }
  }
  return 0;
}

int move_above_std_fds(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int err = errno;
  close(fd);
  errno = err;
  return moved;
}

int flock_retrying(int fd, int operation) {
  while (flock(fd, operation) != 0)
    if (errno != EINTR) return errno;
  return 0;
}

Result<FileLock> FileLock::lock_file(const std::string& path, DenyReason reason, const std::string& field) {
  return take(path, O_RDWR | O_CREAT | O_NOFOLLOW, reason, field);
}

Result<FileLock> FileLock::lock_directory(const std::string& path, DenyReason reason, const std::string& field) {
  return take(path, O_RDONLY | O_DIRECTORY, reason, field);
}

// Every argument widened to a long: syscall(2) is variadic, and an int
// passed there leaves the register's upper half undefined.
long same_description(int a, int b) {
  const long self = getpid();
  return syscall(SYS_kcmp, self, self, long{KCMP_FILE}, static_cast<long>(a), static_cast<long>(b));
}

Result<FileLock> FileLock::take(const std::string& path, int open_flags, DenyReason reason, const std::string& field) {
  UniqueFd fd(open(path.c_str(), open_flags | O_CLOEXEC, 0600));
  if (!fd.ok()) return Decision::deny(reason, "cannot open " + path + ": " + errno_text(errno), field, path);
  if (int err = flock_retrying(fd.get(), LOCK_EX); err != 0)
    return Decision::deny(reason, "cannot lock " + path + ": " + errno_text(err), field, path);
  return FileLock(std::move(fd));
}

}  // namespace gx::fs
