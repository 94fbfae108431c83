#include "lib/artifact.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstdio>

#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/run_as.h"
#include "lib/toml_reader.h"

namespace gx {

std::optional<int64_t> parse_duration(std::string_view s) {
  if (s.size() < 2) return std::nullopt;
  int64_t n = 0;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9' || n > 100'000'000) return std::nullopt;
    n = n * 10 + (s[i] - '0');
  }
  switch (s.back()) {
    case 's': return n;
    case 'm': return n * 60;
    case 'h': return n * 3600;
    case 'd': return n * 86400;
    case 'w': return n * 7 * 86400;
    default: return std::nullopt;
  }
}

bool ArgPattern::matches(std::string_view arg) const {
  if (!glob) return arg == text;
  return fnmatch(text.c_str(), std::string(arg).c_str(), 0) == 0;
}

std::string Artifact::digest() const { return "sha256:" + crypto::sha256_hex(body); }

// ---- body ----
namespace {

std::optional<UnixTime> read_time(TableReader& r, std::string_view key, bool required) {
  auto s = r.string(key, required);
  if (!s) return std::nullopt;
  auto t = parse_utc(*s);
  if (!t) r.invalid(key, *s, "must be an RFC 3339 UTC time like 2026-01-31T23:59:00Z");
  return t;
}

// gx-artifact(5): absolute, no "." or "..", no repeated or trailing slash.
// lexically_normal() keeps a trailing slash ("/a/b/" stays "/a/b/"), so it
// is refused explicitly: "/a/b/" and "/a/b" would otherwise be two spellings.
bool is_absolute_clean(const std::string& p) {
  return !p.empty() && p[0] == '/' && (p.size() == 1 || p.back() != '/') && p.find('\0') == std::string::npos &&
         fs::absolute(p) == p;
}

void read_abs_path(TableReader& r, std::string_view key, bool required, std::string& out) {
  auto s = r.string(key, required);
  if (!s) return;
  if (!is_absolute_clean(*s)) r.invalid(key, *s, "must be an absolute, normalised path");
  out = *s;
}

void read_sha(TableReader& r, std::string_view key, bool required, std::string& out) {
  auto s = r.string(key, required);
  if (!s) return;
  if (!crypto::is_hex_sha256(*s)) r.invalid(key, *s, "must be 64 lowercase hex digits");
  out = *s;
}

void read_paths(TableReader& r, std::string_view key, std::vector<std::string>& out) {
  auto v = r.string_array(key, false);
  if (!v) return;
  for (size_t i = 0; i < v->size(); ++i)
    if (!is_absolute_clean((*v)[i])) {
      r.fail(Decision::deny(DenyReason::InvalidValue,
                            r.path(key) + "[" + std::to_string(i) + "] must be an absolute, normalised path",
                            r.path(key) + "[" + std::to_string(i) + "]", (*v)[i]));
      return;
    }
  out = *v;
}

bool valid_env_name(std::string_view n) {
  if (n.empty() || n.find('=') != std::string_view::npos) return false;
  for (char c : n)
    if (c == '\0') return false;
  return true;
}

Decision read_argv(const toml::array& argv, const std::string& field, std::vector<ArgPattern>& out) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const toml::node* e = argv.get(i);
    std::string where = field + "[" + std::to_string(i) + "]";
    if (e->is_string()) {
      out.push_back(ArgPattern{e->as_string()->get(), false});
    } else if (e->is_table()) {
      TableReader g(*e->as_table(), where);
      auto pat = g.string("glob", true);
      if (Decision d = g.finish(); !d) return d;
      out.push_back(ArgPattern{*pat, true});
    } else {
      return Decision::deny(DenyReason::WrongType, where + " must be a string or { glob = \"...\" }", where);
    }
  }
  return Decision::allow();
}

