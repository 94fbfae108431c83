// Run-as: whose rights the governed command gets.
//
// Target identity, in order:
//   1. the artifact's [run] user (group, groups, capabilities), like sudo -u;
//   2. else, for a brokered run (RunRequest::peer), the peer's own uid, gid
//      and supplementary groups as the kernel reported them (SO_PEERCRED);
//   3. else none: a local `gx run` runs the command as its caller.
// A broker running as root therefore never runs a caller's command as root
// by accident: only an artifact naming user "root" does that.
//
// Names are resolved on this host at run time (lib/user_db.h); a
// name that does not resolve denies (run-as-unavailable, naming the field
// and the value). A decimal string is taken as a uid/gid as it is. The
// group defaults to the user's primary group (a uid without a passwd entry
// then needs `group`); supplementary groups default to NONE: only the groups
// the artifact lists (never the user's from /etc/group, which an
// administrator can change after signing).
//
// Switching needs CAP_SETUID, CAP_SETGID and CAP_SETPCAP in gx's effective
// set (probed with capget, never assumed from uid 0). With them the child
// always switches and ends with exactly the kept capabilities (none unless
// [run] capabilities names them), even when the target is root itself.
// Without them, a target that differs from gx's own credentials (or any
// kept capability) denies (run-as-unavailable) — gx never runs a command as
// the wrong user; a target equal to gx's own credentials runs unchanged.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/artifact.h"
#include "lib/confine.h"
#include "lib/decision.h"
#include "lib/run_pipeline.h"

namespace gx {

// capabilities(7) names, CAP_CHOWN (0) .. CAP_CHECKPOINT_RESTORE (40):
// a fixed table, independent of the build host's headers.
std::optional<int> capability_number(std::string_view name);
std::string_view capability_name(int cap);  // "" when unknown
// Highest capability this kernel knows (/proc/sys/kernel/cap_last_cap), or
// -1 when unreadable. Read once a process (it cannot change while the
// kernel runs; a process checkpointed and restored onto another kernel
// keeps the value it read); thread-safe.
int kernel_last_cap();

// A user or group as an artifact writes it: 1-64 characters of
// [A-Za-z0-9._-] not starting with '-' (an optional trailing '$'), or a
// decimal id below 2^32-1.
bool valid_account_name(std::string_view s);

// A user or group as written (valid_account_name: a name or a decimal id)
// resolved on this host (lib/user_db.h): a decimal id is taken
// as is; nullopt when no such name exists; a lookup error other than "not
// found" denies (run-as-unavailable, naming `field`). The one resolver for
// [run] and the broker's allow lists.
Result<std::optional<uid_t>> resolve_user_id(const std::string& name_or_id, const std::string& field);
Result<std::optional<gid_t>> resolve_group_id(const std::string& name_or_id, const std::string& field);

struct RunIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary, in order, no duplicates
  uint64_t capabilities = 0;  // bit n: capability n is kept
  std::string source;         // "artifact" or "peer"
  std::string field;          // "run.user" or "peer" (for denials)
  std::string user;           // as written (or the peer's uid)
};

// The target identity (see above), or nullopt for "run as the caller".
Result<std::optional<RunIdentity>> resolve_run_identity(const RunAs& run, const PeerIdentity* peer);

// gx's own credentials, as the kernel reports them.
struct ProcessRights {
  uid_t ruid = 0, euid = 0, suid = 0;
  gid_t rgid = 0, egid = 0, sgid = 0;
  std::vector<gid_t> groups;
  uint64_t effective_caps = 0;
  static ProcessRights current();
};

// The credentials step of a ChildPlan; owns the group array it points to.
class PreparedCredentials {
 public:
  PreparedCredentials() = default;
  PreparedCredentials(const PreparedCredentials&) = delete;
  PreparedCredentials& operator=(const PreparedCredentials&) = delete;
  PreparedCredentials(PreparedCredentials&&) = default;
  PreparedCredentials& operator=(PreparedCredentials&&) = default;

  // Valid while this object lives and is not moved.
  ChildCredentials child() const;
  // {"uid", "gid", "groups", "capabilities", "source", "switched"}, for the
  // report and the receipt's sandbox summary; null when there is no target.
  nlohmann::json summary() const;

 private:
  friend Result<PreparedCredentials> prepare_credentials(const std::optional<RunIdentity>&, const ProcessRights&, int);
  std::optional<RunIdentity> target_;
  bool apply_ = false;
  int last_cap_ = -1;
  uint64_t drop_caps_ = 0;  // no switch: ChildCredentials::drop_caps
};

// What a privileged gx takes from a command it does not switch to another
// user (no [run], or [run] naming gx's own identity without capabilities):
// CAP_SETFCAP, CAP_FSETID and CAP_SYS_NICE. The command -- root -- could otherwise leave a
// program behind that runs with more rights than whoever starts it: file
// capabilities (setxattr security.capability, with the `permissions` group;
// a review planted cap_setuid this way) or a setuid file it rewrites keeping
// its setuid bit. And CAP_SYS_NICE: a real-time or negative-nice root
// command can starve every other process on the host (review helper-41).
// An artifact that needs them names them in [run] capabilities with a user.
inline constexpr uint64_t kNeverKeptUnswitched =
    (1ULL << 31) /* CAP_SETFCAP */ | (1ULL << 4) /* CAP_FSETID */ | (1ULL << 23) /* CAP_SYS_NICE */;

// Decides whether the child switches (see above). `last_cap` is
// kernel_last_cap(); a kept capability above it denies.
Result<PreparedCredentials> prepare_credentials(const std::optional<RunIdentity>& target, const ProcessRights& self,
                                                int last_cap);

}  // namespace gx
