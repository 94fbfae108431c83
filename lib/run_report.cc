#include "lib/run_report.h"

#include <algorithm>
#include <iterator>

#include "lib/decision_json.h"

namespace gx {
namespace {

using json = nlohmann::json;

// Reading a report: each known key must have the type to_json gives it.
class Reader {
 public:
  explicit Reader(std::string prefix) : prefix_(std::move(prefix)) {}

  bool ok() const { return error_.empty(); }
  Decision error() const { return Decision::deny(DenyReason::WrongType, "report: " + error_, error_field_, ""); }

  template <typename T>
  void get(const json& o, const char* key, T& out) {
    if (!ok()) return;
    const auto it = o.find(key);
    if (it == o.end()) return fail(key, "is missing");
    if (!has_type(*it, out)) return fail(key, "has the wrong type");
    out = it->template get<T>();
  }
  template <typename T>
  void get_optional(const json& o, const char* key, std::optional<T>& out) {
    if (!o.contains(key)) return;
    get(o, key, out.emplace());
  }
  void fail(const char* key, const char* why) {
    if (!ok()) return;
    error_field_ = prefix_ + key;
    error_ = error_field_ + " " + why;
  }

 private:
  static bool has_type(const json& v, const bool&) { return v.is_boolean(); }
  static bool has_type(const json& v, const int64_t&) { return v.is_number_integer(); }
  static bool has_type(const json& v, const std::string&) { return v.is_string(); }
  static bool has_type(const json& v, const std::vector<std::string>&) {
    if (!v.is_array()) return false;
    for (const auto& e : v)
      if (!e.is_string()) return false;
    return true;
  }

