#include "lib/broker_peer.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

// Whether the process a pidfd refers to has not been reaped yet. Signal 0
// sends nothing; the kernel only looks the process up, and a zombie is
// still found (ESRCH once it was reaped; EPERM: found, but this process
// may not signal it). One system call, where reading the pidfd's
// /proc/self/fdinfo entry took three and a procfs text.
bool pidfd_alive(int pidfd) {
  if (syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0) return true;
  return errno == EPERM;
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
  if (!pidfd_alive(pidfd.get()) || fstat(pidfd.get(), &st) != 0) return pin;
  pin.fd_ = std::move(pidfd);
  pin.pid_ = pid;
  pin.inode_ = st.st_ino;
  return pin;
}

bool PeerPin::holds() const { return fd_.ok() && pidfd_alive(fd_.get()); }

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
