#include "lib/learn.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <map>

#include "lib/confine.h"
#include "lib/executable.h"
#include "lib/fsutil.h"
#include "lib/invocation.h"
#include "lib/learn_observe.h"
#include "seccomp/filter_builder.h"
#include "seccomp/ioctls.h"
#include "seccomp/syscall_groups.h"

namespace gx {

OpenNeed classify_open(uint64_t flags, bool exists, bool is_dir) {
  if (flags & O_PATH) return OpenNeed::None;  // Landlock checks no right for O_PATH
  if ((flags & O_TMPFILE) == O_TMPFILE) return exists && is_dir ? OpenNeed::WriteDir : OpenNeed::None;
  const uint64_t mode = flags & O_ACCMODE;
  const bool writes = mode == O_WRONLY || mode == O_RDWR || (flags & O_TRUNC);
  if (!exists) return (flags & O_CREAT) && !(flags & O_DIRECTORY) ? OpenNeed::CreateInDir : OpenNeed::None;
  if ((flags & O_CREAT) && (flags & O_EXCL)) return OpenNeed::None;  // EEXIST
  if (is_dir) return writes ? OpenNeed::None : OpenNeed::ReadDir;    // EISDIR
  if (flags & O_DIRECTORY) return OpenNeed::None;                    // ENOTDIR
  return writes ? OpenNeed::WriteFile : OpenNeed::Read;
}

namespace {

// Does a grant (g_kind on g_path, a directory or not) cover a?
bool covers(const std::string& g_path, Grant g_kind, bool g_dir, const PathAccess& a) {
  bool inside = g_dir ? fs::path_within(a.path, g_path) : a.path == g_path;
  if (!inside) return false;
  if (g_kind == a.grant) return true;
  if (a.grant == Grant::Read) return g_kind == Grant::Write || (g_kind == Grant::Exec && !a.directory);
  return false;
}

std::vector<PathAccess> drop_covered(const std::vector<PathAccess>& in, const std::vector<PathAccess>& base) {
  std::vector<PathAccess> out;
  for (size_t i = 0; i < in.size(); ++i) {
    const PathAccess& a = in[i];
    bool covered = false;
    for (const auto& b : base)
      if (covers(b.path, b.grant, b.directory, a)) covered = true;
    for (size_t j = 0; j < in.size() && !covered; ++j) {
      if (i == j) continue;
      const PathAccess& g = in[j];
      // Identical entries: keep the first only.
      if (g == a) {
        covered = j < i;
        continue;
      }
      if (covers(g.path, g.grant, g.directory, a)) covered = true;
    }
    if (!covered) out.push_back(a);
  }
  return out;
}

std::vector<PathAccess> base_grants(const SandboxPolicy& base) {
  std::vector<PathAccess> v;
  // Template entries may be files (/dev/null) or trees; path_within on a
  // file path only matches the file itself, so treating all as trees is exact.
  for (const auto& p : base.read) v.push_back({p, Grant::Read, true});
  for (const auto& p : base.write) v.push_back({p, Grant::Write, true});
  for (const auto& p : base.exec) v.push_back({p, Grant::Exec, true});
  return v;
}

}  // namespace

PathGrants compact_paths(const std::vector<PathAccess>& seen, const SandboxPolicy& base) {
  const auto basev = base_grants(base);
  std::vector<PathAccess> v = drop_covered(seen, basev);
  // Collapse: many files with the same grant in one directory -> the directory.
  std::map<std::pair<std::string, Grant>, size_t> per_dir;
  for (const auto& a : v)
    if (!a.directory && a.grant != Grant::Exec) ++per_dir[{fs::dirname(a.path), a.grant}];
  std::vector<PathAccess> collapsed;
  for (const auto& a : v) {
    if (!a.directory && a.grant != Grant::Exec && per_dir[{fs::dirname(a.path), a.grant}] >= kCollapseFiles)
      collapsed.push_back({fs::dirname(a.path), a.grant, true});
    else collapsed.push_back(a);
  }
  v = drop_covered(collapsed, basev);
  PathGrants g;
  for (const auto& a : v) {
    auto& list = a.grant == Grant::Read ? g.read : a.grant == Grant::Write ? g.write : g.exec;
    list.push_back(a.path);
  }
  for (auto* list : {&g.read, &g.write, &g.exec}) std::sort(list->begin(), list->end());
  return g;
}

SyscallChoice choose_syscalls(const std::set<std::string>& used, bool tcp, bool exact, bool allow_dangerous) {
  SyscallChoice c;
  c.groups = {"default"};
  if (tcp) c.groups.push_back("network");
  const auto* def = seccomp::find_group("default");
  const auto& probed = seccomp::probed_syscalls();
  std::set<std::string> rest;
  for (const auto& s : used) {
    if (def && std::find(def->syscalls.begin(), def->syscalls.end(), s) != def->syscalls.end()) continue;
    if (seccomp::syscall_number(s) < 0) {
      c.unknown.push_back(s);
      continue;
    }
    // Answered ENOSYS whatever the artifact says (openat2): the program fell
    // back or will; never written into allow_syscalls, which would refuse it.
    if (seccomp::is_never_allowed(s)) {
      c.never.push_back(s);
      continue;
    }
    if (std::find(probed.begin(), probed.end(), s) != probed.end()) {
      c.probed.push_back(s);
      if (allow_dangerous) c.allow_syscalls.push_back(s);
      continue;
    }
    if (seccomp::is_dangerous(s)) {
      c.dangerous.push_back(s);
      if (allow_dangerous) c.allow_syscalls.push_back(s);
      continue;
    }
    rest.insert(s);
  }
  if (tcp) {
    const auto* net = seccomp::find_group("network");
    if (net)
      for (const auto& s : net->syscalls) rest.erase(s);
  }
  // Greedy cover: the group that covers most remaining syscalls (ties: the
  // smaller group), while it covers at least kGroupMinUsed of them.
  while (!exact) {
    const seccomp::SyscallGroup* best = nullptr;
    size_t best_hits = 0;
    for (const auto& g : seccomp::syscall_groups()) {
      if (std::find(c.groups.begin(), c.groups.end(), g.name) != c.groups.end()) continue;
      size_t hits = 0;
      for (const auto& s : g.syscalls) hits += rest.count(s);
      if (hits > best_hits || (hits == best_hits && best && hits > 0 && g.syscalls.size() < best->syscalls.size())) {
        best = &g;
        best_hits = hits;
      }
    }
    if (!best || best_hits < kGroupMinUsed) break;
    c.groups.push_back(best->name);
    for (const auto& s : best->syscalls) rest.erase(s);
  }
  c.allow_syscalls.insert(c.allow_syscalls.end(), rest.begin(), rest.end());
  std::sort(c.allow_syscalls.begin(), c.allow_syscalls.end());
  return c;
}

IoctlChoice choose_ioctls(const std::set<uint32_t>& used) {
  IoctlChoice c;
  std::set<std::string> groups, names;
  auto in_group = [](const seccomp::IoctlGroup& g, uint32_t nr) {
    for (const auto& n : g.names)
      if (seccomp::ioctl_number(n) == nr) return true;
    return false;
  };
  for (uint32_t nr : used) {
    if (seccomp::ioctl_forbidden(nr)) {
      c.refused.push_back(seccomp::ioctl_name(nr));
      continue;
    }
    const seccomp::IoctlGroup* hit = nullptr;
    for (const auto& g : seccomp::ioctl_groups())
      if (in_group(g, nr)) {
        hit = &g;
        break;
      }
    if (hit && hit->name == "default") continue;
    if (hit) groups.insert(hit->name);
    else names.insert(seccomp::ioctl_name(nr));
  }
  c.groups.assign(groups.begin(), groups.end());
  c.ioctls.assign(names.begin(), names.end());
  return c;
}

std::string sandbox_table(const std::string& body) {
  size_t start = body.find("\n[sandbox]\n");
  if (start == std::string::npos) return {};
  ++start;
  size_t end = body.find("\n[", start + 1);
  if (end == std::string::npos) return body.substr(start);
  return body.substr(start, end + 1 - start);
}

namespace {

bool looks_like_private_key(const std::string& path) {
  auto head = fs::read_file(path, 1 << 20);
  if (!head) return false;
  return head->find("-----BEGIN") != std::string::npos && head->find("PRIVATE KEY-----") != std::string::npos;
}

// Never learned: what lies in gx's own files (no_write, no_access), exec
// grants containing secrets, and anything that looks like a PEM private key.
std::vector<PathAccess> drop_protected(const std::vector<PathAccess>& in, const ProtectedPaths& protect,
                                       std::vector<std::string>& warnings) {
  std::vector<PathAccess> out;
  for (const auto& a : in) {
    // Equal to or inside a protected path: never learned. A read/write
    // directory that merely CONTAINS one is kept: gx run expands it around
    // gx's files (landlock.h); exec grants are not expanded.
    auto inside = [&](const std::vector<std::string>& list) {
      for (const auto& p : list) {
        std::string cp = canonical_or_planned(p);
        if (!cp.empty() && fs::path_within(a.path, cp)) return true;
      }
      return false;
    };
    auto contains = [&](const std::vector<std::string>& list) {
      for (const auto& p : list) {
        std::string cp = canonical_or_planned(p);
        if (!cp.empty() && a.directory && cp != a.path && fs::path_within(cp, a.path)) return true;
      }
      return false;
    };
    // Reading gx's state or trust store is no secret, but it is gx's, not the command's.
    bool skip = inside(protect.no_access) || inside(protect.no_write) ||
                (a.grant == Grant::Exec && contains(protect.no_access));
    if (!skip && a.grant != Grant::Exec && (contains(protect.no_access) || contains(protect.no_write)))
      warnings.push_back("learned " + a.path +
                         ", which contains gx's own files: gx run grants it expanded around them");
    if (!skip && !a.directory && a.grant == Grant::Read && looks_like_private_key(a.path)) skip = true;
    if (skip) {
      warnings.push_back("not learned (gx's own file or a private key): " + a.path);
      continue;
    }
    out.push_back(a);
  }
  return out;
}

// The kernel opens these itself on exec (no syscall to observe): the ELF
// loader of every executed binary, the #! interpreter of executed scripts.
void add_exec_dependencies(std::vector<PathAccess>& paths) {
  for (size_t i = 0; i < paths.size(); ++i) {
    if (paths[i].grant != Grant::Exec) continue;
    const std::string file = paths[i].path;
    std::string dep;
    char head[256];
    int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = pread(fd, head, sizeof head, 0);
    close(fd);
    if (n <= 0) continue;
    std::string_view text(head, static_cast<size_t>(n));
    if (text.rfind("#!", 0) == 0) {
      if (auto sb = parse_shebang(text)) dep = sb->interpreter;
    } else if (auto interp = elf_interpreter(file); interp && !interp->empty()) {
      dep = *interp;
    }
    if (dep.empty()) continue;
    std::string canon = fs::canonical(dep);
    if (canon.empty()) continue;
    PathAccess a{canon, Grant::Exec, false};
    if (std::find(paths.begin(), paths.end(), a) == paths.end()) paths.push_back(a);  // checked in turn
  }
}

std::string insert_after_header(const std::string& body, const std::string& comment) {
  size_t pos = body.find("\nversion = ");
  if (pos == std::string::npos) return comment + body;
  return body.substr(0, pos + 1) + comment + body.substr(pos + 1);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

Result<LearnResult> learn(const LearnRequest& req) {
  auto tmpl = make_template(req.tmpl);
  if (!tmpl) return tmpl.error();
  Artifact a = tmpl.take();
  auto matched = match_invocation(a, Invocation{req.tmpl.argv, req.env, req.tmpl.cwd});
  if (!matched) return matched.error();
  // The command runs unconfined as the same user: at least keep it from
  // ptracing gx or reading gx's memory while gx records it.
  if (Decision d = harden_supervisor(); !d) return d;
  auto obs = observe_run(*matched, ObserveOptions{req.stdout_to_stderr, req.signals});
  if (!obs) return obs.error();

  LearnResult r;
  r.observed = obs.take();
  const int ws = r.observed.wait_status;
  r.exit_status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 255;
  r.warnings = r.observed.notes;
  if (!matched->script_fallback.empty())
    r.warnings.push_back(script_fallback_warning(matched->script_arg, matched->script_fallback));

  std::vector<PathAccess> paths = drop_protected(r.observed.paths, req.protect, r.warnings);
  add_exec_dependencies(paths);
  SandboxPolicy& sb = a.scope.sandbox;
  PathGrants grants = compact_paths(paths, sb);
  // gx run refuses grants on paths that do not exist: a file the run wrote
  // and then removed is covered by its directory's grant, if there is one.
  auto keep_existing = [&](std::vector<std::string>& out, const std::vector<std::string>& learned) {
    for (const auto& p : learned) {
      if (fs::exists(p)) out.push_back(p);
      else r.warnings.push_back("not learned (gone after the run): " + p);
    }
  };
  keep_existing(sb.read, grants.read);
  keep_existing(sb.write, grants.write);
  keep_existing(sb.exec, grants.exec);

  SyscallChoice sc = choose_syscalls(r.observed.syscalls, r.observed.tcp, req.exact_syscalls, req.allow_dangerous);
  sb.groups = sc.groups;
  sb.allow_syscalls = sc.allow_syscalls;
  if (r.observed.tcp) {
    sb.network = NetMode::Tcp;
    sb.connect_tcp.assign(r.observed.connect_tcp.begin(), r.observed.connect_tcp.end());
    sb.bind_tcp.assign(r.observed.bind_tcp.begin(), r.observed.bind_tcp.end());
  } else {
    sb.network = NetMode::None;
    sb.connect_tcp.clear();
    sb.bind_tcp.clear();
  }
  IoctlChoice ic = choose_ioctls(r.observed.ioctls);
  sb.ioctl_groups = ic.groups;
  sb.ioctls = ic.ioctls;
  if (!ic.ioctls.empty())
    r.warnings.push_back("ioctl requests allowed by name (check each, see `gx profiles`): " + join(ic.ioctls));
  if (!ic.refused.empty()) r.warnings.push_back("ioctl requests gx never allows (they will fail): " + join(ic.refused));
  sb.unix_sockets = !r.observed.unix_sockets.empty();
  if (sb.unix_sockets)
    r.warnings.push_back(
        "unix_sockets = true: the run connected to named Unix sockets (" +
        join(std::vector<std::string>(r.observed.unix_sockets.begin(), r.observed.unix_sockets.end())) +
        "); this lets the command reach EVERY socket its uid can, Landlock cannot restrict them");
  else if (r.observed.unix_socket_created)
    r.warnings.push_back(
        "the run created a Unix socket but connected to no named one: socket(AF_UNIX) will be "
        "refused (set unix_sockets = true if the command needs it)");
  // chmod/chown/xattrs are outside Landlock: say so whenever the run used
  // any (syscall_groups.cc, `permissions`; none of them is dangerous, so
  // choose_syscalls allowed each one the run used, by group or by name).
  {
    std::vector<std::string> changes;
    if (const auto* perms = seccomp::find_group("permissions"))
      for (const auto& name : perms->syscalls)
        if (r.observed.syscalls.count(name)) changes.push_back(name);
    if (!changes.empty())
      r.warnings.push_back("the run changed file modes, owners or xattrs (" + join(changes) +
                           "): the artifact allows them, and Landlock does not keep them inside the grants -- the "
                           "command can change any file its user may change; consider `[run] user`");
  }
  if (!sc.probed.empty())
    r.warnings.push_back(req.allow_dangerous
                             ? "probed syscalls allowed by --allow-dangerous: " + join(sc.probed)
                             : "not allowed (gx answers ENOSYS and runtimes fall back): " + join(sc.probed));
  if (!sc.dangerous.empty())
    r.warnings.push_back(req.allow_dangerous ? "DANGEROUS syscalls allowed by --allow-dangerous: " + join(sc.dangerous)
                                             : "dangerous syscalls NOT allowed (they will fail with EPERM; "
                                               "--allow-dangerous adds them): " +
                                                   join(sc.dangerous));
  if (!sc.unknown.empty()) r.warnings.push_back("syscalls gx cannot name, not allowed: " + join(sc.unknown));
  if (!sc.never.empty())
    r.warnings.push_back("syscalls gx never allows (it answers ENOSYS; programs fall back): " + join(sc.never));

  // Self-checks: what gx learn writes must be what gx run accepts.
  if (Decision d = check_protected(sb, req.protect); !d)
    return Decision::deny(d.reason,
                          "the learned sandbox would reach gx's own files, gx run would refuse it: " + d.detail,
                          d.field, d.value);
  auto filter = seccomp::FilterBuilder::from_policy(sb).build();
  if (!filter) return filter.error();

  std::string comment = "# Learned by `gx learn` from ONE run on " + format_utc(req.tmpl.now) +
                        ": the sandbox allows what that run did.\n"
                        "# Other inputs, error paths or a cold cache may need more and will be denied.\n";
  std::vector<std::string> allowed_risky = sc.dangerous;
  allowed_risky.insert(allowed_risky.end(), sc.probed.begin(), sc.probed.end());
  if (req.allow_dangerous && !allowed_risky.empty())
    comment +=
        "# WARNING: allow_syscalls holds dangerous syscalls the run used (--allow-dangerous): " + join(allowed_risky) +
        "\n";
  std::string body = insert_after_header(render_artifact_body(a), comment);
  auto check = parse_artifact_body(body);
  if (!check) return check.error();
  r.artifact = check.take();
  r.artifact.body = body;
  return r;
}

}  // namespace gx
