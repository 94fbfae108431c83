#include "lib/broker_config.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <limits>
#include <map>

#include "lib/authority.h"
#include "lib/broker_protocol.h"
#include "lib/fsutil.h"
#include "lib/paths.h"
#include "lib/run_as.h"
#include "lib/toml_reader.h"

namespace gx::broker {
namespace {

Decision absolute_path(const std::string& key, const std::string& path, bool required) {
  if (path.empty()) {
    if (!required) return Decision::allow();
    return Decision::deny(DenyReason::MissingField, "broker configuration: " + key + " is not set", key);
  }
  if (path[0] != '/')
    return Decision::deny(DenyReason::InvalidValue, "broker configuration: " + key + " must be an absolute path", key,
                          path);
  return Decision::allow();
}

}  // namespace

ProtectedPaths broker_own_paths(const BrokerConfig& c) {
  ProtectedPaths p;
  for (const std::string* file : {&c.config_path, &c.socket_path})
    if (!file->empty()) {
      for (const std::string& hop : fs::symlink_hops(*file)) p.no_write.push_back(hop);
      add_links(p, *file);
    }
  return p;
}

std::string revocations_of(const BrokerConfig& c) {
  return paths::with_defaults(c.trust_path, c.revocations_path, c.state_dir).revocations;
}

size_t per_user_limit(const BrokerConfig& c) {
  if (c.max_per_user > 0) return c.max_per_user;
  if (c.allow_users.empty() && c.allow_groups.empty()) return c.max_concurrent;
  return (c.max_concurrent + 1) / 2;
}

std::vector<SubordinateRange> parse_subordinate_ranges(std::string_view text) {
  std::vector<SubordinateRange> out;
  // Each owner is looked up once: a file names the same user on many lines,
  // and a hung directory service costs a lookup's deadline (5 s) each time.
  std::map<std::string, uid_t> owners;
  auto number = [](std::string_view s, uint64_t& v) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc() && end == s.data() + s.size();
  };
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t a = line.find(':');
    size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos || line.find(':', b + 1) != std::string_view::npos) continue;
    SubordinateRange r;
    if (!number(line.substr(a + 1, b - a - 1), r.first) || !number(line.substr(b + 1), r.count) || r.count == 0)
      continue;
    // An owner no user database knows now (a directory service not up
    // yet, a deleted account) still groups its ranges: they count as the
    // first uid of its first range, which no other user holds.
    const std::string name(line.substr(0, a));
    if (name.empty()) continue;
    if (auto seen = owners.find(name); seen != owners.end()) {
      r.owner = seen->second;
    } else {
      // A lookup error counts as unknown: the ranges still go together, and
      // the broker does not wait for a directory service to start.
      auto owner = resolve_user_id(name, "subuid");
      if (owner && *owner) r.owner = **owner;
      else if (r.first <= std::numeric_limits<uid_t>::max() - 1) r.owner = static_cast<uid_t>(r.first);
      else continue;
      owners.emplace(name, r.owner);
    }
    out.push_back(r);
  }
  return out;
}

uid_t AllowList::principal(uid_t uid) const {
  for (const auto& r : subordinate)
    if (uid >= r.first && uid - r.first < r.count) return r.owner;
  return uid;
}

