// Which paths a Landlock grant may reach: gx's protected and secret paths
// (ProtectedPaths), the grants expanded around them, and execute beside
// write. The rules are lib/landlock.h's (the fail-closed list). Two passes:
// canonical paths compared as strings (check_protected, check_one,
// check_exec_not_writable), then the same rules on FILE-SYSTEM positions
// (check_reach, check_exec_reach; lib/mountinfo.h), which see what strings
// cannot: Landlock rules attach to inodes, so a grant on a bind-mount alias
// of gx's state directory, or on a directory with such a mount inside it,
// reaches the state directory whatever its path says.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/artifact.h"
#include "lib/decision.h"
#include "lib/fd.h"
#include "lib/mountinfo.h"

namespace gx {

// Paths the governed child must never be granted.
struct ProtectedPaths {
  // No write grant may equal, contain or lie inside these (state dir,
  // receipt log, use store, trust store, revocation list, ...).
  std::vector<std::string> no_write;
  // Neither read nor write grants may reach these (private signing keys).
  std::vector<std::string> no_access;
  // Symbolic links on the way to the paths above (fs::links_on_path),
  // named as their directory entries and never followed: a write grant
  // over an entry's directory is expanded around the entry, so no child
  // can remove, rename or replace the link and re-point gx at files of its
  // own. Reading or executing through them is not restricted.
  std::vector<std::string> no_rename;
};

// The protected paths (canonical) strictly inside canonical `grant` that a
// read (is_write false) or write grant is expanded around; empty: no
// expansion needed.
std::vector<std::string> expansion_excludes(const std::string& grant, bool is_write, const ProtectedPaths& protect);

// Canonical form of a path that may not exist yet: the longest existing
// prefix with symlinks resolved, plus the remaining components. Only a
// component that does not exist (ENOENT, ENOTDIR) moves the split up; any
// other failure (EACCES, EMFILE, ...) gives the absolute path unresolved,
// never a parent's resolution with a tail that was never looked at.
std::string canonical_or_planned(const std::string& path);

// The walk canonical_or_planned makes: `abs` (absolute) cut into its longest
// prefix that opens (O_PATH, symlinks followed) and the components below it
// that do not exist ("" or "a/b"). fd is -1 when an open failed for another
// reason than ENOENT/ENOTDIR (errno set) or nothing up to "/" opened.
struct ExistingPrefix {
  fs::UniqueFd fd;
  std::string head;
  std::string tail;
};
ExistingPrefix open_existing_prefix(const std::string& abs);
// A directory entry's canonical name, the entry itself not followed: its
// directory's canonical_or_planned and its own name (ProtectedPaths::no_rename).
std::string canonical_entry(const std::string& path);
// `name` with `tail` appended as components ("/" + "a/b" is "/a/b").
std::string join_tail(const std::string& name, const std::string& tail);

// Denies (policy-mismatch, field "sandbox.write[i]" or ".read[i]")
// any grant that would reach a protected path and cannot be expanded
// around it (see the rules above). Compares canonical paths.
Decision check_protected(const SandboxPolicy& policy, const ProtectedPaths& protect);

namespace landlock_paths {
// The pieces prepare_ruleset (lib/landlock.cc) applies to the paths it
// opens, with the protected paths resolved once per ruleset.

// Whether `name` is in `list`.
bool listed(const std::vector<std::string>& list, std::string_view name);

// gx's own paths, each resolved once (canonical_or_planned).
ProtectedPaths resolve_protected(const ProtectedPaths& protect);

// One grant (canonical path, as written, its field) against resolved
// protected paths: read and write grants that contain protected paths are
// expanded, exec grants that contain a secret path are refused.
Decision check_one(const std::string& canonical, const std::string& as_written, const std::string& field, bool is_write,
                   bool is_exec, const ProtectedPaths& protect);

enum class Kind { Read, Write, Exec, Implicit, ImplicitRead };

struct PathList {
  const std::vector<std::string>* paths;
  const char* field;
  Kind kind;
};

// A path's canonical form: canonical_or_planned, or what a caller already
// resolved for that path (prepare_ruleset: the path it opened).
using Canonicalizer = std::function<std::string(const std::string&)>;

// Execute is never granted where the child can write, unless the artifact
// names that exec path in exec_writable (never for the implicit grants).
Decision check_exec_not_writable(const SandboxPolicy& policy, const std::vector<std::string>& implicit_exec,
                                 const Canonicalizer& canon);

// check_protected and expansion_excludes over resolved protected paths.
Decision check_protected_resolved(const SandboxPolicy& policy, const ProtectedPaths& protect,
                                  const Canonicalizer& canon);
std::vector<std::string> expansion_excludes_resolved(const std::string& grant, bool is_write,
                                                     const ProtectedPaths& protect);

// Paths to expand around, merged: sorted, each once, none inside another.
std::vector<std::string> outermost(std::vector<std::string> paths);

// A protected path placed in its file system (prepare_ruleset).
struct PlacedPath {
  std::string canonical;                  // as resolve_protected gives it
  std::optional<mounts::FsPosition> pos;  // nullopt: could not be placed; every grant compared with it is refused
  bool dir = true;                        // a directory, or not there yet
};
struct PlacedProtected {
  std::vector<PlacedPath> no_write, no_access, no_rename;
};

// check_one's rules on file-system positions. `regions` is what a rule on
// the grant covers (MountTable::reach of the grant's position and
// canonical path; first its own subtree). A region overlapping a protected
// path the grant may not reach:
//  * the grant's own position equal to or inside it, or a mount on the
//    grant's own directory (in another mount) showing any of it: refused as
//    check_one refuses a grant equal to or inside it (policy-mismatch; a read
//    grant may be at or inside a no_write path, as by path);
//  * anything else: the path below `canonical` where it is entered (the
//    protected path's own name there, or the mount point leading to it) is
//    returned, to be expanded around as a contained protected path is
//    (read and write grants; exec grants are refused). A read grant is not
//    expanded around a no_write path that is not a directory (gx's binary).
// no_rename entries are compared with write grants only.
// What the string pass already sees comes out again; merging (outermost)
// makes that harmless.
Result<std::vector<std::string>> check_reach(const std::vector<mounts::Region>& regions, const std::string& canonical,
                                             const std::string& as_written, const std::string& field, Kind kind,
                                             const PlacedProtected& protect);

// What a rule on a grant covers (check_reach's regions); nullptr for a
// grant with no position (not there: refused later; a removed file: no
// path reaches it).
using RegionsOf = std::function<const std::vector<mounts::Region>*(const std::string&)>;

// check_exec_not_writable on file-system positions: an exec grant (or
// implicit one) whose regions overlap a write grant's is refused
// (policy-mismatch), with the same exec_writable opt-in.
Decision check_exec_reach(const SandboxPolicy& policy, const std::vector<std::string>& implicit_exec,
                          const Canonicalizer& canon, const RegionsOf& regions_of);
}  // namespace landlock_paths

}  // namespace gx