Decision read_delegation(const toml::table& t, Delegation& del) {
  TableReader r(t, "delegation");
  del.present = true;
  if (auto v = r.integer("max_depth", true, 1, kMaxDelegationDepth)) del.max_depth = static_cast<int>(*v);
  const toml::array* keys = r.array("key", false);
  const toml::array* exes = r.array("executable", false);
  if (auto v = r.boolean("nested_runs", false)) del.nested_runs = *v;
  if (Decision d = r.finish(); !d) return d;
  if (keys) {
    if (!keys->is_array_of_tables())
      return Decision::deny(DenyReason::WrongType, "delegation.key must be an array of tables", "delegation.key");
    for (size_t i = 0; i < keys->size(); ++i) {
      TableReader k(*keys->get(i)->as_table(), "delegation.key[" + std::to_string(i) + "]");
      DelegatedKey dk;
      if (auto v = k.string("name", true)) dk.name = *v;
      if (auto v = k.string("id", true)) dk.key_id = *v;
      if (auto v = k.string("public_key", true)) {
        auto pk = crypto::PublicKey::from_pem(*v);
        if (!pk) k.invalid("public_key", "", pk.error().detail);
        else if (pk->key_id() != dk.key_id)
          k.invalid("id", dk.key_id, "does not match public_key (expected " + pk->key_id() + ")");
        dk.public_key = *v;
      }
      if (Decision d = k.finish(); !d) return d;
      for (const auto& other : del.keys)
        if (other.key_id == dk.key_id)
          return Decision::deny(DenyReason::DuplicateField, "key " + dk.key_id + " is delegated twice",
                                "delegation.key[" + std::to_string(i) + "].id", dk.key_id);
      del.keys.push_back(std::move(dk));
    }
  }
  if (exes) {
    if (!exes->is_array_of_tables())
      return Decision::deny(DenyReason::WrongType, "delegation.executable must be an array of tables",
                            "delegation.executable");
    for (size_t i = 0; i < exes->size(); ++i) {
      const std::string where = "delegation.executable[" + std::to_string(i) + "]";
      TableReader x(*exes->get(i)->as_table(), where);
      DelegatedExecutable de;
      read_abs_path(x, "path", true, de.path);
      read_sha(x, "sha256", true, de.sha256);
      const toml::array* argv = x.array("argv", false);
      if (Decision d = x.finish(); !d) return d;
      if (argv) {
        if (argv->empty())
          return Decision::deny(DenyReason::InvalidValue, where + ".argv must name at least argv[0]", where + ".argv",
                                "[]");
        de.argv.emplace();
        if (Decision d = read_argv(*argv, where + ".argv", *de.argv); !d) return d;
      }
      del.executables.push_back(std::move(de));
    }
  }
  return Decision::allow();
}

Decision read_exec(const toml::table& t, Scope& scope) {
  TableReader r(t, "exec");
  read_abs_path(r, "path", true, scope.path);
  read_sha(r, "sha256", true, scope.sha256);
  read_abs_path(r, "interpreter", false, scope.interpreter);
  read_sha(r, "interpreter_sha256", !scope.interpreter.empty(), scope.interpreter_sha256);
  if (scope.interpreter.empty() && !scope.interpreter_sha256.empty())
    r.invalid("interpreter_sha256", scope.interpreter_sha256, "given without exec.interpreter");
  read_abs_path(r, "cwd", true, scope.cwd);
  if (const toml::array* argv = r.array("argv", true)) {
    if (argv->empty()) r.invalid("argv", "[]", "must name at least argv[0]");
    if (Decision d = read_argv(*argv, "exec.argv", scope.argv); !d) return d;
  }
  return r.finish();
}

Decision read_env(const toml::table& t, EnvPolicy& env) {
  TableReader r(t, "env");
  if (auto v = r.string_array("allow", false)) env.allow = *v;
  if (auto v = r.string_array("require", false)) env.require = *v;
  if (auto v = r.string_map("pin", false)) env.pin = *v;
  for (const auto& n : env.allow)
    if (!valid_env_name(n)) r.invalid("allow", n, "not a valid environment variable name");
  for (const auto& n : env.require)
    if (!valid_env_name(n)) r.invalid("require", n, "not a valid environment variable name");
  for (const auto& [n, v] : env.pin)
    if (!valid_env_name(n)) r.invalid("pin", n, "not a valid environment variable name");
  return r.finish();
}

