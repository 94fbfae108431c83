#include "lib/process_baseline.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
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

}  // namespace

std::optional<std::vector<ProcessBaseline::OpenFd>> ProcessBaseline::open_fds() {
  auto names = entries("/proc/self/fd");
  if (!names) return std::nullopt;
  std::vector<OpenFd> out;
  out.reserve(names->size());
  for (const auto& name : *names) {
    OpenFd f;
    f.fd = std::stoi(name);
    struct stat st {};
    // Each descriptor is the file it was: a number reused by another file
    // (or another opening of it) would carry that file to the next job.
    if (fstat(f.fd, &st) != 0) return std::nullopt;
    f.dev = st.st_dev;
    f.ino = st.st_ino;
    f.status_flags = fcntl(f.fd, F_GETFL);
    f.fd_flags = fcntl(f.fd, F_GETFD);
    if (f.status_flags < 0 || f.fd_flags < 0) return std::nullopt;
    out.push_back(f);
  }
  std::sort(out.begin(), out.end(), [](const OpenFd& a, const OpenFd& b) { return a.fd < b.fd; });
  return out;
}

namespace {

// The ignored and caught signal sets, from /proc/self/status (one read
// instead of a sigaction call per signal), as "SigIgn: HEX SigCgt: HEX";
// empty when unreadable. The numbers glibc reserves for itself (32 up to
// SIGRTMIN) are left out: it installs its own handlers there once, on
// first use (a first thread), not per request.
std::string dispositions() {
  auto status = fs::read_file("/proc/self/status", 1 << 16);
  if (!status) return {};
  uint64_t reserved = 0;
  for (int sig = 32; sig < SIGRTMIN && sig <= 64; ++sig) reserved |= uint64_t{1} << (sig - 1);
  std::string out;
  for (const char* key : {"SigIgn", "SigCgt"}) {
    auto value = fs::proc_status_field(*status, key);
    uint64_t set = 0;
    if (!value || std::from_chars(value->data(), value->data() + value->size(), set, 16).ec != std::errc()) return {};
    char entry[32];
    std::snprintf(entry, sizeof entry, "%s: %016llx ", key, static_cast<unsigned long long>(set & ~reserved));
    out.append(entry);
  }
  return out;
}

rlimit limit_of(int r) {
  rlimit l{0, 0};
  if (getrlimit(static_cast<__rlimit_resource>(r), &l) != 0) l = {0, 0};
  return l;
}

}  // namespace

std::string ProcessBaseline::why_descriptions_not_compared() {
  fs::UniqueFd probe(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!probe.ok()) return fs::errno_text(errno);
  return fs::same_description(probe.get(), probe.get()) == 0 ? std::string() : fs::errno_text(errno);
}

ProcessBaseline ProcessBaseline::take() {
  ProcessBaseline b;
  b.fds_ = open_fds();
  // kcmp is asked first, of one descriptor against itself: a duplicate,
  // once made, is never closed while the process lives -- closing any
  // descriptor of a file drops the process's POSIX locks on it (SQLite's).
  if (b.fds_ && !b.fds_->empty() && fs::same_description(b.fds_->front().fd, b.fds_->front().fd) == 0) {
    for (const auto& f : *b.fds_) {
      b.held_.emplace_back(fcntl(f.fd, F_DUPFD_CLOEXEC, 0));
      if (!b.held_.back().ok()) {
        b.held_.pop_back();
        b.not_held_ = errno;
        break;
      }
    }
  }
  pthread_sigmask(SIG_SETMASK, nullptr, &b.mask_);
  b.dispositions_ = dispositions();
  for (int r = 0; r < RLIM_NLIMITS; ++r) b.limits_[r] = limit_of(r);
  return b;
}

std::string ProcessBaseline::differs(const std::vector<int>& also_open) const {
  for (;;) {
    pid_t r = waitpid(-1, nullptr, WNOHANG | __WALL);
    if (r > 0 || (r < 0 && errno == EINTR)) continue;
    if (r == 0) return "a child process is still running";
    if (errno != ECHILD) return "waitpid: " + fs::errno_text(errno);
    break;
  }
  // A thread just joined can still be listed for a moment: pthread_join
  // returns when the kernel clears its tid, before the task is released.
  // Looked at again for up to ~20 ms; one still there then is running.
  for (int look = 0;; ++look) {
    auto tasks = entries("/proc/self/task");
    if (!tasks) return "/proc/self/task is unreadable";
    if (tasks->size() == 1) break;
    if (look == 20) return "another thread is running";
    const timespec pause{0, 1'000'000};
    nanosleep(&pause, nullptr);
  }
  auto fds = open_fds();
  if (!fds || !fds_) return "/proc/self/fd is unreadable";
  // The held duplicates are the baseline's, not the process's.
  std::erase_if(*fds, [&](const OpenFd& f) {
    return std::any_of(held_.begin(), held_.end(), [&](const fs::UniqueFd& h) { return h.get() == f.fd; }) ||
           std::find(also_open.begin(), also_open.end(), f.fd) != also_open.end();
  });
  if (*fds != *fds_) {
    // Which numbers, for the log: "+5 -7 ~9" (opened 5, closed 7, 9 now
    // another file or opened with other flags).
    std::string what;
    auto at = [](const std::vector<OpenFd>& v, int fd) -> const OpenFd* {
      auto it = std::lower_bound(v.begin(), v.end(), fd, [](const OpenFd& f, int n) { return f.fd < n; });
      return it != v.end() && it->fd == fd ? &*it : nullptr;
    };
    for (const auto& f : *fds) {
      const OpenFd* was = at(*fds_, f.fd);
      if (was == nullptr) what += " +" + std::to_string(f.fd);
      else if (!(*was == f)) what += " ~" + std::to_string(f.fd);
    }
    for (const auto& f : *fds_)
      if (at(*fds, f.fd) == nullptr) what += " -" + std::to_string(f.fd);
    return "its open descriptors changed (" + what.substr(1) + ")";
  }
  if (not_held_ != 0) return "its descriptors could not all be held (" + fs::errno_text(not_held_) + ")";
  for (size_t i = 0; i < held_.size(); ++i)
    if (fs::same_description((*fds_)[i].fd, held_[i].get()) != 0)
      return "its open descriptors changed (~" + std::to_string((*fds_)[i].fd) + ")";
  sigset_t pending;
  sigpending(&pending);
  if (!sigisemptyset(&pending)) return "a signal is pending";
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sigismember(&mask, sig) != sigismember(&mask_, sig)) return "its signal mask changed";
  if (const std::string now = dispositions(); now.empty() || dispositions_.empty())
    return "/proc/self/status is unreadable";
  else if (now != dispositions_) return "its signal dispositions changed (" + dispositions_ + "-> " + now + ")";
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    rlimit now = limit_of(r);
    if (now.rlim_cur != limits_[r].rlim_cur || now.rlim_max != limits_[r].rlim_max)
      return "resource limit " + std::to_string(r) + " changed";
  }
  return {};
}

}  // namespace gx
