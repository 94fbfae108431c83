// The broker's callers as the kernel reports them: SO_PEERCRED and
// SO_PEERGROUPS (translated into the broker's user namespace), and
// SO_PEERPIDFD to pin the reported pid (lib/broker.h, step 1).
#pragma once

#include <sys/types.h>

#include <string>

#include "lib/decision.h"
#include "lib/run_pipeline.h"

namespace gx::broker {

// "uid U gid G pid P", for the broker's log lines.
std::string peer_text(const PeerIdentity& p);

// The peer of the connected stream socket `conn`: pid, uid, gid and
// supplementary groups. IoError when the kernel does not say.
Result<PeerIdentity> peer_of(int conn);

// Whether the kernel's pidfd of the connecting process still names
// `pid` in this pid namespace: the pid in the receipt is that process (alive
// when the request was taken), not a later one that recycled its number.
// False when the kernel has no SO_PEERPIDFD or the process is gone.
bool peer_pid_pinned(int conn, pid_t pid);

// Probed once at start, for the broker's log.
bool kernel_has_peer_pidfd();

}  // namespace gx::broker
