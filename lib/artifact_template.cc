#include "lib/artifact_template.h"

#include <algorithm>

#include "lib/crypto.h"
#include "lib/executable.h"
#include "lib/fsutil.h"
#include "lib/host.h"
#include "lib/invocation.h"
#include "seccomp/syscall_groups.h"

namespace gx {

const std::vector<std::string>& default_env_allow() {
  static const std::vector<std::string> v = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TERM", "TZ"};
  return v;
}

const std::vector<std::string>& default_read_paths() {
  static const std::vector<std::string> v = {"/usr", "/lib",      "/lib64",    "/bin",        "/sbin",
                                             "/etc", "/dev/null", "/dev/zero", "/dev/urandom"};
  return v;
}

Decision parse_net_spec(const std::string& spec, SandboxPolicy& sb) {
  sb.connect_tcp.clear();
  sb.bind_tcp.clear();
  if (spec == "none") {
    sb.network = NetMode::None;
    return Decision::allow();
  }
  sb.network = NetMode::Tcp;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t end = spec.find(',', pos);
    if (end == std::string::npos) end = spec.size();
    std::string item = spec.substr(pos, end - pos);
    auto* list = &sb.connect_tcp;
    if (item.rfind("connect:", 0) == 0) item = item.substr(8);
    else if (item.rfind("bind:", 0) == 0) {
      item = item.substr(5);
      list = &sb.bind_tcp;
    }
    char* e = nullptr;
    long port = strtol(item.c_str(), &e, 10);
    if (item.empty() || *e != '\0' || port < 1 || port > 65535)
      return Decision::deny(DenyReason::Usage, "--net takes none or TCP ports like 443,bind:8080", "--net", spec);
    list->push_back(static_cast<uint16_t>(port));
    pos = end + 1;
  }
  return Decision::allow();
}

Result<Artifact> make_template(const TemplateRequest& req) {
  if (req.argv.empty()) return Decision::deny(DenyReason::Usage, "no command given (gx init -- CMD ARGS...)");
  Artifact a;
  auto id = crypto::random_hex(16);
  auto nonce = crypto::random_hex(16);
  if (!id || !nonce) return Decision::deny(DenyReason::IoError, "no randomness available");
  a.id = *id;
  a.nonce = *nonce;
  a.issuer = req.issuer;
  a.reason = req.reason;
  a.ticket = req.ticket;
  a.issued_at = req.now;
  a.not_before = req.not_before.value_or(req.now);
  a.not_after = req.not_after.value_or(a.not_before + req.ttl_seconds);
  if (a.not_after <= a.not_before) return Decision::deny(DenyReason::Usage, "not-after must be later than not-before");
  a.max_uses = req.max_uses;
  if (a.max_uses < 1) return Decision::deny(DenyReason::Usage, "--max-uses must be at least 1");

  Scope& s = a.scope;
  auto path = resolve_executable(req.argv[0], req.path_env, req.cwd);
  if (!path) return path.error();
  auto image = ExecImage::load(*path);
  if (!image) return image.error();
  s.path = *path;
  s.sha256 = image->sha256();
  if (image->is_script()) {
    s.interpreter = image->shebang().interpreter;
    if (s.interpreter.empty() || s.interpreter[0] != '/')
      return Decision::deny(DenyReason::Usage, "script interpreter must be an absolute path: " + s.interpreter);
    auto interp = digest_file(s.interpreter);
    if (!interp) return interp.error();
    s.interpreter_sha256 = *interp;
  }
  for (const auto& arg : req.argv) s.argv.push_back(ArgPattern{arg, false});
  s.cwd = fs::canonical(req.cwd);
  if (s.cwd.empty()) return Decision::deny(DenyReason::IoError, "cannot resolve the current directory", "cwd", req.cwd);

  s.env.allow = default_env_allow();
  for (const auto& e : req.env) {
    auto eq = e.find('=');
    if (eq == 0 || e.empty()) return Decision::deny(DenyReason::Usage, "--env takes NAME or NAME=VALUE", "--env", e);
    if (eq == std::string::npos) {
      if (std::find(s.env.allow.begin(), s.env.allow.end(), e) == s.env.allow.end()) s.env.allow.push_back(e);
    } else {
      std::string name = e.substr(0, eq);
      s.env.pin[name] = e.substr(eq + 1);
      std::erase(s.env.allow, name);  // a pinned name is not also free
    }
  }

  SandboxPolicy& sb = s.sandbox;
  for (const auto& p : default_read_paths())
    if (fs::exists(p)) sb.read.push_back(p);
  sb.write = {"/dev/null"};
  auto add_abs = [&](const std::vector<std::string>& in, std::vector<std::string>& out) {
    for (const auto& p : in) {
      std::string abs = fs::absolute(p);
      while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
      if (std::find(out.begin(), out.end(), abs) == out.end()) out.push_back(abs);
    }
  };
  add_abs(req.read, sb.read);
  add_abs(req.write, sb.write);
  add_abs(req.exec, sb.exec);
  if (Decision d = parse_net_spec(req.net, sb); !d) return d;
  for (const auto& g : req.groups) {
    if (!seccomp::find_group(g))
      return Decision::deny(DenyReason::Usage, "unknown syscall group '" + g + "' (see gx profiles)", "--group", g);
    if (std::find(sb.groups.begin(), sb.groups.end(), g) == sb.groups.end()) sb.groups.push_back(g);
  }
  if (sb.network == NetMode::Tcp && std::find(sb.groups.begin(), sb.groups.end(), "network") == sb.groups.end())
    sb.groups.push_back("network");

  for (const auto& f : req.pin_files) {
    // By real path, and only a file a pin can hold for (lib/invocation.h):
    // gx run would deny anything else.
    std::string abs = fs::canonical(fs::absolute(f));
    if (abs.empty()) abs = fs::absolute(f);
    if (Decision d = check_pin_writers(abs, "--pin"); !d) return d;
    auto d = digest_file(abs);
    if (!d) return d.error();
    s.files.push_back(FilePin{abs, *d});
  }
  HostIdentity host = HostIdentity::current();
  if (req.bind_user) a.bindings.uid = host.uid;
  if (req.bind_host) {
    a.bindings.hostname = host.hostname;
    if (!host.machine_id.empty()) a.bindings.machine_id = host.machine_id;
  }
  a.parent = req.parent;
  a.run = req.run_as;
  a.body = render_artifact_body(a);
  // What gx init writes must be what gx sign and gx run accept.
  auto check = parse_artifact_body(a.body);
  if (!check) return check.error();
  return check;
}

}  // namespace gx
