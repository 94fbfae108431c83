#include "lib/run_pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "lib/authority.h"
#include "lib/confine.h"
#include "lib/decision_json.h"
#include "lib/exec_guard.h"
#include "lib/fsutil.h"
#include "lib/host.h"
#include "lib/invocation.h"
#include "lib/landlock.h"
#include "lib/receipt.h"
#include "lib/receipt_key.h"
#include "lib/receipt_log.h"
#include "lib/revocation.h"
#include "lib/signature_cache.h"
#include "lib/supervise.h"
#include "lib/trust_store.h"
#include "lib/use_store.h"
#include "lib/verify.h"
#include "seccomp/filter_builder.h"

namespace gx {
namespace {

Decision check_lineage(const Artifact& a, const std::vector<std::string>& env) {
  auto parent = env_lookup(env, kParentArtifactEnv);
  if (!a.parent.empty() && (!parent || *parent != a.parent))
    return Decision::deny(DenyReason::LineageInconsistency,
                          "artifact names parent " + a.parent + " but is not run inside that artifact's run",
                          "lineage.parent", parent.value_or(""));
  if (parent && a.parent.empty())
    return Decision::deny(DenyReason::LineageInconsistency,
                          "nested run (inside artifact " + *parent + ") of an artifact that does not name its parent",
                          "lineage.parent", *parent);
  return Decision::allow();
}

class Pipeline {
 public:
  explicit Pipeline(const RunRequest& req) : req_(req) {}

  RunResult run() {
    subject_ = receipt_for_this_process();
    subject_.argv = req_.argv;
    subject_.cwd = req_.cwd;
    subject_.parent = env_lookup(req_.env, kParentReceiptEnv).value_or("");
    open_log();
    if (Decision d = authorize(); !d) return deny(d);
    if (req_.dry_run) {
      if (Decision d = check_uses_left(); !d) return deny(d);
      out_.decision = Decision::allow();
      out_.report["decision"] = decision_json(out_.decision);
      out_.report["dry_run"] = true;
      return std::move(out_);
    }
    if (Decision d = reserve_and_record(); !d) return deny(d);
    return launch();
  }

 private:
  void open_log() {
    if (req_.dry_run) return;
    if (Decision d = ensure_state_dir(req_.state_dir); !d) {
      log_error_ = d;
      return;
    }
    ReceiptLogOptions o;
    o.receipt_key = req_.receipt_key;
    o.syslog = req_.syslog;
    auto log = ReceiptLog::open(req_.state_dir, o);
    if (log) log_.emplace(log.take());
    else log_error_ = log.error();
  }

  RunResult deny(Decision d) {
    out_.decision = d;
    out_.report["decision"] = decision_json(d);
    if (log_) {
      if (auto r = log_->append(make_denied(subject_, d)); r) out_.report["receipt"] = r->id;
      else out_.warnings.push_back("denied receipt not written: " + r.error().explain());
    } else if (!req_.dry_run) {
      out_.warnings.push_back("denied receipt not written: " + log_error_.explain());
    }
    return std::move(out_);
  }

