// gx broker's fixed configuration (gx-broker.toml(5)): everything a caller
// could otherwise choose — trust store, revocation list, state directory,
// receipt key — plus who may connect and the limits. Chosen when the broker
// starts, never by a request.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/decision.h"
#include "lib/landlock_paths.h"

namespace gx::broker {

inline constexpr std::string_view kDefaultConfigPath = "/etc/gx/broker.toml";
inline constexpr std::string_view kDefaultSocketPath = "/run/gx/broker.sock";
inline constexpr size_t kConfigMaxBytes = 64 * 1024;

struct BrokerConfig {
  std::string socket_path;  // ignored under socket activation (LISTEN_FDS)
  std::string trust_path;
  std::string revocations_path;  // empty: revocations.toml beside the trust store (revocations_of)
  std::string state_dir;
  std::string receipt_key;                // empty: <state>/receipt.key
  std::vector<std::string> allow_users;   // names or numeric uids
  std::vector<std::string> allow_groups;  // names or numeric gids
  size_t max_concurrent = 32;
  // Requests one user may have running at once, so that one allowed caller
  // cannot hold every slot (the others would get "busy"). A caller is
  // counted as its principal (AllowList::principal). 0: the default
  // (per_user_limit).
  size_t max_per_user = 0;
  uint32_t request_timeout_ms = 10000;  // to receive the whole request
  uint32_t max_request_bytes = 4 * 1024 * 1024;
  mode_t socket_mode = 0666;  // who may connect is the allow lists' job
  std::string socket_group;   // chgrp of the socket when set
  bool syslog = false;
  std::string config_path;  // the file this was read from (set by load_config_file)
};

// The revocation list the broker uses: revocations_path, or its default
// beside the trust store (paths::with_defaults). gx broker fills every
// default in before serving; this is for the library's other callers.
std::string revocations_of(const BrokerConfig& c);

// max_per_user, or its default: max_concurrent when no allow list names
// anyone (only the broker's own uid may connect: nobody to keep out), else
// half of max_concurrent, rounded up.
size_t per_user_limit(const BrokerConfig& c);

// What a brokered command may never write, beside gx's own files: the
// broker's configuration file and its socket (a command that rewrote either
// would choose the next broker's trust store and allow lists, or stand in
// for the broker). A grant over a directory holding either reaches it, so
// replacing one by a rename is refused too. Each is named by every hop of
// its symlink chain (fs::symlink_hops, no_write): a link protects nothing by
// itself; and every link on the way to either (fs::links_on_path, no_rename)
// is kept from being re-pointed.
ProtectedPaths broker_own_paths(const BrokerConfig& c);

// Reads a config file strictly (unknown keys, wrong types refused, naming
// the key) over `base` (the built-in defaults). The file must pass
// StrictModes (fs::check_strict_modes): owned by root or the broker's user
// and writable by nobody else, like every file that defines authority.
Result<BrokerConfig> load_config_file(const std::string& path, BrokerConfig base);

// A subordinate uid range (subuid(5)): inside a user namespace of its own,
// `owner` may become any uid in [first, first + count).
struct SubordinateRange {
  uid_t owner = 0;
  uint64_t first = 0;
  uint64_t count = 0;
};
inline constexpr std::string_view kSubuidPath = "/etc/subuid";
// The ranges of a subuid(5) file. Owners are names or numbers; an owner no
// user database resolves now, or whose lookup fails, counts as the first uid
// of its first range (its ranges still go together); each owner is looked up
// once; a malformed line is skipped. Ranges served by
// NSS (libsubid, nsswitch "subid:") are not read.
std::vector<SubordinateRange> parse_subordinate_ranges(std::string_view text);

// The allow lists resolved to ids (lib/user_db.h, or numbers), and the
// subordinate uid ranges of /etc/subuid as they were when the broker started.
struct AllowList {
  std::vector<uid_t> uids;
  std::vector<gid_t> gids;
  std::vector<SubordinateRange> subordinate;
  // Who a caller counts as for max_per_user: the owner of the subordinate
  // range its uid lies in (the first such range), else the uid itself. A
  // user with subordinate uids (Debian's useradd gives every user 65536)
  // can connect as each of them from a user namespace of its own, keeping
  // its supplementary groups: counted by uid alone, it could take every
  // slot through an allow_groups entry (review helper-44).
  uid_t principal(uid_t uid) const;
  // Who is allowed: the broker's own uid always, then the listed users and
  // anyone whose primary or supplementary group is listed.
  bool allows(uid_t self, uid_t uid, gid_t gid, const std::vector<gid_t>& groups) const;
};
// Also reads `subuid_path` (missing: no ranges; unreadable: an error).
Result<AllowList> resolve_allow_list(const BrokerConfig& c, const std::string& subuid_path = std::string(kSubuidPath));

// Every check a configuration must pass before the broker serves: required
// paths set and absolute, the trust store, revocation list and receipt key
// under StrictModes, limits in range.
Decision check_config(const BrokerConfig& c);

}  // namespace gx::broker
