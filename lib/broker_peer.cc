#include "lib/broker_peer.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
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

bool peer_pid_pinned(int conn, pid_t pid) {
  int raw = -1;
  socklen_t len = sizeof raw;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERPIDFD, &raw, &len) != 0 || raw < 0) return false;
  fs::UniqueFd pidfd(raw);
  auto info = fs::read_file("/proc/self/fdinfo/" + std::to_string(raw), 4096);
  if (!info) return false;
  auto at = info->find("\nPid:\t");
  return at != std::string::npos && std::strtol(info->c_str() + at + 6, nullptr, 10) == pid;
}

// Probed once at start, for the broker's log.
bool kernel_has_peer_pidfd() {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return false;
  bool has = peer_pid_pinned(pair[0], getpid());
  close(pair[0]);
  close(pair[1]);
  return has;
}

}  // namespace gx::broker
