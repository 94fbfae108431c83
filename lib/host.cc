#include "lib/host.h"

#include <unistd.h>

#include "lib/fsutil.h"

namespace gx {

HostIdentity HostIdentity::current() {
  HostIdentity h;
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) == 0) h.hostname = buf;
  if (auto id = fs::read_file("/etc/machine-id", 4096)) {
    h.machine_id = *id;
    while (!h.machine_id.empty() && (h.machine_id.back() == '\n' || h.machine_id.back() == ' '))
      h.machine_id.pop_back();
  }
  h.uid = getuid();
  return h;
}

}  // namespace gx