  Decision authorize() {
    auto authority = load_authority(req_.trust_path, req_.revocations_path, req_.state_dir,
                                    static_cast<UnixTime>(time(nullptr)));
    if (!authority) return authority.error();
    // Signatures already verified over these exact bytes are not verified
    // again (lib/signature_cache.h); trust and revocation are decided afresh.
    VerifyOptions vo = authority->options();
    const SignatureCache cache = SignatureCache::open(req_.state_dir, !req_.dry_run);
    vo.signature_cache = &cache;
    Verification v = verify_artifact_file(req_.artifact_path, vo);
    out_.report["artifact"] = verification_json(v);
    out_.report["artifact"].erase("decision");
    out_.report["artifact"].erase("reason");
    subject_.artifact_digest = v.digest;
    subject_.signers = v.signers;
    if (v.artifact) {
      subject_.artifact_id = v.artifact->id;
      subject_.issuer = v.artifact->issuer;
    }
    if (!v.decision) return v.decision;
    artifact_ = std::move(*v.artifact);

    if (Decision d = check_lineage(artifact_, req_.env); !d) return d;
    auto m = match_invocation(artifact_, Invocation{req_.argv, req_.env, req_.cwd});
    subject_.exe_path = artifact_.scope.path;
    if (!m) {
      if (m.error().reason == DenyReason::DigestMismatch) subject_.exe_digest = m.error().value;
      return m.error();
    }
    match_.emplace(m.take());
    if (!match_->script_fallback.empty())
      out_.warnings.push_back(script_fallback_warning(match_->script_arg, match_->script_fallback));
    subject_.exe_digest = artifact_.scope.sha256;

    const SandboxPolicy& policy = artifact_.scope.sandbox;
    ProtectedPaths protect = own_files(req_.state_dir, req_.trust_path, req_.revocations_path, req_.receipt_key);
    if (Decision d = check_protected(policy, protect); !d) return d;
    auto filter = seccomp::FilterBuilder::from_policy(policy).build();
    if (!filter) return filter.error();
    auto ruleset = prepare_ruleset(policy, protect, match_->implicit_exec, match_->script_read);
    if (!ruleset) return ruleset.error();
    // gx itself starts the program with execveat: a profile that denies it
    // could never start anything (under "kill" the child would die by SIGSYS
    // at gx's own exec). Refuse now, before a use is spent.
    if (std::find(filter->summary.allowed.begin(), filter->summary.allowed.end(), "execveat") ==
        filter->summary.allowed.end()) {
      bool named = std::find(policy.deny_syscalls.begin(), policy.deny_syscalls.end(), "execveat") !=
                   policy.deny_syscalls.end();
      return Decision::deny(DenyReason::PolicyMismatch,
                            "gx starts the program with execveat, which this sandbox denies, so it could never "
                            "start; to keep the program from starting others, use exec = []",
                            named ? "sandbox.deny_syscalls" : "sandbox.groups", "execveat");
    }
    filter_.emplace(filter.take());
    ruleset_.emplace(ruleset.take());
    nlohmann::json sandbox;
    sandbox["landlock"] = ruleset_->enforcement();
    sandbox["seccomp"] = filter_->summary;
    sandbox["implicit_exec"] = match_->implicit_exec;
    if (match_->script) sandbox["implicit_read"] = match_->script_read;
    sandbox["exec_guard"] = policy.exec.empty();  // exec = []: no exec after gx's own
    sandbox["new_session"] = true;
    sandbox["no_new_privs"] = true;
    out_.report["sandbox"] = sandbox;
    out_.report["child"] = {{"argv", match_->argv}, {"env", match_->env}, {"cwd", match_->cwd}};
    subject_.sandbox = sandbox;
    return Decision::allow();
  }

  // Dry run: would a use be left? Read-only; a store that does not exist yet
  // has every use left.
  Decision check_uses_left() {
    if (!fs::exists(UseStore::db_path(req_.state_dir))) return Decision::allow();
    auto store = UseStore::open(req_.state_dir);
    if (!store) return store.error();
    return store->check_left(subject_.artifact_digest, artifact_.max_uses);
  }

  Decision reserve_and_record() {
    // No evidence, no execution — and no use spent: the log must be usable
    // (preflight: every check append makes, nothing written) before the use
    // is reserved. Order: log usable -> reserve -> authorized receipt.
    if (!log_)
      return Decision::deny(DenyReason::LogUnavailable, "receipt log unavailable: " + log_error_.explain(), "state",
                            req_.state_dir);
    if (Decision d = log_->preflight(); !d) return d;
    // The use is spent before anything runs: a crash after this point
    // loses a use, never grants an extra one.
    auto store = UseStore::open(req_.state_dir);
    if (!store) return store.error();
    auto use = store->reserve(subject_.artifact_digest, artifact_.max_uses, artifact_.not_after);
    if (!use) return use.error();
    out_.report["use"] = {{"number", use->use_number}, {"max_uses", use->max_uses}};
    auto r = log_->append(make_authorized(subject_));
    if (!r) return Decision::deny(DenyReason::LogUnavailable, "cannot write the authorized receipt: " + r.error().explain(),
                                  "state", req_.state_dir);
    authorized_id_ = r->id;
    out_.report["receipt"] = r->id;
    return Decision::allow();
  }