Decision read_sandbox(const toml::table& t, SandboxPolicy& sb) {
  TableReader r(t, "sandbox");
  if (auto v = r.string_array("groups", false)) sb.groups = *v;
  if (auto v = r.string_array("allow_syscalls", false)) sb.allow_syscalls = *v;
  if (auto v = r.string_array("deny_syscalls", false)) sb.deny_syscalls = *v;
  if (auto v = r.string("default_action", false)) {
    if (*v == "errno") sb.default_action = SeccompDefault::Errno;
    else if (*v == "kill") sb.default_action = SeccompDefault::Kill;
    else r.invalid("default_action", *v, "must be \"errno\" or \"kill\"");
  }
  if (auto v = r.boolean("log_denials", false)) sb.log_denials = *v;
  if (auto v = r.string_array("ioctl_groups", false)) sb.ioctl_groups = *v;
  if (auto v = r.string_array("ioctls", false)) sb.ioctls = *v;
  if (auto v = r.boolean("unix_sockets", false)) sb.unix_sockets = *v;
  if (auto v = r.string("network", true)) {
    if (*v == "none") sb.network = NetMode::None;
    else if (*v == "tcp") sb.network = NetMode::Tcp;
    else r.invalid("network", *v, "must be \"none\" or \"tcp\"");
  }
  auto ports = [&](std::string_view key, std::vector<uint16_t>& out) {
    if (auto v = r.integer_array(key, false, 1, 65535))
      for (auto p : *v) out.push_back(static_cast<uint16_t>(p));
  };
  ports("connect_tcp", sb.connect_tcp);
  ports("bind_tcp", sb.bind_tcp);
  if (sb.network == NetMode::None && (!sb.connect_tcp.empty() || !sb.bind_tcp.empty()))
    r.invalid("network", "none", "TCP ports are listed but network is \"none\"");
  read_paths(r, "read", sb.read);
  read_paths(r, "write", sb.write);
  read_paths(r, "exec", sb.exec);
  read_paths(r, "exec_writable", sb.exec_writable);
  if (auto v = r.integer("min_landlock_abi", false, 1, 64)) sb.min_landlock_abi = static_cast<int>(*v);
  if (auto v = r.string_array("allow_downgrade", false)) {
    for (const auto& f : *v)
      if (f != "net" && f != "truncate" && f != "ioctl-dev" && f != "scope" && f != "refer")
        r.invalid("allow_downgrade", f, "must be one of net, truncate, ioctl-dev, scope, refer");
    sb.allow_downgrade = *v;
  }
  return r.finish();
}

Decision read_files(const toml::array& a, std::vector<FilePin>& files) {
  if (!a.is_array_of_tables()) return Decision::deny(DenyReason::WrongType, "file must be an array of tables", "file");
  for (size_t i = 0; i < a.size(); ++i) {
    TableReader r(*a.get(i)->as_table(), "file[" + std::to_string(i) + "]");
    FilePin pin;
    read_abs_path(r, "path", true, pin.path);
    read_sha(r, "sha256", true, pin.sha256);
    if (Decision d = r.finish(); !d) return d;
    files.push_back(std::move(pin));
  }
  return Decision::allow();
}

Decision read_run(const toml::table& t, RunAs& run) {
  TableReader r(t, "run");
  if (auto v = r.string("user", true)) {
    if (!valid_account_name(*v)) r.invalid("user", *v, "must be a user name or a decimal uid");
    run.user = *v;
  }
  if (auto v = r.string("group", false)) {
    if (!valid_account_name(*v)) r.invalid("group", *v, "must be a group name or a decimal gid");
    run.group = *v;
  }
  if (auto v = r.string_array("groups", false)) {
    for (const auto& g : *v)
      if (!valid_account_name(g)) r.invalid("groups", g, "must be group names or decimal gids");
    run.groups = *v;
  }
  if (auto v = r.string_array("capabilities", false)) {
    for (const auto& c : *v)
      if (!capability_number(c))
        r.invalid("capabilities", c, "not a capability name like CAP_NET_BIND_SERVICE (capabilities(7))");
    run.capabilities = *v;
  }
  return r.finish();
}

}  // namespace

