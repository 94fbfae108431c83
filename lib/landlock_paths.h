// Which paths a Landlock grant may reach: gx's protected and secret paths
// (ProtectedPaths), the grants expanded around them, and execute beside
// write. The rules are lib/landlock.h's (the fail-closed list); every
// comparison is between canonical paths.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/artifact.h"
#include "lib/decision.h"

namespace gx {

// Paths the governed child must never be granted.
struct ProtectedPaths {
  // No write grant may equal, contain or lie inside these (state dir,
  // receipt log, use store, trust store, revocation list, ...).
  std::vector<std::string> no_write;
  // Neither read nor write grants may reach these (private signing keys).
  std::vector<std::string> no_access;
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
}  // namespace landlock_paths

}  // namespace gx
