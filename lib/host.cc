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
  if (auto map = fs::read_file("/proc/self/uid_map", 4096)) {
    h.initial_user_ns = is_initial_uid_map(*map);
    if (!h.initial_user_ns) {
      std::string seen = *map;
      while (!seen.empty() && seen.back() == '\n') seen.pop_back();
      for (auto& c : seen)
        if (c == '\n') c = ';';
      h.user_ns_detail = "uid_map '" + seen + "'";
    }
  } else {
    h.user_ns_detail = "cannot read /proc/self/uid_map: " + map.error().detail;
  }
  return h;
}

bool is_initial_uid_map(std::string_view uid_map) {
  // Exactly one line "0 0 4294967295", any spacing.
  unsigned long long v[3];
  int n = 0;
  size_t i = 0;
  while (i < uid_map.size() && n < 3) {
    while (i < uid_map.size() && uid_map[i] == ' ') ++i;
    if (i >= uid_map.size() || uid_map[i] < '0' || uid_map[i] > '9') return false;
    unsigned long long x = 0;
    while (i < uid_map.size() && uid_map[i] >= '0' && uid_map[i] <= '9') {
      x = x * 10 + static_cast<unsigned long long>(uid_map[i] - '0');
      if (x > 0xffffffffULL) return false;
      ++i;
    }
    v[n++] = x;
  }
  while (i < uid_map.size() && (uid_map[i] == ' ' || uid_map[i] == '\n')) ++i;
  return n == 3 && i == uid_map.size() && v[0] == 0 && v[1] == 0 && v[2] == 4294967295ULL;
}

}  // namespace gx