  RunResult launch() {
    std::vector<std::string> env = match_->env;
    env.push_back(std::string(kParentReceiptEnv) + "=" + authorized_id_);
    env.push_back(std::string(kParentArtifactEnv) + "=" + subject_.artifact_digest);
    CStringArray argv(match_->argv), envp(env);
    sock_fprog prog{static_cast<unsigned short>(filter_->program.size()),
                    const_cast<sock_filter*>(filter_->program.data())};
    const auto& guard_prog = exec_guard_program();
    sock_fprog guard_fprog{static_cast<unsigned short>(guard_prog.size()),
                           const_cast<sock_filter*>(guard_prog.data())};
    ChildPlan plan;
    plan.exec_fd = match_->image.fd();
    plan.inherit_fd = match_->inherit_fd();
    plan.argv = argv.data();
    plan.envp = envp.data();
    plan.cwd = match_->cwd.c_str();
    plan.ruleset_fd = ruleset_->fd();
    plan.landlock_flags = ruleset_->restrict_flags();
    plan.seccomp = &prog;
    plan.seccomp_flags = filter_->flags;
    plan.parent_pid = getpid();
    // exec = []: the program may start no other program (lib/exec_guard.h).
    // With exec paths, Landlock decides which files may be executed.
    if (artifact_.scope.sandbox.exec.empty()) plan.exec_guard = &guard_fprog;
    if (Decision d = harden_supervisor(); !d) return not_started(d, -1, -1);
    if (Decision d = become_subreaper(); !d) return not_started(d, -1, -1);
    const OwnLimits limits = OwnLimits::save();
    SignalGuard guard;
    const int64_t started = now_unix_us();
    SpawnInfo info;
    auto pid = spawn_confined(plan, &info);
    if (!pid) return not_started(pid.error(), info.pid, info.wait_status);
    std::optional<ExecGuard> exec_guard;
    if (info.exec_listener >= 0) exec_guard.emplace(info.exec_listener);
    out_.child_ran = true;
    out_.decision = Decision::allow();
    out_.report["decision"] = decision_json(out_.decision);
    auto exit = supervise_child(*pid, guard, started);
    DescendantCleanup cleanup = terminate_descendants(*pid);
    if (!cleanup.complete) out_.warnings.push_back("descendants of the child may survive: " + cleanup.note);
    uint64_t refused = exec_guard ? exec_guard->stop() : 0;
    for (auto& note : limits.restore()) out_.warnings.push_back(note);
    if (!exit) {
      out_.warnings.push_back("lost track of the child: " + exit.error().explain());
      out_.exit_status = 255;
      return std::move(out_);
    }
    out_.exit_status = exit->shell_status();
    RunOutcome outcome = outcome_from_wait(*pid, exit->wait_status, exit->usage, exit->wall_us);
    outcome.descendants_killed = cleanup.killed;
    out_.report["outcome"] = {{"exit_code", outcome.exit_code}, {"signal", outcome.signal},
                              {"wall_us", outcome.wall_us},      {"user_cpu_us", outcome.user_cpu_us},
                              {"sys_cpu_us", outcome.sys_cpu_us}, {"max_rss_kb", outcome.max_rss_kb},
                              {"descendants_killed", outcome.descendants_killed},
                              {"exec_refused", refused}};
    if (auto r = log_->append(make_finished(subject_, authorized_id_, outcome)); !r) {
      out_.record_failed = true;
      out_.warnings.push_back("finished receipt not written: " + r.error().explain());
    }
    return std::move(out_);
  }

  // Authorized, but the program never started: a "not-started" receipt
  // linked to the authorized one, never "finished".
  RunResult not_started(const Decision& why, pid_t child, int wait_status) {
    out_.decision = why;
    out_.not_started = true;
    out_.report["decision"] = decision_json(why);
    RunOutcome o;
    if (child > 0) o.child_pid = child;
    if (wait_status >= 0) {
      struct rusage none {};
      o = outcome_from_wait(child, wait_status, none, 0);
    }
    out_.report["outcome"] = {{"started", false}, {"exit_code", o.exit_code}, {"signal", o.signal}};
    if (auto r = log_->append(make_not_started(subject_, authorized_id_, why, o)); r)
      out_.report["not_started_receipt"] = r->id;
    else
      out_.warnings.push_back("not-started receipt not written: " + r.error().explain());
    return std::move(out_);
  }

  const RunRequest& req_;
  RunResult out_;
  Receipt subject_;
  std::optional<ReceiptLog> log_;
  Decision log_error_;
  Artifact artifact_;
  std::optional<MatchedInvocation> match_;
  std::optional<seccomp::CompiledFilter> filter_;
  std::optional<PreparedRuleset> ruleset_;
  std::string authorized_id_;
};

}  // namespace

RunResult run_governed(const RunRequest& req) { return Pipeline(req).run(); }

}  // namespace gx
