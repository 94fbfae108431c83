// The runtime identity an artifact can be bound to: host and user.
#pragma once

#include <sys/types.h>

#include <string>

namespace gx {

struct HostIdentity {
  std::string hostname;    // gethostname(2)
  std::string machine_id;  // /etc/machine-id, trimmed; empty when unreadable
  uid_t uid = 0;           // real uid of the caller

  static HostIdentity current();
};

}  // namespace gx
