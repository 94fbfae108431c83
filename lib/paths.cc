#include "lib/paths.h"

#include <stdlib.h>
#include <unistd.h>

#include "lib/fsutil.h"
#include "lib/user_db.h"

namespace gx::paths {
namespace {
std::string home() {
  if (const char* h = getenv("HOME"); h && *h) return h;
  if (auto u = userdb::user_by_id(getuid()); u && *u && !(*u)->home.empty()) return (*u)->home;
  return "/";
}
std::string xdg(const char* var, const char* fallback) {
  if (const char* v = getenv(var); v && *v == '/') return v;
  return home() + "/" + fallback;
}
}  // namespace

std::string default_trust_store() {
  if (geteuid() == 0) return "/etc/gx/trust.toml";
  return xdg("XDG_CONFIG_HOME", ".config") + "/gx/trust.toml";
}

std::string default_revocations(const std::string& trust_store) {
  return fs::dirname(trust_store) + "/revocations.toml";
}

std::string default_state_dir() {
  if (geteuid() == 0) return "/var/lib/gx";
  return xdg("XDG_STATE_HOME", ".local/state") + "/gx";
}

AuthorityPaths with_defaults(const std::string& trust, const std::string& revocations, const std::string& state) {
  AuthorityPaths p{trust, revocations, state};
  if (p.trust.empty()) p.trust = default_trust_store();
  // One name each, used and protected alike, with ".." as the kernel takes it.
  p.trust = fs::absolute_physical(p.trust);
  if (p.revocations.empty()) p.revocations = default_revocations(p.trust);
  p.revocations = fs::absolute_physical(p.revocations);
  if (p.state.empty()) p.state = default_state_dir();
  p.state = fs::absolute_physical(p.state);
  return p;
}

}  // namespace gx::paths
