// The broker's callers as the kernel reports them: SO_PEERCRED and
// SO_PEERGROUPS (translated into the broker's user namespace), and
// SO_PEERPIDFD to pin the reported pid (lib/broker.h, step 1).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "lib/decision.h"
#include "lib/fd.h"
#include "lib/run_pipeline.h"

namespace gx::broker {

// "uid U gid G pid P", for the broker's log lines.
std::string peer_text(const PeerIdentity& p);

// The peer of the connected stream socket `conn`: pid, uid, gid and
// supplementary groups. IoError when the kernel does not say.
Result<PeerIdentity> peer_of(int conn);

// The connecting process, held from the moment its connection is taken by
// the pidfd the kernel gives for it (SO_PEERPIDFD, Linux >= 6.5), so that
// what the report says of `pid` can be asked again later: a pid names a
// process only until that process is reaped, then it can be recycled.
class PeerPin {
 public:
  PeerPin() = default;
  // Holds nothing when the kernel has no SO_PEERPIDFD, or when the pidfd
  // already no longer names `pid` in this pid namespace.
  static PeerPin take(int conn, pid_t pid);
  // Whether `pid` still names the connecting process now: it has not been
  // reaped since it connected (alive, or a zombie: its pid is not yet free),
  // so no later process can hold that number. False when nothing is held.
  bool holds() const;
  // The pidfd's inode number: on pidfs (Linux >= 6.9) unique to the process
  // for the boot, unlike its pid; 0 when nothing is held.
  uint64_t inode() const { return inode_; }

 private:
  fs::UniqueFd fd_;
  pid_t pid_ = 0;
  uint64_t inode_ = 0;
};

// Probed once at start, for the broker's log; where pids are pinned, it
// also learns whether signal 0 on a pidfd is answered truly here (not by a
// seccomp filter), which the workers it forks then inherit.
bool kernel_has_peer_pidfd();

}  // namespace gx::broker
