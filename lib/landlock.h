// Landlock: turning an artifact's SandboxPolicy into a kernel ruleset.
//
// Everything here runs in the PARENT (gx) before fork: paths are opened,
// checked and turned into rules while gx can still allocate, report and
// deny. The child only calls landlock_restrict_self(ruleset fd), see
// lib/confine.h.
//
// Fail-closed rules (docs/sandbox.md has the full table):
//  * Landlock unavailable (ABI <= 0)            -> sandbox-unavailable.
//  * kernel ABI < policy.min_landlock_abi        -> sandbox-unavailable.
//  * a right family gx wants but the kernel lacks ("truncate" < 3,
//    "net" < 4, "ioctl-dev" < 5, "scope" < 6)    -> sandbox-unavailable,
//    unless the family is listed in policy.allow_downgrade; then it is
//    recorded in Enforcement::downgraded (never silent).
//  * "refer" (ABI 2) is accepted as a family name but is never a downgrade:
//    on ABI 1 the kernel always denies cross-directory rename/link, which is
//    stricter, and Enforcement::notes says so.
//  * a write/exec path that does not exist       -> invalid-value.
//    A read path that does not exist is skipped (and listed in
//    Enforcement::skipped_paths) only if it is one of kOptionalReadPaths —
//    system directories absent on some distributions. Skipping grants less,
//    never more.
//  * a write path equal to or inside a protected path (gx's state, keys,
//    trust store, ...), or any path equal to or inside a secret path
//    (no_access), or an exec path containing one  -> policy-mismatch.
//  * a read or write path that strictly CONTAINS protected paths is
//    EXPANDED (Landlock cannot subtract): instead of the path itself, gx
//    grants each entry on the way down to every protected path except the
//    one leading there, and only read_dir on the directories it walks
//    through, so all but gx's own files stays reachable. Read grants avoid
//    no_access paths and the no_write paths that are not existing
//    non-directories (the gx executable stays readable); write grants
//    avoid both lists. Enforcement::expanded lists every rule.
//    NOT covered: entries created later (by anyone) directly in an
//    expanded directory -- the child can neither read nor create them;
//    symbolic links met while expanding get no rule (their target is
//    governed by its own rules); the names inside gx's protected
//    directories stay listable (read_dir on an ancestor is inherited),
//    their contents do not.
//  * an exec path (or the implicit loader/interpreter) equal to, inside or
//    containing a write path                      -> policy-mismatch, unless
//    the exec path is listed in exec_writable (never for implicit ones).
//    The child could otherwise write a program and execute it.
//  * the three rules above are applied twice: on canonical path strings,
//    then on FILE-SYSTEM positions (lib/mountinfo.h): a bind mount gives a
//    directory several paths, Landlock rules go on its inode. A protected
//    path reached through a mount inside a read/write grant is expanded
//    around where it is entered. A grant whose mount mountinfo does not
//    list, or an unreadable mountinfo -> io-error naming the field.
//    Not seen: mounts made after the check; stacked file systems (overlay
//    layers, loop images, FUSE) are different devices.
//
// Caveats (Landlock itself): rules only grant; fds opened before
// restriction are not checked; UDP, raw sockets and MPTCP are not covered;
// connect() to named unix sockets is not covered (ABI 7); mmap(PROT_EXEC)
// of a readable file is not "execute"; memfd files are never checked for
// execute (tested, see docs/sandbox.md "memfd execution"). Hence: wherever
// the loader may be executed (any exec grant, and the implicit grant of a
// dynamic program's own loader), `ld.so /any/readable/elf` runs that ELF.
// With exec = [] the exec guard (lib/exec_guard.h) closes that; with exec
// grants it stays open (docs/security.md).
//
// The path rules above (protected and secret paths, expansion, exec beside
// write) are lib/landlock_paths.h; the plan and the ruleset are here.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/artifact.h"
#include "lib/decision.h"
#include "lib/landlock_paths.h"

