// The runtime identity an artifact can be bound to: host and user.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace gx {

struct HostIdentity {
  std::string hostname;    // gethostname(2)
  std::string machine_id;  // /etc/machine-id, trimmed; empty when unreadable
  uid_t uid = 0;           // real uid of the caller
  // Whether these facts are the host's. In a user namespace other than the
  // initial one, the caller chose them: `unshare -U -r -u -m` lets any user
  // set the host name, bind-mount a machine-id and map any uid. gx reads
  // /proc/self/uid_map: the initial namespace maps the whole range
  // ("0 0 4294967295"); a namespace made without privilege can map only the
  // creator's own uid, so it cannot fake that. Only a privileged creator
  // could (root, which is trusted with the host's identity anyway).
  bool initial_user_ns = false;
  std::string user_ns_detail;  // why not: the uid_map seen, or the read error

  static HostIdentity current();
};

// The user-namespace check alone, from the text of /proc/self/uid_map.
bool is_initial_uid_map(std::string_view uid_map);

}  // namespace gx
