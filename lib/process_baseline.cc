#include "lib/process_baseline.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "lib/fsutil.h"

namespace gx {
namespace {

// The entries of a /proc directory, sorted; nullopt when unreadable.
// The listing's own descriptor is left out of /proc/self/fd.
std::optional<std::vector<std::string>> entries(const char* dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir);
  if (d == nullptr) return std::nullopt;
  const std::string own = std::to_string(dirfd(d));
  const bool fds = std::string_view(dir) == "/proc/self/fd";
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.' && !(fds && own == e->d_name)) out.emplace_back(e->d_name);
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

rlimit limit_of(int r) {
  rlimit l{0, 0};
  if (getrlimit(static_cast<__rlimit_resource>(r), &l) != 0) l = {0, 0};
  return l;
}

}  // namespace

ProcessBaseline ProcessBaseline::take() {
  ProcessBaseline b;
  b.fds_ = entries("/proc/self/fd");
  pthread_sigmask(SIG_SETMASK, nullptr, &b.mask_);
  for (int r = 0; r < RLIM_NLIMITS; ++r) b.limits_[r] = limit_of(r);
  return b;
}

std::string ProcessBaseline::differs() const {
  for (;;) {
    pid_t r = waitpid(-1, nullptr, WNOHANG | __WALL);
    if (r > 0 || (r < 0 && errno == EINTR)) continue;
    if (r == 0) return "a child process is still running";
    if (errno != ECHILD) return "waitpid: " + fs::errno_text(errno);
    break;
  }
  auto tasks = entries("/proc/self/task");
  if (!tasks) return "/proc/self/task is unreadable";
  if (tasks->size() != 1) return "another thread is running";
  auto fds = entries("/proc/self/fd");
  if (!fds || !fds_) return "/proc/self/fd is unreadable";
  if (*fds != *fds_) {
    // Which numbers, for the log: "+5 -7" (opened 5, closed 7).
    std::string what;
    for (const auto& fd : *fds)
      if (!std::binary_search(fds_->begin(), fds_->end(), fd)) what += " +" + fd;
    for (const auto& fd : *fds_)
      if (!std::binary_search(fds->begin(), fds->end(), fd)) what += " -" + fd;
    return "its open descriptors changed (" + what.substr(1) + ")";
  }
  sigset_t pending;
  sigpending(&pending);
  if (!sigisemptyset(&pending)) return "a signal is pending";
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sigismember(&mask, sig) != sigismember(&mask_, sig)) return "its signal mask changed";
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    rlimit now = limit_of(r);
    if (now.rlim_cur != limits_[r].rlim_cur || now.rlim_max != limits_[r].rlim_max)
      return "resource limit " + std::to_string(r) + " changed";
  }
  return {};
}

}  // namespace gx