  std::string prefix_, error_, error_field_;
};

// One part of the report: each reads the keys to_json writes for it.
void read(Reader& r, const json& j, SandboxSummary& s) {
  for (const char* k : {"landlock", "seccomp"})
    if (!j.contains(k)) r.fail(k, "is missing");
  if (!r.ok()) return;
  s.landlock = j["landlock"];
  s.seccomp = j["seccomp"];
  r.get(j, "implicit_exec", s.implicit_exec);
  r.get_optional(j, "implicit_read", s.implicit_read);
  r.get(j, "exec_guard", s.exec_guard);
  r.get(j, "exec_in_place", s.exec_in_place);
  r.get(j, "new_session", s.new_session);
  r.get(j, "no_new_privs", s.no_new_privs);
  if (j.contains("run_as")) s.run_as = j["run_as"];
}

void read(Reader& r, const json& j, ExecImageReport& x) {
  r.get(j, "in_place", x.in_place);
  r.get(j, "digest_cached", x.digest_cached);
  r.get(j, "copy_reason", x.copy_reason);
}

void read(Reader& r, const json& j, ChildReport& x) {
  r.get(j, "argv", x.argv);
  r.get(j, "env", x.env);
  r.get(j, "cwd", x.cwd);
}

void read(Reader& r, const json& j, UseReport& x) {
  r.get(j, "number", x.number);
  r.get(j, "max_uses", x.max_uses);
}

void read(Reader& r, const json& j, OutcomeReport& x) {
  // Only a program that never started has "started" (false).
  if (j.contains("started")) {
    r.get(j, "started", x.started);
    if (x.started) r.fail("started", "is true");
  } else {
    r.get(j, "wall_us", x.run.wall_us);
    r.get(j, "user_cpu_us", x.run.user_cpu_us);
    r.get(j, "sys_cpu_us", x.run.sys_cpu_us);
    r.get(j, "max_rss_kb", x.run.max_rss_kb);
    r.get(j, "descendants_killed", x.run.descendants_killed);
    r.get(j, "exec_refused", x.exec_refused);
  }
  r.get(j, "exit_code", x.run.exit_code);
  r.get(j, "signal", x.run.signal);
}

void read(Reader& r, const json& j, PeerReport& x) {
  r.get(j, "uid", x.uid);
  r.get(j, "gid", x.gid);
  r.get(j, "pid", x.pid);
  r.get(j, "pid_pinned", x.pid_pinned);
  if (j.contains("pid_inode")) r.get(j, "pid_inode", x.pid_inode);
}

// An optional part: absent leaves `out` unset; else an object read whole.
template <typename T>
Decision read_part(const json& j, const char* key, std::optional<T>& out) {
  const auto it = j.find(key);
  if (it == j.end()) return Decision::allow();
  Reader r(std::string(key) + ".");
  if (!it->is_object())
    return Decision::deny(DenyReason::WrongType, std::string("report: ") + key + " is not an object", key, "");
  read(r, *it, out.emplace());
  return r.ok() ? Decision::allow() : r.error();
}

}  // namespace

json to_json(const SandboxSummary& s) {
  json j;
  j["landlock"] = s.landlock;
  j["seccomp"] = s.seccomp;
  j["implicit_exec"] = s.implicit_exec;
  if (s.implicit_read) j["implicit_read"] = *s.implicit_read;
  j["exec_guard"] = s.exec_guard;
  j["exec_in_place"] = s.exec_in_place;
  j["new_session"] = s.new_session;
  j["no_new_privs"] = s.no_new_privs;
  if (!s.run_as.is_null()) j["run_as"] = s.run_as;
  return j;
}

json to_json(const RunReport& r, ChildEnv env) {
  json j = r.unknown.is_object() ? r.unknown : json::object();
  j["decision"] = decision_json(r.decision);
  if (r.dry_run) j["dry_run"] = true;
  if (!r.lineage.is_null()) j["lineage"] = r.lineage;
  if (!r.artifact.is_null()) j["artifact"] = r.artifact;
  if (r.sandbox) j["sandbox"] = to_json(*r.sandbox);
  if (const auto& e = r.exec_image)
    j["exec_image"] = {{"in_place", e->in_place}, {"digest_cached", e->digest_cached}, {"copy_reason", e->copy_reason}};
  if (const auto& c = r.child) {
    j["child"] = {{"argv", c->argv}, {"cwd", c->cwd}};
    if (env == ChildEnv::Values) {
      j["child"]["env"] = c->env;
    } else {
      json names = json::array();
      for (const auto& e : c->env) names.push_back(e.substr(0, e.find('=')));
      j["child"]["env_names"] = names;
    }
  }
  if (r.use) j["use"] = {{"number", r.use->number}, {"max_uses", r.use->max_uses}};
  if (!r.receipt.empty()) j["receipt"] = r.receipt;
  if (const auto& o = r.outcome) {
    const RunOutcome& x = o->run;
    if (!o->started) j["outcome"] = {{"started", false}, {"exit_code", x.exit_code}, {"signal", x.signal}};
    else
      j["outcome"] = {{"exit_code", x.exit_code},
                      {"signal", x.signal},
                      {"wall_us", x.wall_us},
                      {"user_cpu_us", x.user_cpu_us},
                      {"sys_cpu_us", x.sys_cpu_us},
                      {"max_rss_kb", x.max_rss_kb},
                      {"descendants_killed", x.descendants_killed},
                      {"exec_refused", o->exec_refused}};
  }
  if (!r.not_started_receipt.empty()) j["not_started_receipt"] = r.not_started_receipt;
  if (const auto& p = r.peer)
    j["peer"] = {
        {"uid", p->uid}, {"gid", p->gid}, {"pid", p->pid}, {"pid_pinned", p->pid_pinned}, {"pid_inode", p->pid_inode}};
  return j;
}

Result<RunReport> run_report_from_json(const json& j) {
  if (!j.is_object()) return Decision::deny(DenyReason::WrongType, "report: not a JSON object", "report", "");
  RunReport out;
  Reader r("");
  if (!j.contains("decision")) r.fail("decision", "is missing");
  if (!r.ok()) return r.error();
  std::string why;
  auto decision = decision_from_json(j["decision"], &why);
  if (!decision) return Decision::deny(DenyReason::WrongType, "report: decision: " + why, "decision", "");
  out.decision = *decision;
  if (j.contains("dry_run")) r.get(j, "dry_run", out.dry_run);
  if (j.contains("lineage")) out.lineage = j["lineage"];
  if (j.contains("artifact")) out.artifact = j["artifact"];
  if (j.contains("receipt")) r.get(j, "receipt", out.receipt);
  if (j.contains("not_started_receipt")) r.get(j, "not_started_receipt", out.not_started_receipt);
  if (!r.ok()) return r.error();
  for (Decision d : {read_part(j, "sandbox", out.sandbox), read_part(j, "exec_image", out.exec_image),
                     read_part(j, "child", out.child), read_part(j, "use", out.use),
                     read_part(j, "outcome", out.outcome), read_part(j, "peer", out.peer)})
    if (!d) return d;
  static const char* const kKnown[] = {"decision",
                                       "dry_run",
                                       "lineage",
                                       "artifact",
                                       "sandbox",
                                       "exec_image",
                                       "child",
                                       "use",
                                       "receipt",
                                       "outcome",
                                       "not_started_receipt",
                                       "peer"};
  for (const auto& [key, value] : j.items())
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) out.unknown[key] = value;
  return out;
}

}  // namespace gx
