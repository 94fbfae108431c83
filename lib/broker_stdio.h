// Which received descriptors a brokered command may get as its stdin,
// stdout and stderr (docs/broker.md, "Protocol"). The broker's worker checks
// the client's three fds before anything else of the request; a refused fd
// ends the request with an error frame, nothing run or recorded.
//
// Refused, because each would let the command reach past its sandbox:
//   - an O_PATH fd (no stream; only a handle the command could reopen
//     through /proc/self/fd/N with its own, possibly root, rights);
//   - a directory;
//   - a memfd (Landlock's exec rules never cover one: the command could
//     exec /proc/self/fd/N);
//   - a regular file, device node, named FIFO or symlink on a mount only
//     the caller's namespace has (Landlock checks exec and a reopen of
//     /proc/self/fd/N by walking the caller's mount tree, where a private
//     mount can sit inside a grant);
//   - any unix socket (connected: it carries fds in, SO_PASSRIGHTS is no
//     defence since the caller keeps a copy; unconnected: it connects past
//     unix_sockets = false), and a socket gx cannot inspect.
// Anonymous pipes (pipefs), terminals and /dev nodes on the broker's or the
// initial mount namespace (a container's own devpts is refused), regular
// files there, and inet sockets pass.
#pragma once

#include <vector>

#include "lib/decision.h"

namespace gx::broker {

// allow, or invalid-value / malformed naming "fds" and the kind refused
// ("O_PATH", "memfd", "unix-socket", "socket", "mount N").
Decision check_stdio(const std::vector<int>& fds);

}  // namespace gx::broker