namespace gx {

// Read paths that may be absent on a given machine (merged-/usr, no multilib).
inline constexpr std::array<std::string_view, 8> kOptionalReadPaths = {
    "/lib64", "/lib32", "/libx32", "/usr/lib64", "/usr/lib32", "/usr/libx32", "/usr/local/lib", "/etc/alternatives"};

// Right families an artifact may accept as unenforced (allow_downgrade).
inline constexpr std::array<std::string_view, 5> kDowngradeFamilies = {"net", "truncate", "ioctl-dev", "scope",
                                                                       "refer"};

// One grant that had to be expanded around protected paths.
struct Expansion {
  std::string field;                          // "sandbox.read[0]"
  std::string grant;                          // canonical path as opened
  std::vector<std::string> excluded;          // protected paths kept out
  std::vector<std::string> listable;          // directories walked: read_dir only
  std::vector<std::string> granted;           // entries given the grant's rights
  std::vector<std::string> skipped_symlinks;  // entries that got no rule
};
void to_json(nlohmann::json& j, const Expansion& e);

// What the kernel will actually enforce; goes to `--json` and receipts.
struct Enforcement {
  int abi = 0;                             // ABI the ruleset was built for
  std::vector<std::string> fs_handled;     // "execute", "write_file", ...
  std::vector<std::string> net_handled;    // "bind_tcp", "connect_tcp"
  std::vector<std::string> scoped;         // "abstract_unix_socket", "signal"
  std::vector<std::string> downgraded;     // families accepted as unenforced
  std::vector<std::string> skipped_paths;  // absent optional read paths
  std::vector<std::string> notes;          // other facts worth showing
  std::vector<Expansion> expanded;         // grants expanded around gx's files
};
void to_json(nlohmann::json& j, const Enforcement& e);

// The ABI of the running kernel (LANDLOCK_CREATE_RULESET_VERSION), or
// -errno when Landlock is not built in (ENOSYS) or disabled (EOPNOTSUPP).
int landlock_abi();

// Pure: the rights a ruleset will handle and grant at a given kernel ABI.
// All fs rights the ABI offers are handled; read/write/exec masks are the
// rights granted beneath read/write/exec paths (already masked to handled).
struct LandlockRights {
  int abi = 0;  // min(kernel ABI, ll::kAbiKnown)
  uint64_t fs_handled = 0;
  uint64_t net_handled = 0;
  uint64_t scoped = 0;
  uint64_t read_access = 0;     // read_file | read_dir
  uint64_t write_access = 0;    // read + write_file, make_*, remove_*, refer, truncate
  uint64_t exec_access = 0;     // execute | read_file
  uint32_t restrict_flags = 0;  // landlock_restrict_self flags (ABI 7 logging)
  std::vector<std::string> downgraded;
  std::vector<std::string> notes;
};
Result<LandlockRights> plan_landlock(int kernel_abi, const SandboxPolicy& policy);

// Names of set bits, for Enforcement and messages.
std::vector<std::string> fs_right_names(uint64_t rights);
std::vector<std::string> net_right_names(uint64_t rights);
std::vector<std::string> scope_names(uint64_t scopes);

// The canonical names of a policy's grants as its ruleset was built:
// index-aligned with SandboxPolicy's read, write, exec and exec_writable,
// each the path of the descriptor its rules went on (fs::fd_path; for a
// held grant that descriptor, for one opened again the same file, checked).
// A read grant skipped as absent (kOptionalReadPaths) has no rule and its
// planned name (canonical_or_planned); "(removed)" names a file with no
// link left. exec_writable[i] is the name of the same path's exec grant.
// Lineage fixes a running parent's bounds to these (lib/attenuation.h) and
// checks a child's rules by them.
struct GrantNames {
  std::vector<std::string> read, write, exec, exec_writable;
  // gx's own execute grants (the ELF interpreter, a program run in place),
  // in the order prepare_ruleset was given them.
  std::vector<std::string> implicit_exec;
};

// A ruleset fd built in the parent; move-only, closes on destruction.
class PreparedRuleset {
 public:
  PreparedRuleset() = default;
  PreparedRuleset(int fd, uint32_t restrict_flags, Enforcement e, GrantNames names = {})
      : fd_(fd), restrict_flags_(restrict_flags), enforcement_(std::move(e)), names_(std::move(names)) {}
  PreparedRuleset(PreparedRuleset&& o) noexcept;
  PreparedRuleset& operator=(PreparedRuleset&& o) noexcept;
  PreparedRuleset(const PreparedRuleset&) = delete;
  PreparedRuleset& operator=(const PreparedRuleset&) = delete;
  ~PreparedRuleset();

  int fd() const { return fd_; }  // O_CLOEXEC; pass to ChildPlan::ruleset_fd
  uint32_t restrict_flags() const { return restrict_flags_; }
  const Enforcement& enforcement() const { return enforcement_; }
  const GrantNames& names() const { return names_; }

