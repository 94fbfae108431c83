#include "lib/attenuation.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "lib/fsutil.h"
#include "lib/landlock.h"
#include "lib/toml_reader.h"
#include "seccomp/ioctls.h"
#include "seccomp/syscall_groups.h"

namespace gx {

// ---- attenuation ----
namespace {

// `value` is the child's value as written; `child` may say more (a path's canonical name).
Decision wider(const std::string& field, const std::string& child, const std::string& parent,
               const std::string& value) {
  return Decision::deny(DenyReason::LineageInconsistency,
                        "child is wider than its parent in " + field + ": child " + child + ", parent " + parent, field,
                        value);
}

Decision wider(const std::string& field, const std::string& child, const std::string& parent) {
  return wider(field, child, parent, child);
}

std::string list_text(const std::vector<std::string>& v) {
  std::string o = "[";
  for (size_t i = 0; i < v.size(); ++i) o += (i ? ", " : "") + v[i];
  return o + "]";
}

std::string arg_text(const ArgPattern& a) { return a.glob ? "{glob '" + a.text + "'}" : "'" + a.text + "'"; }

std::string argv_text(const std::vector<ArgPattern>& argv) {
  std::string o = "[";
  for (size_t i = 0; i < argv.size(); ++i) o += (i ? ", " : "") + arg_text(argv[i]);
  return o + "]";
}

// A child glob is never proven narrower than a different parent glob
// (glob inclusion is undecidable in general for fnmatch's classes), so only
// textual equality or a parent "*" accepts it.
bool arg_within(const ArgPattern& child, const ArgPattern& parent) {
  if (!parent.glob) return !child.glob && child.text == parent.text;
  if (!child.glob) return parent.matches(child.text);
  return child.text == parent.text || parent.text == "*";
}

Decision argv_within(const std::vector<ArgPattern>& child, const std::vector<ArgPattern>& parent,
                     const std::string& field) {
  if (child.size() != parent.size()) return wider(field, argv_text(child), argv_text(parent));
  for (size_t i = 0; i < child.size(); ++i)
    if (!arg_within(child[i], parent[i]))
      return wider(field + "[" + std::to_string(i) + "]", arg_text(child[i]), arg_text(parent[i]));
  return Decision::allow();
}

// Whether canonical `name` lies in one of the canonical `bounds` (whole
// components). Only absolute names count: "" (unresolvable) and
// "(removed)" are inside nothing and bound nothing.
bool within(const std::string& name, const std::vector<std::string>& bounds) {
  if (name.empty() || name[0] != '/') return false;
  return std::any_of(bounds.begin(), bounds.end(),
                     [&](const std::string& b) { return !b.empty() && b[0] == '/' && fs::path_within(name, b); });
}

std::vector<std::string> resolve_all(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  out.reserve(paths.size());
  for (const auto& p : paths) out.push_back(canonical_or_planned(p));
  return out;
}

GrantNames resolve_names(const SandboxPolicy& sb) {
  return GrantNames{
      resolve_all(sb.read), resolve_all(sb.write), resolve_all(sb.exec), resolve_all(sb.exec_writable), {}};
}

std::vector<std::string> readable(const GrantNames& n) {
  std::vector<std::string> out = n.read;
  out.insert(out.end(), n.write.begin(), n.write.end());
  return out;
}

// Every way the parent allows an executable, each with the argv that then
// bounds it (nullptr: any argv). The child needs one that admits its argv.
struct ExecAllowance {
  const std::vector<ArgPattern>* argv = nullptr;
};

std::vector<ExecAllowance> exec_allowances(const Artifact& parent, const TreeBounds& bounds, const std::string& path,
                                           const std::string& sha) {
  std::vector<ExecAllowance> out;
  if (path == parent.scope.path && sha == parent.scope.sha256) out.push_back({&parent.scope.argv});
  for (const auto& x : parent.delegation.executables)
    if (x.path == path && x.sha256 == sha) out.push_back({x.argv ? &*x.argv : nullptr});
  if (within(canonical_or_planned(path), bounds.trees.exec)) out.push_back({nullptr});
  return out;
}

// allow when one allowance admits `argv` (nullptr: the child's argv is
// unbounded, so only an allowance without a bound does); else the first
// allowance's complaint.
Decision argv_admitted(const std::vector<ExecAllowance>& ways, const std::vector<ArgPattern>* argv,
                       const std::string& field) {
  Decision first = Decision::allow();
  for (const auto& w : ways) {
    if (!w.argv) return Decision::allow();
    if (!argv) {
      if (first) first = wider(field, "any argv", argv_text(*w.argv));
      continue;
    }
    Decision d = argv_within(*argv, *w.argv, field);
    if (d) return d;
    if (first) first = d;
  }
  return first;
}

std::string exec_bound_text(const Artifact& parent) {
  std::string o = parent.scope.path + " (sha256 " + parent.scope.sha256.substr(0, 12) + "...)";
  for (const auto& x : parent.delegation.executables) o += ", delegated " + x.path;
  if (!parent.scope.sandbox.exec.empty()) o += ", exec trees " + list_text(parent.scope.sandbox.exec);
  return o;
}

Decision check_exec(const Artifact& parent, const TreeBounds& bounds, const Artifact& child) {
  const Scope& c = child.scope;
  auto ways = exec_allowances(parent, bounds, c.path, c.sha256);
  if (ways.empty())
    return wider("exec.path", c.path + " (sha256 " + c.sha256.substr(0, 12) + "...)", exec_bound_text(parent));
  if (!c.interpreter.empty()) {
    bool same = c.interpreter == parent.scope.interpreter && c.interpreter_sha256 == parent.scope.interpreter_sha256;
    if (!same && exec_allowances(parent, bounds, c.interpreter, c.interpreter_sha256).empty())
      return wider("exec.interpreter", c.interpreter, exec_bound_text(parent));
  }
  return argv_admitted(ways, &c.argv, "exec.argv");
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

Decision check_env(const EnvPolicy& parent, const EnvPolicy& child) {
  for (const auto& n : child.allow)
    if (!contains(parent.allow, n)) {
      auto pin = parent.pin.find(n);
      return wider(
          "env.allow", n + " (any value)",
          pin != parent.pin.end() ? n + " pinned to '" + pin->second + "'" : "allows " + list_text(parent.allow));
    }
  for (const auto& [n, v] : child.pin) {
    auto pin = parent.pin.find(n);
    if (pin != parent.pin.end() ? pin->second != v : !contains(parent.allow, n))
      return wider("env.pin." + n, "'" + v + "'", pin != parent.pin.end() ? "'" + pin->second + "'" : "not allowed");
  }
  for (const auto& n : parent.require)
    if (!contains(child.require, n)) return wider("env.require", list_text(child.require), list_text(parent.require));
  // A parent's pin is a promise about every run under it: the program sees
  // exactly that value. A child that drops it runs without it.
  for (const auto& [n, v] : parent.pin)
    if (!child.pin.count(n)) return wider("env.pin." + n, "(not pinned)", "'" + v + "'");
  return Decision::allow();
}

// The one comparison of a child's paths (named: resolved now, or the names
// its ruleset was built on) with its parent's fixed bounds.
Decision check_paths(const TreeBounds& p, const SandboxPolicy& c, const GrantNames& cn) {
  const std::vector<std::string> readable_p = readable(p.trees);
  auto each = [](const std::vector<std::string>& child, const std::vector<std::string>& names,
                 const std::vector<std::string>& bound, const std::string& field) {
    for (size_t i = 0; i < child.size(); ++i) {
      const std::string& name = i < names.size() ? names[i] : std::string();
      if (!within(name, bound))
        return wider(field + "[" + std::to_string(i) + "]",
                     child[i] + (name != child[i] ? " (as " + (name.empty() ? "unresolvable" : name) + ")" : ""),
                     list_text(bound), child[i]);
    }
    return Decision::allow();
  };
  if (Decision d = each(c.read, cn.read, readable_p, "sandbox.read"); !d) return d;
  if (Decision d = each(c.write, cn.write, p.trees.write, "sandbox.write"); !d) return d;
  if (Decision d = each(c.exec, cn.exec, p.trees.exec, "sandbox.exec"); !d) return d;
  if (Decision d = each(c.exec_writable, cn.exec_writable, p.trees.exec_writable, "sandbox.exec_writable"); !d)
    return d;
  // gx's own execute grants are not the child's to choose, but the kernel
  // opens an ELF interpreter by name at exec time: one the running parent
  // may write could be changed between gx's check and that open.
  for (size_t i = 0; i < cn.implicit_exec.size(); ++i)
    if (const std::string& name = cn.implicit_exec[i]; within(name, p.trees.write))
      return Decision::deny(DenyReason::LineageInconsistency,
                            "the program's interpreter (or the program run in place) " + name +
                                " lies in a tree the parent may write (" + list_text(p.trees.write) +
                                "): the parent could change it while the child starts",
                            "implicit_exec[" + std::to_string(i) + "]", name);
  return Decision::allow();
}

// Resolved from the groups' data, not by building a filter: lineage is
// checked where libseccomp may not work (a nested gx inside a sandbox).
// Unknown names are left for the filter builder to refuse at run time.
std::set<std::string> allowed_syscalls(const SandboxPolicy& sb) {
  std::set<std::string> out;
  for (const auto& g : sb.groups)
    if (const auto* group = seccomp::find_group(g)) out.insert(group->syscalls.begin(), group->syscalls.end());
  out.insert(sb.allow_syscalls.begin(), sb.allow_syscalls.end());
  for (const auto& d : sb.deny_syscalls) out.erase(d);
  return out;
}

// Request numbers (low 32 bits, as the filter compares them); an unknown
// name maps to nothing here and is refused by the filter builder.
std::map<uint32_t, std::string> allowed_ioctls(const SandboxPolicy& sb) {
  std::map<uint32_t, std::string> out;
  std::vector<std::string> groups = sb.ioctl_groups;
  groups.insert(groups.begin(), "default");
  for (const auto& g : groups)
    if (const auto* group = seccomp::find_ioctl_group(g))
      for (const auto& n : group->names)
        if (auto nr = seccomp::ioctl_number(n)) out.emplace(*nr, n);
  for (const auto& r : sb.ioctls)
    if (auto nr = seccomp::ioctl_number(r)) out.emplace(*nr, r);
  return out;
}

Decision check_syscalls_ioctls(const SandboxPolicy& p, const SandboxPolicy& c) {
  const auto pa = allowed_syscalls(p);
  for (const auto& s : allowed_syscalls(c))
    if (!pa.count(s)) {
      const char* field = contains(c.allow_syscalls, s) ? "sandbox.allow_syscalls" : "sandbox.groups";
      return wider(
          field, s + " allowed (groups " + list_text(c.groups) + ")",
          s + " not allowed (groups " + list_text(p.groups) + ", allow_syscalls " + list_text(p.allow_syscalls) + ")");
    }
  if (p.default_action == SeccompDefault::Kill && c.default_action != SeccompDefault::Kill)
    return wider("sandbox.default_action", "errno", "kill");
  const auto pi = allowed_ioctls(p);
  for (const auto& [nr, name] : allowed_ioctls(c))
    if (!pi.count(nr)) {
      bool named = contains(c.ioctls, name);
      return wider(
          named ? "sandbox.ioctls" : "sandbox.ioctl_groups", name + " allowed",
          name + " not allowed (ioctl_groups " + list_text(p.ioctl_groups) + ", ioctls " + list_text(p.ioctls) + ")");
    }
  return Decision::allow();
}

std::string ports_text(const std::vector<uint16_t>& v) {
  std::string o = "[";
  for (size_t i = 0; i < v.size(); ++i) o += (i ? ", " : "") + std::to_string(v[i]);
  return o + "]";
}

Decision check_network(const SandboxPolicy& p, const SandboxPolicy& c) {
  if (c.network == NetMode::Tcp && p.network != NetMode::Tcp) return wider("sandbox.network", "tcp", "none");
  for (uint16_t port : c.connect_tcp)
    if (std::find(p.connect_tcp.begin(), p.connect_tcp.end(), port) == p.connect_tcp.end())
      return wider("sandbox.connect_tcp", ports_text(c.connect_tcp), ports_text(p.connect_tcp));
  for (uint16_t port : c.bind_tcp)
    if (std::find(p.bind_tcp.begin(), p.bind_tcp.end(), port) == p.bind_tcp.end())
      return wider("sandbox.bind_tcp", ports_text(c.bind_tcp), ports_text(p.bind_tcp));
  if (c.unix_sockets && !p.unix_sockets) return wider("sandbox.unix_sockets", "true", "false");
  return Decision::allow();
}

Decision check_enforcement(const SandboxPolicy& p, const SandboxPolicy& c) {
  if (c.min_landlock_abi < p.min_landlock_abi)
    return wider("sandbox.min_landlock_abi", std::to_string(c.min_landlock_abi), std::to_string(p.min_landlock_abi));
  for (const auto& f : c.allow_downgrade)
    if (!contains(p.allow_downgrade, f))
      return wider("sandbox.allow_downgrade", list_text(c.allow_downgrade), list_text(p.allow_downgrade));
  // Denials the parent has audited stay audited.
  if (p.log_denials && !c.log_denials) return wider("sandbox.log_denials", "false", "true");
  return Decision::allow();
}

Decision check_identity(const Artifact& p, const Artifact& c) {
  auto opt = [](const auto& v) -> std::string {
    if (!v) return "(unbound)";
    if constexpr (std::is_same_v<std::decay_t<decltype(*v)>, std::string>) return *v;
    else return std::to_string(*v);
  };
  if (p.bindings.uid && c.bindings.uid != p.bindings.uid)
    return wider("bindings.uid", opt(c.bindings.uid), opt(p.bindings.uid));
  if (p.bindings.hostname && c.bindings.hostname != p.bindings.hostname)
    return wider("bindings.hostname", opt(c.bindings.hostname), opt(p.bindings.hostname));
  if (p.bindings.machine_id && c.bindings.machine_id != p.bindings.machine_id)
    return wider("bindings.machine_id", opt(c.bindings.machine_id), opt(p.bindings.machine_id));
  return Decision::allow();
}

// Top-level tables this module does not model (e.g. [run], added by another
// change): fail closed, they must be identical in parent and child.
const std::set<std::string, std::less<>>& modelled_keys() {
  static const std::set<std::string, std::less<>> k = {
      "version", "id",  "issuer",  "reason", "ticket",   "issued_at", "not_before", "not_after",
      "exec",    "env", "sandbox", "replay", "bindings", "lineage",   "delegation", "file"};
  return k;
}

std::map<std::string, std::string> unmodelled(std::string_view body) {
  std::map<std::string, std::string> out;
  auto doc = parse_toml(body, "artifact");
  if (!doc) return out;  // parse_artifact_body already accepted it
  for (const auto& [key, node] : *doc) {
    if (modelled_keys().count(key.str())) continue;
    std::ostringstream os;
    os << toml::node_view<const toml::node>(node);
    out[std::string(key.str())] = os.str();
  }
  return out;
}

Decision check_unmodelled(const Artifact& p, const Artifact& c) {
  auto pu = unmodelled(p.body), cu = unmodelled(c.body);
  for (const auto& [k, v] : cu) {
    auto it = pu.find(k);
    if (it == pu.end() || it->second != v) return wider(k, v, it == pu.end() ? "(absent)" : it->second);
  }
  for (const auto& [k, v] : pu)
    if (!cu.count(k)) return wider(k, "(absent)", v);
  return Decision::allow();
}

Decision check_files(const Artifact& p, const Artifact& c) {
  for (const auto& pin : p.scope.files) {
    bool kept = std::any_of(c.scope.files.begin(), c.scope.files.end(),
                            [&](const FilePin& f) { return f.path == pin.path && f.sha256 == pin.sha256; });
    if (!kept)
      return wider("file", pin.path + " not pinned", pin.path + " pinned to " + pin.sha256.substr(0, 12) + "...");
  }
  return Decision::allow();
}

Decision check_delegation(const Artifact& p, const TreeBounds& bounds, const Artifact& c) {
  if (!c.delegation.present) return Decision::allow();
  const int parent_depth = p.delegation.present ? p.delegation.max_depth : 0;
  if (c.delegation.max_depth > parent_depth - 1)
    return wider(
        "delegation.max_depth", std::to_string(c.delegation.max_depth),
        std::to_string(parent_depth) + " (a child may delegate at most " + std::to_string(parent_depth - 1) + ")");
  if (c.delegation.nested_runs && !(p.delegation.present && p.delegation.nested_runs))
    return wider("delegation.nested_runs", "true", "false");
  for (size_t i = 0; i < c.delegation.executables.size(); ++i) {
    const auto& x = c.delegation.executables[i];
    const std::string field = "delegation.executable[" + std::to_string(i) + "]";
    auto ways = exec_allowances(p, bounds, x.path, x.sha256);
    if (ways.empty()) return wider(field, x.path, exec_bound_text(p));
    if (Decision d = argv_admitted(ways, x.argv ? &*x.argv : nullptr, field + ".argv"); !d) return d;
  }
  return Decision::allow();
}

}  // namespace

TreeBounds resolve_bounds(const Artifact& a) {
  return TreeBounds{canonical_or_planned(a.scope.cwd), resolve_names(a.scope.sandbox)};
}

TreeBounds bounds_of_run(const Artifact& a, const GrantNames& ruleset_names) {
  return TreeBounds{canonical_or_planned(a.scope.cwd), ruleset_names};
}

Decision check_attenuation(const Artifact& parent, const TreeBounds& bounds, const Artifact& child) {
  const Scope& p = parent.scope;
  const Scope& c = child.scope;
  if (Decision d = check_exec(parent, bounds, child); !d) return d;
  if (Decision d = check_env(p.env, c.env); !d) return d;
  if (const std::string cwd = canonical_or_planned(c.cwd);
      c.cwd != p.cwd && !within(cwd, {bounds.cwd}) && !within(cwd, readable(bounds.trees)))
    return wider(
        "exec.cwd", c.cwd,
        bounds.cwd + " or a read/write tree " + list_text(bounds.trees.read) + " " + list_text(bounds.trees.write));
  if (Decision d = check_paths(bounds, c.sandbox, resolve_names(c.sandbox)); !d) return d;
  if (Decision d = check_files(parent, child); !d) return d;
  if (Decision d = check_syscalls_ioctls(p.sandbox, c.sandbox); !d) return d;
  if (Decision d = check_network(p.sandbox, c.sandbox); !d) return d;
  if (Decision d = check_enforcement(p.sandbox, c.sandbox); !d) return d;
  if (child.not_before < parent.not_before)
    return wider("not_before", format_utc(child.not_before), format_utc(parent.not_before));
  if (child.not_after > parent.not_after)
    return wider("not_after", format_utc(child.not_after), format_utc(parent.not_after));
  if (child.max_uses > parent.max_uses)
    return wider("replay.max_uses", std::to_string(child.max_uses), std::to_string(parent.max_uses));
  if (Decision d = check_identity(parent, child); !d) return d;
  if (Decision d = check_unmodelled(parent, child); !d) return d;
  return check_delegation(parent, bounds, child);
}

Decision check_attenuation(const Artifact& parent, const Artifact& child) {
  return check_attenuation(parent, resolve_bounds(parent), child);
}

Decision check_grants_within(const TreeBounds& parent_bounds, const SandboxPolicy& child, const GrantNames& opened) {
  return check_paths(parent_bounds, child, opened);
}

// ---- gx init --parent ----

Result<Artifact> narrow_to_parent(Artifact c, const Artifact& p) {
  c.parent = p.digest();
  c.not_before = std::max(c.not_before, p.not_before);
  c.not_after = std::min(c.not_after, p.not_after);
  if (c.not_after <= c.not_before)
    return Decision::deny(
        DenyReason::LineageInconsistency,
        "the parent's time window (until " + format_utc(p.not_after) + ") leaves the child no validity", "not_after",
        format_utc(p.not_after));
  c.max_uses = std::min(c.max_uses, p.max_uses);

  auto keep_if = [](std::vector<std::string>& v, auto pred) {
    std::erase_if(v, [&](const std::string& x) { return !pred(x); });
  };
  const EnvPolicy& pe = p.scope.env;
  EnvPolicy& ce = c.scope.env;
  keep_if(ce.allow, [&](const std::string& n) { return contains(pe.allow, n); });
  std::erase_if(ce.pin, [&](const auto& kv) {
    auto pin = pe.pin.find(kv.first);
    return pin != pe.pin.end() ? pin->second != kv.second : !contains(pe.allow, kv.first);
  });
  for (const auto& [n, v] : pe.pin) {
    ce.pin[n] = v;
    std::erase(ce.allow, n);
  }
  for (const auto& n : pe.require)
    if (!contains(ce.require, n)) ce.require.push_back(n);

  const SandboxPolicy& ps = p.scope.sandbox;
  SandboxPolicy& cs = c.scope.sandbox;
  const TreeBounds pb = resolve_bounds(p);
  auto inside = [](std::vector<std::string> bound) {
    return [bound = std::move(bound)](const std::string& x) { return within(canonical_or_planned(x), bound); };
  };
  keep_if(cs.read, inside(readable(pb.trees)));
  keep_if(cs.write, inside(pb.trees.write));
  keep_if(cs.exec, inside(pb.trees.exec));
  keep_if(cs.exec_writable, inside(pb.trees.exec_writable));
  keep_if(cs.groups, [&](const std::string& g) { return contains(ps.groups, g); });
  keep_if(cs.allow_syscalls, [&](const std::string& g) { return contains(ps.allow_syscalls, g); });
  for (const auto& d : ps.deny_syscalls)
    if (!contains(cs.deny_syscalls, d)) cs.deny_syscalls.push_back(d);
  if (ps.default_action == SeccompDefault::Kill) cs.default_action = SeccompDefault::Kill;
  keep_if(cs.ioctl_groups, [&](const std::string& g) { return contains(ps.ioctl_groups, g); });
  keep_if(cs.ioctls, [&](const std::string& g) { return contains(ps.ioctls, g); });
  auto keep_ports = [](std::vector<uint16_t>& v, const std::vector<uint16_t>& bound) {
    std::erase_if(v, [&](uint16_t x) { return std::find(bound.begin(), bound.end(), x) == bound.end(); });
  };
  if (ps.network == NetMode::None) cs.network = NetMode::None;
  keep_ports(cs.connect_tcp, ps.network == NetMode::Tcp ? ps.connect_tcp : std::vector<uint16_t>{});
  keep_ports(cs.bind_tcp, ps.network == NetMode::Tcp ? ps.bind_tcp : std::vector<uint16_t>{});
  cs.unix_sockets = cs.unix_sockets && ps.unix_sockets;
  cs.min_landlock_abi = std::max(cs.min_landlock_abi, ps.min_landlock_abi);
  cs.log_denials = cs.log_denials || ps.log_denials;
  keep_if(cs.allow_downgrade, [&](const std::string& f) { return contains(ps.allow_downgrade, f); });

  if (p.bindings.uid) c.bindings.uid = p.bindings.uid;
  if (p.bindings.hostname) c.bindings.hostname = p.bindings.hostname;
  if (p.bindings.machine_id) c.bindings.machine_id = p.bindings.machine_id;
  for (const auto& pin : p.scope.files)
    if (std::none_of(c.scope.files.begin(), c.scope.files.end(),
                     [&](const FilePin& f) { return f.path == pin.path && f.sha256 == pin.sha256; }))
      c.scope.files.push_back(pin);
  c.body = render_artifact_body(c);
  auto check = parse_artifact_body(c.body);
  if (!check) return check.error();
  return check;
}

}  // namespace gx
