#include "lib/broker_peer.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <vector>

#include "lib/fsutil.h"

namespace gx::broker {

std::string peer_text(const PeerIdentity& p) {
  return "uid " + std::to_string(p.uid) + " gid " + std::to_string(p.gid) + " pid " + std::to_string(p.pid);
}

Result<PeerIdentity> peer_of(int conn) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return Decision::deny(DenyReason::IoError, "SO_PEERCRED: " + fs::errno_text(errno));
  PeerIdentity p;
  p.pid = cred.pid;
  p.uid = cred.uid;
  p.gid = cred.gid;
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 4; ++attempt) {
    socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(conn, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
      groups.resize(glen / sizeof(gid_t));
      p.groups = groups;
      return p;
    }
    if (errno != ERANGE) return Decision::deny(DenyReason::IoError, "SO_PEERGROUPS: " + fs::errno_text(errno));
    groups.resize(std::max<size_t>(glen / sizeof(gid_t), groups.size() * 2));
  }
  return Decision::deny(DenyReason::IoError, "SO_PEERGROUPS: too many groups");
}

// SO_PEERPIDFD (Linux 6.5; Debian 12's headers predate it): a pidfd of the
// very process that connected.
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

namespace {

// The pid a pidfd names in this pid namespace: -1 once the process was
// reaped (0 when it is outside this namespace), as fdinfo says.
std::optional<long> pidfd_pid(int pidfd) {
  auto info = fs::read_file("/proc/self/fdinfo/" + std::to_string(pidfd), 4096);
  if (!info) return std::nullopt;
  auto at = info->find("\nPid:\t");
  if (at == std::string::npos) return std::nullopt;
  return std::strtol(info->c_str() + at + 6, nullptr, 10);
}

long signal_zero(int pidfd) { return syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0); }

// Whether pidfd_send_signal(fd, 0) says what the kernel knows here: 0 for
// this very process, ESRCH for a child already reaped. A seccomp filter that
// answers the call itself (systemd's SystemCallErrorNumber=EPERM, a
// container profile without it, a fake 0) fails this, and every answer is
// then read from fdinfo instead. Asked once a process; the broker asks at
// start (kernel_has_peer_pidfd), before it forks its workers.
bool signal_zero_answers() {
  static const bool answers = [] {
    fs::UniqueFd self(static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0)));
    if (!self.ok() || signal_zero(self.get()) != 0) return false;
    const pid_t child = fork();
    if (child < 0) return false;
    if (child == 0) _exit(0);
    fs::UniqueFd reaped(static_cast<int>(syscall(SYS_pidfd_open, child, 0)));
    while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
    return reaped.ok() && signal_zero(reaped.get()) != 0 && errno == ESRCH;
  }();
  return answers;
}

// Whether the process a pidfd refers to, `pid` in this namespace, has not
// been reaped yet. Signal 0 sends nothing; the kernel only looks the process
// up, and a zombie is still found (ESRCH once it was reaped): one system
// call, where fdinfo takes three and a procfs text. EPERM (a process this
// one may not signal) or a call that does not answer truly
// (signal_zero_answers) leaves it to fdinfo.
bool pidfd_alive(int pidfd, pid_t pid) {
  if (signal_zero_answers()) {
    if (signal_zero(pidfd) == 0) return true;
    if (errno == ESRCH) return false;
  }
  return pidfd_pid(pidfd) == pid;
}

}  // namespace

PeerPin PeerPin::take(int conn, pid_t pid) {
  PeerPin pin;
  int raw = -1;
  socklen_t len = sizeof raw;
  if (pid <= 0 || getsockopt(conn, SOL_SOCKET, SO_PEERPIDFD, &raw, &len) != 0 || raw < 0) return pin;
  fs::UniqueFd pidfd(raw);
  // The pidfd is of the socket's peer process, the one whose pid
  // SO_PEERCRED translated into `pid` (the kernel keeps one reference to
  // it, sk_peer_pid, for both): while that process is not reaped, `pid`
  // names it and nothing else.
  struct stat st {};
  if (!pidfd_alive(pidfd.get(), pid) || fstat(pidfd.get(), &st) != 0) return pin;
  pin.fd_ = std::move(pidfd);
  pin.pid_ = pid;
  pin.inode_ = st.st_ino;
  return pin;
}

bool PeerPin::holds() const { return fd_.ok() && pidfd_alive(fd_.get(), pid_); }

// Probed once at start, for the broker's log.
bool kernel_has_peer_pidfd() {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return false;
  bool has = PeerPin::take(pair[0], getpid()).holds();
  close(pair[0]);
  close(pair[1]);
  return has;
}

}  // namespace gx::broker