 private:
  int fd_ = -1;
  uint32_t restrict_flags_ = 0;
  Enforcement enforcement_;
  GrantNames names_;
};

// Builds the ruleset for the running kernel. `implicit_exec` are files gx
// itself must let the child execute although the artifact does not list
// them: the ELF interpreter (elf_interpreter, lib/executable.h) and, for scripts, the
// script interpreter. They get execute|read_file and must exist.
// The executable itself is run from a sealed memfd and needs no rule
// (docs/sandbox.md, "memfd").
// `implicit_read` are files the child must read although the artifact does
// not list them: a script handed to its interpreter by path (executable.h);
// read_file only.
//
// Security: every grant is checked (protected paths, execute/write overlap)
// on the path the kernel reached through a descriptor, and its rule goes on
// a descriptor of that same file. Each distinct path is opened once and
// its mentions share that descriptor. Descriptors are held for up to 256
// grants, gx's own (implicit) ones first, fewer when the fd limit is reached (a few are then given back
// for the rules); any other grant is resolved for the checks and opened
// again for its rule, and refused if that open reaches another path than
// the one checked. A path that could not be opened for the checks is not
// opened again: its error stands. A grant whose file has been removed (no
// link left; /proc/self/fd/N of an executable renamed over) has no path to
// check: it is ruled on its descriptor. Any other descriptor whose path
// cannot be named (fs::fd_path) is refused.
//
// `witness` (optional) receives what the ruleset rests on, for reuse
// (RulesetWitness below).
struct RulesetWitness;
Result<PreparedRuleset> prepare_ruleset(const SandboxPolicy& policy, const ProtectedPaths& protect,
                                        const std::vector<std::string>& implicit_exec = {},
                                        const std::vector<std::string>& implicit_read = {},
                                        RulesetWitness* witness = nullptr);
// Same at an explicit ABI (<= the kernel's): for tests of downgrades on a
// real kernel. An ABI above the kernel's fails when the ruleset is created.
// `after_checks` (tests only) runs between the checks and the rules: where
// a race would move a grant.
Result<PreparedRuleset> prepare_ruleset_at_abi(int abi, const SandboxPolicy& policy, const ProtectedPaths& protect,
                                               const std::vector<std::string>& implicit_exec = {},
                                               const std::vector<std::string>& implicit_read = {},
                                               const std::function<void()>& after_checks = {},
                                               RulesetWitness* witness = nullptr);

// What a built ruleset's every decision was made on, apart from the policy,
// the protected paths as given and the kernel ABI: each path
// prepare_ruleset resolved and the file (device, inode, type, mount) it
// reached, named (canonical) as it was checked, and the mount table's text
// as it was parsed. Resolving the same paths again and reaching the same
// files under the same names, with the same mount table, would lead
// prepare_ruleset to the same checks, expansions and rules
// (lib/ruleset_cache.h reuses a ruleset on that ground).
struct RulesetWitness {
  struct Reached {
    std::string path;       // as given (a grant as written; a protected path's existing prefix)
    std::string canonical;  // the descriptor's name, checked to reach it without a symlink
    dev_t dev = 0;
    ino_t ino = 0;
    long mnt = -1;
    mode_t type = 0;  // S_IFMT bits
    // A protected path not there yet: the first component below `path`,
    // which did not exist (ENOENT or ENOTDIR). Empty: the path itself.
    std::string missing;
  };
  std::vector<Reached> reached;
  // Optional read paths skipped (open gave ENOENT), with the name the build
  // gave them (canonical_or_planned: GrantNames carries it).
  struct Absent {
    std::string path, planned;
  };
  std::vector<Absent> absent;
  // /proc/self/mountinfo as the position checks parsed it. Its text, not a
  // mount event: renaming a directory above a mount point moves the mount
  // (its mount point's path changes) and raises no event.
  std::string mount_table;
  // Why this ruleset may not be reused ("" when it may): a grant not held,
  // a removed file, a grant expanded around protected paths (the entries
  // opened inside it are not recorded), a protected path unresolved.
  std::string not_reusable;
};

// True when `w` is reusable and every path of `w` resolves again to what it
// reached: the same file, type and mount, named as the build named it (a
// directory, or a file with one link: its canonical name still reaching it
// with no symlink on the way, the one name it has on its mount; a file with
// other links: opened and named again, as the build does); a missing
// component still missing; an absent path still ENOENT and planned under
// the same name; and, checked last (the build read it after opening the
// paths), /proc/self/mountinfo has the same text.
bool witness_holds(const RulesetWitness& w);

// witness_holds in two parts, which together are witness_holds: the
// entries reached, or planned, through /proc or /dev/fd (by the name given
// or the canonical one: they may name the calling process's own state, such
// as a request's in-place executable, /proc/self/fd/N, open only once the
// request matched), or everything else (the other entries, the other absent
// paths, the mount table).
enum class WitnessPart { ThisProcess, Rest };
bool witness_holds(const RulesetWitness& w, WitnessPart part);

}  // namespace gx
