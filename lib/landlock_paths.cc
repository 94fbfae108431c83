#include "lib/landlock_paths.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "lib/fsutil.h"

namespace gx {
namespace landlock_paths {

bool listed(const std::vector<std::string>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// gx's own paths, each resolved once per check (canonical_or_planned) rather
// than once per grant it is compared with: issue #14 counted ~400 readlink
// calls per run from re-resolving the same few paths.
ProtectedPaths resolve_protected(const ProtectedPaths& protect) {
  ProtectedPaths out;
  // A path named twice (the trust store's and the revocation list's
  // directory are often one) is resolved and compared once.
  auto resolve = [](const std::vector<std::string>& in, std::vector<std::string>& resolved) {
    for (size_t i = 0; i < in.size(); ++i)
      if (std::find(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(i), in[i]) ==
          in.begin() + static_cast<std::ptrdiff_t>(i))
        resolved.push_back(canonical_or_planned(in[i]));
  };
  resolve(protect.no_write, out.no_write);
  resolve(protect.no_access, out.no_access);
  for (const auto& e : protect.no_rename) {
    std::string r = canonical_entry(e);
    if (!listed(out.no_rename, r)) out.no_rename.push_back(std::move(r));
  }
  return out;
}

namespace {

// Denies when `granted` (canonical) reaches any of `protect` (resolved by
// resolve_protected): equal or inside always; containing it only when
// `containing` (no expansion).
Decision check_list(const std::string& granted, const std::vector<std::string>& protect, const std::string& field,
                    const std::string& as_written, const char* why, bool containing) {
  for (const auto& cp : protect) {
    if (cp.empty()) continue;
    if (fs::path_within(granted, cp) || (containing && fs::path_within(cp, granted)))
      return Decision::deny(DenyReason::PolicyMismatch,
                            std::string("sandbox grant ") + as_written + " (" + granted + ") reaches " + why + " " + cp,
                            field, as_written);
  }
  return Decision::allow();
}

bool overlaps(const std::string& a, const std::string& b) { return fs::path_within(a, b) || fs::path_within(b, a); }

// Whether the artifact names exec path `path` (canonical `ce`) in
// exec_writable: execute beside write accepted.
bool opted_in(const SandboxPolicy& policy, const std::string& path, const std::string& ce, const Canonicalizer& canon) {
  return listed(policy.exec_writable, path) || std::any_of(policy.exec_writable.begin(), policy.exec_writable.end(),
                                                           [&](const std::string& w) { return canon(w) == ce; });
}

// Applies check(path, field, may_opt_in) to every exec grant (which may opt
// in through exec_writable) and every implicit exec path; the first denial.
template <class Check>
Decision each_exec_path(const SandboxPolicy& policy, const std::vector<std::string>& implicit_exec, Check check) {
  for (size_t i = 0; i < policy.exec.size(); ++i)
    if (Decision d = check(policy.exec[i], "sandbox.exec[" + std::to_string(i) + "]", true); !d) return d;
  for (size_t i = 0; i < implicit_exec.size(); ++i)
    if (Decision d = check(implicit_exec[i], "implicit_exec[" + std::to_string(i) + "]", false); !d) return d;
  return Decision::allow();
}

// "execute grant P overlaps write grant W (sandbox.write[j])<where>: ..."
Decision exec_overlaps_write(const std::string& path, const std::string& write, size_t j, const std::string& where,
                             const std::string& field, bool may_opt_in) {
  return Decision::deny(DenyReason::PolicyMismatch,
                        "execute grant " + path + " overlaps write grant " + write + " (sandbox.write[" +
                            std::to_string(j) + "])" + where + ": the child could write a program and run it" +
                            (may_opt_in ? "; list the path in exec_writable to accept that" : ""),
                        field, path);
}

}  // namespace

// Read and write grants that contain protected paths are expanded (see
// landlock.h); exec grants are narrow by nature and are still refused.
Decision check_one(const std::string& canonical, const std::string& as_written, const std::string& field, bool is_write,
                   bool is_exec, const ProtectedPaths& protect) {
  if (is_write) {
    auto d = check_list(canonical, protect.no_write, field, as_written, "gx's protected path", false);
    if (!d) return d;
  }
  return check_list(canonical, protect.no_access, field, as_written, "gx's secret path", is_exec);
}

// Execute is never granted where the child can write (it would write a
// program and run it), unless the artifact names that exec path in
// exec_writable. The implicit grants (ELF loader, script interpreter) have
// no opt-in: a writable loader is refused outright.
Decision check_exec_not_writable(const SandboxPolicy& policy, const std::vector<std::string>& implicit_exec,
                                 const Canonicalizer& canon) {
  auto check = [&](const std::string& path, const std::string& field, bool may_opt_in) -> Decision {
    std::string ce = canon(path);
    if (may_opt_in && opted_in(policy, path, ce, canon)) return Decision::allow();
    for (size_t j = 0; j < policy.write.size(); ++j) {
      std::string cw = canon(policy.write[j]);
      if (ce.empty() || cw.empty() || !overlaps(ce, cw)) continue;
      return exec_overlaps_write(path, policy.write[j], j, "", field, may_opt_in);
    }
    return Decision::allow();
  };
  if (Decision d = each_exec_path(policy, implicit_exec, check); !d) return d;
  for (size_t i = 0; i < policy.exec_writable.size(); ++i)
    if (!listed(policy.exec, policy.exec_writable[i]))
      return Decision::deny(DenyReason::InvalidValue, "exec_writable names a path that is not in exec",
                            "sandbox.exec_writable[" + std::to_string(i) + "]", policy.exec_writable[i]);
  return Decision::allow();
}

// check_protected over already resolved protected paths.
Decision check_protected_resolved(const SandboxPolicy& policy, const ProtectedPaths& protect,
                                  const Canonicalizer& canon) {
  const PathList lists[] = {{&policy.read, "sandbox.read", Kind::Read},
                            {&policy.write, "sandbox.write", Kind::Write},
                            {&policy.exec, "sandbox.exec", Kind::Exec}};
  for (const auto& l : lists) {
    for (size_t i = 0; i < l.paths->size(); ++i) {
      const auto& p = (*l.paths)[i];
      auto d = check_one(canon(p), p, std::string(l.field) + "[" + std::to_string(i) + "]", l.kind == Kind::Write,
                         l.kind == Kind::Exec, protect);
      if (!d) return d;
    }
  }
  return Decision::allow();
}

// expansion_excludes over already resolved protected paths.
std::vector<std::string> expansion_excludes_resolved(const std::string& grant, bool is_write,
                                                     const ProtectedPaths& protect) {
  std::vector<std::string> out;
  auto consider = [&](const std::string& cp, bool skip_files) {
    if (cp.empty() || cp == grant || !fs::path_within(cp, grant)) return;
    struct stat st {};
    // Reading gx's executable grants nothing: no need to expand around it.
    if (skip_files && stat(cp.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) return;
    if (std::find(out.begin(), out.end(), cp) == out.end()) out.push_back(cp);
  };
  for (const auto& p : protect.no_access) consider(p, false);
  for (const auto& p : protect.no_write) consider(p, !is_write);
  if (is_write)
    for (const auto& p : protect.no_rename) consider(p, false);
  return outermost(std::move(out));
}

// A path inside another excluded path is already out of reach.
std::vector<std::string> outermost(std::vector<std::string> paths) {
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  std::vector<std::string> outer;
  for (const auto& p : paths)
    if (std::none_of(paths.begin(), paths.end(), [&](const std::string& q) { return q != p && fs::path_within(p, q); }))
      outer.push_back(p);
  return outer;
}

Result<std::vector<std::string>> check_reach(const std::vector<mounts::Region>& regions, const std::string& canonical,
                                             const std::string& as_written, const std::string& field, Kind kind,
                                             const PlacedProtected& protect) {
  const bool exec = kind == Kind::Exec || kind == Kind::Implicit || kind == Kind::ImplicitRead;
  const bool read = kind == Kind::Read;
  std::vector<std::string> around;
  auto against = [&](const PlacedPath& p, bool secret) -> Decision {
    const char* what = secret ? "gx's secret path " : "gx's protected path ";
    if (!p.pos)
      return Decision::deny(DenyReason::IoError,
                            std::string("cannot place ") + what + p.canonical +
                                " in its file system (not on a mount /proc/self/mountinfo lists), so cannot tell "
                                "whether sandbox grant " +
                                as_written + " reaches it",
                            field, as_written);
    for (size_t r = 0; r < regions.size(); ++r) {
      const mounts::Region& reg = regions[r];
      if (!mounts::overlap(reg.top, *p.pos)) continue;
      // Where the protected path is entered below the grant; empty when
      // only the grant itself could be left out (it is at or inside).
      std::string entry;
      if (r == 0) {
        if (auto name = mounts::name_within(*p.pos, reg.top, canonical); name && *name != canonical) entry = *name;
      } else if (reg.via != canonical) {
        entry = reg.via;
      }
      if (entry.empty()) {
        if (read && !secret) continue;  // as by path: a read grant may be gx's state directory
        return Decision::deny(DenyReason::PolicyMismatch,
                              "sandbox grant " + as_written + " (" + canonical + ") reaches " + what + p.canonical +
                                  " through another mount: both are file-system position " +
                                  mounts::to_string(r == 0 ? reg.top : *p.pos) + " or one is inside the other",
                              field, as_written);
      }
      if (exec)
        return Decision::deny(DenyReason::PolicyMismatch,
                              "sandbox grant " + as_written + " (" + canonical + ") reaches " + what + p.canonical +
                                  " through another mount, at " + entry,
                              field, as_written);
      if (read && !secret && !p.dir) continue;  // reading gx's binary grants nothing
      around.push_back(entry);
    }
    return Decision::allow();
  };
  for (const auto& p : protect.no_access)
    if (Decision d = against(p, true); !d) return d;
  if (!exec)
    for (const auto& p : protect.no_write)
      if (Decision d = against(p, false); !d) return d;
  if (kind == Kind::Write)
    for (const auto& p : protect.no_rename)
      if (Decision d = against(p, false); !d) return d;
  return around;
}

Decision check_exec_reach(const SandboxPolicy& policy, const std::vector<std::string>& implicit_exec,
                          const Canonicalizer& canon, const RegionsOf& regions_of) {
  auto check = [&](const std::string& path, const std::string& field, bool may_opt_in) -> Decision {
    if (may_opt_in && opted_in(policy, path, canon(path), canon)) return Decision::allow();
    const auto* re = regions_of(path);
    if (re == nullptr) return Decision::allow();
    for (size_t j = 0; j < policy.write.size(); ++j) {
      const auto* rw = regions_of(policy.write[j]);
      if (rw == nullptr) continue;
      for (const auto& a : *re)
        for (const auto& b : *rw) {
          if (!mounts::overlap(a.top, b.top)) continue;
          return exec_overlaps_write(path, policy.write[j], j,
                                     " through another mount, at file-system position " +
                                         mounts::to_string(mounts::within(a.top, b.top) ? a.top : b.top),
                                     field, may_opt_in);
        }
    }
    return Decision::allow();
  };
  return each_exec_path(policy, implicit_exec, check);
}

}  // namespace landlock_paths

ExistingPrefix open_existing_prefix(const std::string& abs) {
  ExistingPrefix out;
  out.head = abs;
  while (true) {
    out.fd = fs::UniqueFd(open(out.head.c_str(), O_PATH | O_CLOEXEC));
    if (out.fd.ok()) return out;
    if (errno != ENOENT && errno != ENOTDIR) return out;
    if (out.head == "/" || out.head.empty()) return out;
    auto pos = out.head.find_last_of('/');
    out.tail = join_tail(out.head.substr(pos + 1), out.tail);
    out.head = pos == 0 ? "/" : out.head.substr(0, pos);
  }
}

std::string join_tail(const std::string& name, const std::string& tail) {
  if (tail.empty()) return name;
  return name == "/" ? "/" + tail : name + "/" + tail;
}

std::string canonical_entry(const std::string& path) {
  std::string abs = fs::absolute(path);
  if (abs == "/") return abs;
  return join_tail(canonical_or_planned(fs::dirname(abs)), abs.substr(abs.find_last_of('/') + 1));
}

std::string canonical_or_planned(const std::string& path) {
  std::string abs = fs::absolute(path);
  ExistingPrefix p = open_existing_prefix(abs);
  if (!p.fd.ok()) return abs;
  std::string name = fs::fd_path(p.fd.get());
  if (name.empty()) name = fs::canonical(p.head);  // realpath's name where /proc cannot say
  return name.empty() ? abs : join_tail(name, p.tail);
}

Decision check_protected(const SandboxPolicy& policy, const ProtectedPaths& protect) {
  return landlock_paths::check_protected_resolved(policy, landlock_paths::resolve_protected(protect),
                                                  canonical_or_planned);
}

std::vector<std::string> expansion_excludes(const std::string& grant, bool is_write, const ProtectedPaths& protect) {
  return landlock_paths::expansion_excludes_resolved(grant, is_write, landlock_paths::resolve_protected(protect));
}

}  // namespace gx