Result<BrokerConfig> load_config_file(const std::string& path, BrokerConfig c) {
  if (Decision d = fs::check_strict_modes(path, false); !d) return d;
  auto text = fs::read_file(path, kConfigMaxBytes);
  if (!text) return text.error();
  auto table = parse_toml(*text, path);
  if (!table) return table.error();
  TableReader r(*table, "");
  c.config_path = fs::absolute_physical(path);
  if (auto v = r.string("socket", false)) c.socket_path = *v;
  if (auto v = r.string("trust", false)) c.trust_path = *v;
  if (auto v = r.string("revocations", false)) c.revocations_path = *v;
  if (auto v = r.string("state", false)) c.state_dir = *v;
  if (auto v = r.string("receipt_key", false)) c.receipt_key = *v;
  if (auto v = r.string_array("allow_users", false)) c.allow_users = *v;
  if (auto v = r.string_array("allow_groups", false)) c.allow_groups = *v;
  if (auto v = r.integer("max_concurrent", false, 1, 4096)) c.max_concurrent = static_cast<size_t>(*v);
  if (auto v = r.integer("max_per_user", false, 1, 4096)) c.max_per_user = static_cast<size_t>(*v);
  if (auto v = r.integer("request_timeout_ms", false, 100, 600000)) c.request_timeout_ms = static_cast<uint32_t>(*v);
  if (auto v = r.integer("max_request_bytes", false, 4096, kBrokerMaxPayload))
    c.max_request_bytes = static_cast<uint32_t>(*v);
  if (auto v = r.string("socket_mode", false)) {
    unsigned mode = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), mode, 8);
    if (ec != std::errc() || end != v->data() + v->size() || v->empty() || mode > 0777)
      r.invalid("socket_mode", *v, "is not an octal mode such as \"0660\"");
    else c.socket_mode = static_cast<mode_t>(mode);
  }
  if (auto v = r.string("socket_group", false)) c.socket_group = *v;
  if (auto v = r.boolean("syslog", false)) c.syslog = *v;
  if (Decision d = r.finish(); !d) return d;
  return c;
}

bool AllowList::allows(uid_t self, uid_t uid, gid_t gid, const std::vector<gid_t>& groups) const {
  if (uid == self) return true;
  if (std::find(uids.begin(), uids.end(), uid) != uids.end()) return true;
  for (gid_t g : gids) {
    if (g == gid) return true;
    if (std::find(groups.begin(), groups.end(), g) != groups.end()) return true;
  }
  return false;
}

Result<AllowList> resolve_allow_list(const BrokerConfig& c, const std::string& subuid_path) {
  AllowList a;
  if (fs::exists(subuid_path)) {
    auto text = fs::read_file(subuid_path, 16 * 1024 * 1024);
    if (!text) return text.error();
    a.subordinate = parse_subordinate_ranges(*text);
  }
  for (const auto& u : c.allow_users) {
    auto uid = resolve_user_id(u, "allow_users");
    if (!uid) return uid.error();
    if (!*uid)
      return Decision::deny(DenyReason::InvalidValue, "allow-user: no user named '" + u + "'", "allow_users", u);
    a.uids.push_back(**uid);
  }
  for (const auto& g : c.allow_groups) {
    auto gid = resolve_group_id(g, "allow_groups");
    if (!gid) return gid.error();
    if (!*gid)
      return Decision::deny(DenyReason::InvalidValue, "allow-group: no group named '" + g + "'", "allow_groups", g);
    a.gids.push_back(**gid);
  }
  return a;
}

Decision check_config(const BrokerConfig& c) {
  for (Decision d :
       {absolute_path("trust", c.trust_path, true), absolute_path("state", c.state_dir, true),
        absolute_path("revocations", c.revocations_path, false), absolute_path("receipt_key", c.receipt_key, false)})
    if (!d) return d;
  if (Decision d = fs::check_strict_modes(c.trust_path, false); !d) return d;
  if (!c.revocations_path.empty())
    if (Decision d = fs::check_strict_modes(c.revocations_path, true); !d) return d;
  if (!c.receipt_key.empty())
    if (Decision d = fs::check_strict_modes(c.receipt_key, true); !d) return d;
  if (c.max_concurrent < 1)
    return Decision::deny(DenyReason::InvalidValue, "broker configuration: max_concurrent must be at least 1",
                          "max_concurrent", "0");
  if (c.max_per_user > c.max_concurrent)
    return Decision::deny(DenyReason::InvalidValue,
                          "broker configuration: max_per_user (" + std::to_string(c.max_per_user) +
                              ") is above max_concurrent (" + std::to_string(c.max_concurrent) + ")",
                          "max_per_user", std::to_string(c.max_per_user));
  if (c.max_request_bytes > kBrokerMaxPayload)
    return Decision::deny(
        DenyReason::InvalidValue,
        "broker configuration: max_request_bytes is above the protocol's limit of " + std::to_string(kBrokerMaxPayload),
        "max_request_bytes", std::to_string(c.max_request_bytes));
  return Decision::allow();
}

}  // namespace gx::broker