Result<Artifact> parse_artifact_body(std::string_view body) {
  if (body.size() > kArtifactMaxBytes)
    return Decision::deny(DenyReason::TooLarge,
                          "artifact is larger than " + std::to_string(kArtifactMaxBytes) + " bytes");
  auto doc = parse_toml(body, "artifact");
  if (!doc) return doc.error();
  Artifact a;
  a.body = std::string(body);
  TableReader r(*doc, "");
  // Version first: a future format is reported as such, not as unknown keys.
  auto version = r.integer("version", true, 0, 1'000'000);
  if (!r.ok()) return r.finish();
  if (*version < kArtifactVersionOldest || *version > kArtifactVersionCurrent)
    return Decision::deny(DenyReason::UnsupportedVersion,
                          "artifact format version " + std::to_string(*version) + " is not supported (this gx reads " +
                              std::to_string(kArtifactVersionOldest) + ".." + std::to_string(kArtifactVersionCurrent) +
                              ")",
                          "version", std::to_string(*version));
  a.version = static_cast<int>(*version);
  if (auto v = r.string("id", true)) {
    bool ok = !v->empty() && v->size() <= 128;
    for (char c : *v) ok = ok && (isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    if (!ok) r.invalid("id", *v, "must be 1-128 characters of [A-Za-z0-9_-]");
    a.id = *v;
  }
  if (auto v = r.string("issuer", true)) a.issuer = *v;
  if (auto v = r.string("reason", false)) a.reason = *v;
  if (auto v = r.string("ticket", false)) a.ticket = *v;
  if (auto t = read_time(r, "issued_at", true)) a.issued_at = *t;
  if (auto t = read_time(r, "not_before", true)) a.not_before = *t;
  if (auto t = read_time(r, "not_after", true)) a.not_after = *t;
  if (r.ok() && a.not_after <= a.not_before)
    r.invalid("not_after", format_utc(a.not_after), "must be later than not_before");
  const toml::table* exec = r.table("exec", true);
  const toml::table* env = r.table("env", false);
  const toml::table* sandbox = r.table("sandbox", true);
  const toml::table* replay = r.table("replay", true);
  const toml::table* bindings = r.table("bindings", false);
  const toml::table* lineage = r.table("lineage", false);
  const toml::table* run = r.table("run", false);
  const toml::table* delegation = r.table("delegation", false);
  const toml::array* files = r.array("file", false);
  if (Decision d = r.finish(); !d) return d;

  if (Decision d = read_exec(*exec, a.scope); !d) return d;
  if (env)
    if (Decision d = read_env(*env, a.scope.env); !d) return d;
  if (Decision d = read_sandbox(*sandbox, a.scope.sandbox); !d) return d;
  if (files)
    if (Decision d = read_files(*files, a.scope.files); !d) return d;
  {
    TableReader rr(*replay, "replay");
    if (auto v = rr.string("nonce", true)) {
      if (v->size() < 32 || v->size() > 128) rr.invalid("nonce", *v, "must be 32-128 characters");
      a.nonce = *v;
    }
    if (auto v = rr.integer("max_uses", true, 1, 1'000'000)) a.max_uses = static_cast<uint32_t>(*v);
    if (Decision d = rr.finish(); !d) return d;
  }
  if (bindings) {
    TableReader rb(*bindings, "bindings");
    a.bindings.hostname = rb.string("hostname", false);
    a.bindings.machine_id = rb.string("machine_id", false);
    if (auto v = rb.integer("uid", false, 0, 0xFFFFFFFEll)) a.bindings.uid = static_cast<uid_t>(*v);
    if (Decision d = rb.finish(); !d) return d;
  }
  if (run)
    if (Decision d = read_run(*run, a.run); !d) return d;
  if (lineage) {
    TableReader rl(*lineage, "lineage");
    if (auto v = rl.string("parent", true)) {
      if (!crypto::is_sha256_ref(*v))
        rl.invalid("parent", *v, "must be sha256:<64 hex digits> (the parent artifact's digest)");
      a.parent = *v;
    }
    if (Decision d = rl.finish(); !d) return d;
  }
  if (delegation)
    if (Decision d = read_delegation(*delegation, a.delegation); !d) return d;
  return a;
}

Result<Artifact> ArtifactParseMemo::parse(std::string_view body) {
  for (size_t i = 0; i < kept_.size(); ++i) {
    if (kept_[i].body != body) continue;
    ++hits_;
    if (i != 0)
      std::rotate(kept_.begin(), kept_.begin() + static_cast<std::ptrdiff_t>(i),
                  kept_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    return Artifact(kept_.front());
  }
  auto parsed = parse_artifact_body(body);
  if (!parsed) return parsed;
  if (kept_.size() == kEntries) kept_.pop_back();
  kept_.insert(kept_.begin(), *parsed);
  return parsed;
}

Result<std::vector<Signature>> ArtifactParseMemo::signatures(std::string_view block) {
  if (kept_signatures_ && kept_signatures_->first == block) return kept_signatures_->second;
  auto parsed = parse_signatures(block);
  if (parsed) kept_signatures_.emplace(std::string(block), *parsed);
  return parsed;
}

// ---- rendering ----
namespace {
std::string quote_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + toml_quote(v[i]);
  return out + "]";
}
std::string port_list(const std::vector<uint16_t>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}

std::string render_argv(const std::vector<ArgPattern>& argv) {
  std::string o = "[";
  for (size_t i = 0; i < argv.size(); ++i) {
    o += i ? ", " : "";
    o += argv[i].glob ? "{ glob = " + toml_quote(argv[i].text) + " }" : toml_quote(argv[i].text);
  }
  return o + "]";
}

std::string render_delegation(const Delegation& d) {
  std::string o =
      "\n# Children of this artifact (lib/lineage.h, docs/lineage.md): signed by one of these keys\n"
      "# or by this artifact's own signers, at most max_depth levels deep, never wider than it.\n"
      "[delegation]\nmax_depth = " +
      std::to_string(d.max_depth) + "\n";
  if (d.nested_runs)
    o += "# The command may ask gx for nested runs of its children (GX_CHANNEL, docs/lineage.md).\n"
         "nested_runs = true\n";
  for (const auto& k : d.keys)
    o += "\n[[delegation.key]]\nname = " + toml_quote(k.name) + "\nid = " + toml_quote(k.key_id) +
         "\npublic_key = \"\"\"\n" + k.public_key + (k.public_key.ends_with('\n') ? "" : "\n") + "\"\"\"\n";
  for (const auto& x : d.executables) {
    o += "\n[[delegation.executable]]\npath = " + toml_quote(x.path) + "\nsha256 = " + toml_quote(x.sha256) + "\n";
    if (x.argv) o += "argv = " + render_argv(*x.argv) + "\n";
  }
  return o;
}

}  // namespace

std::string render_artifact_body(const Artifact& a) {
  const Scope& s = a.scope;
  const SandboxPolicy& sb = s.sandbox;
  std::string o;
  o += "# gx authorization artifact (format: gx-artifact(5)).\n";
  o += "# Review every line, then sign:  gx sign -k KEY THIS_FILE\n";
  o += "# Every byte above the first [[signature]] line is signed, comments included.\n";
  o += "version = " + std::to_string(a.version) + "\n";
  o += "id = " + toml_quote(a.id) + "\n";
  o += "issuer = " + toml_quote(a.issuer) + "\n";
  o += "reason = " + toml_quote(a.reason) + "\n";
  o += "ticket = " + toml_quote(a.ticket) + "\n";
  o += "issued_at = " + toml_quote(format_utc(a.issued_at)) + "\n";
  o += "not_before = " + toml_quote(format_utc(a.not_before)) + "\n";
  o += "not_after = " + toml_quote(format_utc(a.not_after)) + "\n";
  o += "\n[exec]\n";
  o += "path = " + toml_quote(s.path) + "\n";
  o += "sha256 = " + toml_quote(s.sha256) + "\n";
  if (!s.interpreter.empty()) {
    o += "# a script: its #! interpreter is pinned and verified too\n";
    o += "interpreter = " + toml_quote(s.interpreter) + "\n";
    o += "interpreter_sha256 = " + toml_quote(s.interpreter_sha256) + "\n";
  }
  o += "# exact argv, argv[0] included; an element may be { glob = \"pattern\" } instead\nargv = [";
  for (size_t i = 0; i < s.argv.size(); ++i) {
    o += i ? ", " : "";
    o += s.argv[i].glob ? "{ glob = " + toml_quote(s.argv[i].text) + " }" : toml_quote(s.argv[i].text);
  }
  o += "]\n";
  o += "cwd = " + toml_quote(s.cwd) + "\n";
  o += "\n[env]\n# only these variables reach the child; everything else is stripped\n";
  o += "allow = " + quote_list(s.env.allow) + "\n";
  o += "require = " + quote_list(s.env.require) + "\n";
  o += "[env.pin]\n";
  for (const auto& [k, v] : s.env.pin) o += toml_quote(k) + " = " + toml_quote(v) + "\n";
  o += "\n[sandbox]\n";
  o += "# syscall groups: see `gx profiles`\n";
  o += "groups = " + quote_list(sb.groups) + "\n";
  o += "allow_syscalls = " + quote_list(sb.allow_syscalls) + "\n";
  o += "deny_syscalls = " + quote_list(sb.deny_syscalls) + "\n";
  o += "default_action = " + toml_quote(sb.default_action == SeccompDefault::Kill ? "kill" : "errno") + "\n";
  o += "log_denials = " + std::string(sb.log_denials ? "true" : "false") + "\n";
  if (!sb.ioctl_groups.empty()) o += "ioctl_groups = " + quote_list(sb.ioctl_groups) + "\n";
  if (!sb.ioctls.empty()) o += "ioctls = " + quote_list(sb.ioctls) + "\n";
  if (sb.unix_sockets)
    o += "# named Unix sockets: every one this uid can reach (Landlock cannot restrict connect)\nunix_sockets = true\n";
  o += "network = " + toml_quote(sb.network == NetMode::Tcp ? "tcp" : "none") + "\n";
  if (sb.network == NetMode::Tcp) {
    o += "connect_tcp = " + port_list(sb.connect_tcp) + "\n";
    o += "bind_tcp = " + port_list(sb.bind_tcp) + "\n";
  }
  o += "read = " + quote_list(sb.read) + "\n";
  o += "write = " + quote_list(sb.write) + "\n";
  o += "exec = " + quote_list(sb.exec) + "\n";
  if (!sb.exec_writable.empty()) o += "exec_writable = " + quote_list(sb.exec_writable) + "\n";
  o += "min_landlock_abi = " + std::to_string(sb.min_landlock_abi) + "\n";
  o += "# rights this artifact accepts as unenforced on an older kernel (net, truncate, ioctl-dev, scope, refer)\n";
  o += "allow_downgrade = " + quote_list(sb.allow_downgrade) + "\n";
  for (const auto& f : s.files) {
    o += "\n[[file]]\npath = " + toml_quote(f.path) + "\nsha256 = " + toml_quote(f.sha256) + "\n";
  }
  o += "\n[replay]\n";
  o += "nonce = " + toml_quote(a.nonce) + "\n";
  o += "max_uses = " + std::to_string(a.max_uses) + "\n";
  if (a.bindings.hostname || a.bindings.machine_id || a.bindings.uid) {
    o += "\n[bindings]\n";
    if (a.bindings.hostname) o += "hostname = " + toml_quote(*a.bindings.hostname) + "\n";
    if (a.bindings.machine_id) o += "machine_id = " + toml_quote(*a.bindings.machine_id) + "\n";
    if (a.bindings.uid) o += "uid = " + std::to_string(*a.bindings.uid) + "\n";
  }
  if (!a.run.user.empty()) {
    o += "\n[run]\n# whose rights the command gets (like sudo -u); honoured only by a root gx or gx broker\n";
    o += "user = " + toml_quote(a.run.user) + "\n";
    if (!a.run.group.empty()) o += "group = " + toml_quote(a.run.group) + "\n";
    o += "# supplementary groups (default none) and capabilities kept (default none)\n";
    o += "groups = " + quote_list(a.run.groups) + "\n";
    o += "capabilities = " + quote_list(a.run.capabilities) + "\n";
  }
  if (!a.parent.empty()) o += "\n[lineage]\nparent = " + toml_quote(a.parent) + "\n";
  if (a.delegation.present) o += render_delegation(a.delegation);
  o += "\n";
  return o;
}

Result<Artifact> load_artifact_unverified(const std::string& path) {
  auto bytes = fs::read_file(path, kArtifactMaxBytes);
  if (!bytes) return bytes.error();
  auto parts = split_artifact(*bytes);
  if (!parts) return parts.error();
  auto sigs = parse_signatures(parts->signature_block);
  if (!sigs) return sigs.error();
  auto a = parse_artifact_body(parts->body);
  if (!a) return a.error();
  a->signatures = sigs.take();
  return a;
}

}  // namespace gx
