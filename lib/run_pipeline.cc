#include "lib/run_pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "lib/authority.h"
#include "lib/clock.h"
#include "lib/confine.h"
#include "lib/decision_json.h"
#include "lib/digest_cache.h"
#include "lib/exec_guard.h"
#include "lib/filter_cache.h"
#include "lib/fsutil.h"
#include "lib/host.h"
#include "lib/invocation.h"
#include "lib/landlock.h"
#include "lib/lineage.h"
#include "lib/nested_channel.h"
#include "lib/receipt.h"
#include "lib/receipt_key.h"
#include "lib/receipt_log.h"
#include "lib/revocation.h"
#include "lib/ruleset_cache.h"
#include "lib/run_as.h"
#include "lib/run_record.h"
#include "lib/side_task.h"
#include "lib/signature_cache.h"
#include "lib/supervise.h"
#include "lib/trust_store.h"
#include "lib/use_store.h"
#include "lib/verify.h"
#include "seccomp/bpf.h"
#include "seccomp/filter_builder.h"

namespace gx {
namespace {

// The old, forgeable lineage variables never reach a child, whatever the
// artifact allows (docs/lineage.md); nor does a caller's GX_CHANNEL (only
// the channel gx itself made for this child is named to it).
void strip_claimed_lineage(std::vector<std::string>& env) {
  std::erase_if(env, [](const std::string& e) {
    return env_lookup({e}, kParentArtifactEnv).has_value() || env_lookup({e}, kParentReceiptEnv).has_value() ||
           env_lookup({e}, kChannelEnv).has_value();
  });
}

class Pipeline {
 public:
  explicit Pipeline(const RunRequest& req) : req_(req) {}
  // A side thread that waits to sync a receipt that never came, or for
  // spawn's reader work after its sync, returns.
  ~Pipeline() {
    sync_.abandon();
    sync_.close_host();
  }

  // RunRequest::on_result, once: launch calls it for a run that started,
  // run_governed for every other outcome (before the pipeline goes).
  void deliver() {
    if (delivered_ || !req_.on_result) return;
    delivered_ = true;
    req_.on_result(out_);
  }
  bool delivered() const { return delivered_; }

  RunResult run() {
    open_log();                       // first: its side work (start_side_work) then starts the earliest
    host_ = HostIdentity::current();  // once a run: the subject and the bindings
    subject_ = receipt_for_host(host_);
    subject_.argv = req_.argv;
    subject_.cwd = req_.cwd;
    subject_.parent = req_.parent_receipt;
    if (req_.peer) {
      subject_.brokered = true;
      subject_.peer_uid = req_.peer->uid;
      subject_.peer_gid = req_.peer->gid;
      subject_.peer_pid = req_.peer->pid;
    }
    if (Decision d = authorize(); !d) return deny(d);
    if (req_.dry_run) {
      if (Decision d = check_uses_left(); !d) return deny(d);
      out_.decision = Decision::allow();
      out_.report.decision = out_.decision;
      out_.report.dry_run = true;
      return std::move(out_);
    }
    // A broker worker reserves the use and writes the authorized receipt
    // beside the child's set-up (launch, on spawn_confined's gate) when no
    // side work needs the second CPU; while the side work still runs, and
    // always in a standalone run, here, before the clone, with signals not
    // yet blocked (SignalGuard): a Ctrl-C during a long wait for the log's
    // lock still ends gx before anything is spent. (A worker blocks the
    // forwarded signals throughout: they reach the command either way.)
    reserve_in_gate_ = preloaded() && (!side_ || side_->done());
    if (!reserve_in_gate_)
      if (Decision d = reserve_and_record(); !d) return refuse_before_start(d);
    return launch();
  }

 private:
  // A supervisor's open state (PreloadedState). A dry run reads through it
  // too (trust, revocations, caches, the use store's count); it opens no
  // log and reserves nothing (open_log, check_uses_left).
  PreloadedState* preloaded() const { return req_.preloaded; }

  void open_log() {
    if (req_.dry_run) return;
    if (preloaded()) {
      log_ = preloaded()->receipt_log;
      (void)start_side_work();  // the nonces its spare did not make
      return;
    }
    if (Decision d = ensure_state_dir(req_.state_dir); !d) {
      log_error_ = d;
      return;
    }
    // Beside authorization when it can be (start_side_work), else here.
    if (!start_side_work()) open_own_log();
  }

  void open_own_log() {
    ReceiptLogOptions o;
    o.receipt_key = req_.receipt_key;
    o.syslog = req_.syslog;
    auto log = ReceiptLog::open(req_.state_dir, o);
    if (log) log_ = &own_log_.emplace(log.take());
    else log_error_ = log.error();
  }

  // What a standalone run needs besides its decision -- its receipt log
  // opened, its use store opened (the reservation's statements compiled:
  // UseStore::prepare_reservation), the authorized receipt's signing nonce
  // (one scalar multiplication) -- made on another CPU while this thread
  // verifies and matches (lib/side_task.h); then that thread waits for the
  // authorized receipt and makes it durable the moment it is written
  // (SyncHandoff, lib/run_record.h), while this thread goes on to start
  // the child, which waits at its gate for that sync; the side thread then
  // opens that gate itself (SyncHandoff::host: spawn_confined's reader work
  // runs on it, so no thread is started and none is woken). The finished
  // receipt's nonce is made while the child runs (launch): made on the
  // side after the sync, it ran beside the child and slowed it
  // (docs/performance.md, twenty-eighth pass). A broker's worker has the
  // log and the store already, and the nonces its spare made before the
  // connection came (none when it came first or they aged out): the
  // missing ones are made here, after its kept Landlock ruleset is checked
  // (RulesetCache::precheck, waited for before matching opens the
  // executable). A dry run needs none of it (open_log does not call this).
  // False: nothing started (one CPU, or nothing to do); a standalone
  // caller then opens the log itself (and syncs its receipt at the gate).
  //
  // open_log made the state directory first: authorization opens files in
  // it too (the signature cache). Nothing the steps write is read before
  // the wait that covers it: the worker's ruleset cache (its precheck,
  // side_precheck_steps_), log_, own_log_, log_error_ (side_log_steps_),
  // side_store_ (side_store_steps_), side_nonces_[0]
  // (side_first_nonce_steps_), side_nonces_[1] (wait()); the sync's
  // verdict is read through sync_ (SyncHandoff::wait). The store comes
  // before the first nonce, which is waited for only once the use is
  // reserved (inside the append, just before the receipt is signed): when
  // this thread is ahead, the reservation overlaps the nonce's scalar
  // multiplication. The price: a denial (which waits for the log, then
  // skips what has not begun) often finds the store's opening under way,
  // waits for it, and may have created the store -- as the first allowed
  // run would.
  bool start_side_work() {
    std::vector<SideTask::Step> steps;
    // A worker's kept ruleset is checked first, beside verification
    // (RulesetCache::precheck); matching waits for it (authorize).
    RulesetCache* rulesets = preloaded() ? preloaded()->rulesets : nullptr;
    // (Unless the worker started that check itself, when the request's frame
    // was read: RunRequest::ruleset_precheck.)
    const bool precheck = !req_.ruleset_precheck && rulesets && !rulesets->kept_fds().empty();
    if (precheck) steps.push_back([this, rulesets] { side_precheck_ = rulesets->precheck(); });
    if (!preloaded()) {
      steps.push_back([this] { open_own_log(); });
      steps.push_back([this] {
        if (!log_) return;
        side_store_.emplace(UseStore::open(req_.state_dir));
        // Compiled here, not in the reservation on the critical path (~70 us).
        if (*side_store_) (*side_store_)->prepare_reservation();
      });
    }
    const size_t have = preloaded() ? std::min<size_t>(log_->prepared_nonces(), 2) : 0;
    for (size_t i = have; i < (preloaded() ? 2 : 1); ++i)
      steps.push_back([this, i] {
        if (log_) side_nonces_[i].emplace(log_->make_nonce());
      });
    if (!preloaded()) steps.push_back([this] { sync_.serve(); });
    if (steps.empty()) return false;
    const size_t firsts = precheck ? 1 : preloaded() ? 0 : 2;  // the steps before the first nonce
    side_ = SideTask::start(std::move(steps));
    if (!side_) return false;
    sync_beside_ = !preloaded();
    side_precheck_steps_ = precheck ? 1 : 0;
    side_log_steps_ = preloaded() ? 0 : 1;
    side_store_steps_ = preloaded() ? 0 : 2;
    side_first_nonce_steps_ = have == 0 ? firsts + 1 : 0;
    return true;
  }

  // The side work's nonces, handed to the log once their steps are over.
  void take_side_nonce(size_t i) {
    if (log_ && side_nonces_[i] && *side_nonces_[i]) log_->add_nonce(side_nonces_[i]->take());
    side_nonces_[i].reset();
  }

  // The log and the store.
  void finish_side_store() {
    if (side_) side_->wait_for(side_store_steps_);
  }
  // The authorized receipt's nonce (when made beside), handed to the log
  // before it signs. A broker worker's side leaves the finished receipt's
  // to go on only if it has begun: else it is made while the child runs
  // (launch). A standalone run's side has no second nonce: its last step
  // is the sync.
  void finish_side_first_nonce() {
    if (!side_) return;
    if (side_first_nonce_steps_ != 0) {
      side_->wait_for(side_first_nonce_steps_);
      take_side_nonce(0);
    }
    // The sync, when it is the side's last step, must not be skipped: the
    // gate waits for it.
    if (!sync_beside_) side_->cancel();
  }

  // All of the side work (or, `cancel`, the log and what is under way): the
  // process is single-threaded again after this. The log is never skipped:
  // every decision leaves a receipt.
  void finish_side_work(bool cancel = false) {
    if (!side_) return;
    side_->wait_for(side_log_steps_);
    if (cancel) {
      sync_.abandon();  // a sync started goes on: waited for below
      side_->cancel();
    }
    sync_.close_host();  // no reader work after this; one hosted already is waited for below
    side_->wait();
    side_.reset();
    take_side_nonce(0);
    take_side_nonce(1);
  }

  RunResult deny(Decision d) {
    // A denial needs only the log: what has not begun beside is skipped.
    finish_side_work(true);
    out_.decision = d;
    out_.report.decision = d;
    if (log_) {
      if (auto r = log_->append(make_denied(subject_, d)); r) out_.report.receipt = r->id;
      else out_.warnings.push_back("denied receipt not written: " + r.error().explain());
    } else if (!req_.dry_run) {
      out_.warnings.push_back("denied receipt not written: " + log_error_.explain());
    }
    return std::move(out_);
  }

  Decision authorize() {
    const UnixTime now = now_unix();
    std::optional<Authority> authority;
    HostIdentity preloaded_host;
    if (!preloaded()) {
      auto loaded = load_authority(req_.trust_path, req_.revocations_path, req_.state_dir, now, host_);
      if (!loaded) return loaded.error();
      authority.emplace(loaded.take());
    } else {
      preloaded_host = host_;
    }
    HostIdentity& host = authority ? authority->host : preloaded_host;
    // A brokered run's uid binding is the caller's (the kernel's word), not
    // the broker's own uid.
    if (req_.peer) host.uid = req_.peer->uid;
    VerifyOptions vo =
        authority ? authority->options() : verify_options(*preloaded()->trust, *preloaded()->revocations, host, now);
    // Signatures already verified over these exact bytes are not verified
    // again (lib/signature_cache.h); trust and revocation are decided afresh.
    std::optional<SignatureCache> own_cache;
    vo.signature_cache = preloaded() ? preloaded()->signature_cache
                                     : &own_cache.emplace(SignatureCache::open(req_.state_dir, !req_.dry_run));
    if (preloaded()) vo.parse_memo = preloaded()->artifacts;
    ParentSet parents;
    for (const auto& p : req_.parent_artifacts)
      if (Decision d = parents.add_path(p); !d) return d;
    for (const auto& bytes : req_.parent_artifact_bytes)
      if (Decision d = parents.add_bytes(bytes, "the run that owns the channel"); !d) return d;
    for (const auto& [digest, bounds] : req_.parent_bounds) parents.set_bounds(digest, bounds);
    // The exact bytes verified are kept: a nested run's parent is this
    // artifact as verified here, never the file re-read later.
    if (req_.artifact_bytes) {
      own_bytes_ = *req_.artifact_bytes;
    } else if (auto bytes = fs::read_file(req_.artifact_path, kArtifactMaxBytes)) {
      own_bytes_ = bytes.take();
    }
    LineageVerification lv = own_bytes_ ? verify_lineage_bytes(*own_bytes_, parents, vo)
                                        : verify_lineage_file(req_.artifact_path, parents, vo);
    Verification& v = lv.leaf;
    out_.report.lineage = lineage_json(lv.chain);
    for (size_t i = lv.chain.size(); i-- > 1;) subject_.lineage.push_back(lv.chain[i - 1].digest);
    out_.report.artifact = verification_json(v);
    out_.report.artifact.erase("decision");
    out_.report.artifact.erase("reason");
    subject_.artifact_digest = v.digest;
    subject_.signers = v.signers;
    if (v.artifact) {
      subject_.artifact_id = v.artifact->id;
      subject_.issuer = v.artifact->issuer;
    }
    if (!lv.decision) return lv.decision;
    artifact_ = std::move(*v.artifact);
    if (!req_.parent_receipt.empty() && artifact_.parent.empty())
      return Decision::deny(
          DenyReason::LineageInconsistency,
          "nested run (inside receipt " + req_.parent_receipt + ") of an artifact that names no parent",
          "lineage.parent", "");
    // A nested run descends from the run that owns the channel, directly:
    // an artifact naming an ancestor further up would skip its authority.
    if (!req_.parent_digest.empty() && artifact_.parent != req_.parent_digest)
      return Decision::deny(DenyReason::LineageInconsistency,
                            "nested run inside receipt " + req_.parent_receipt + " (artifact " + req_.parent_digest +
                                ") of an artifact whose parent is " + artifact_.parent + ", not that run's artifact",
                            "lineage.parent", artifact_.parent);
    // The program may run from its own file, its digest cached
    // (lib/digest_cache.h), under the same secret as the signatures.
    const DigestCache digests(*vo.signature_cache);
    // The kept ruleset's precheck (start_side_work) is over before matching
    // opens the executable: its key names that descriptor by number
    // (/proc/self/fd/N), which a descriptor the check held open meanwhile
    // would shift, and a shifted number would build the ruleset afresh.
    if (req_.ruleset_precheck) side_precheck_ = req_.ruleset_precheck->take();
    else if (side_) side_->wait_for(side_precheck_steps_);
    // A peer's paths are resolved with gx's rights: its denials name only
    // what the peer sent (lib/invocation.h).
    auto m = match_invocation(artifact_, Invocation{req_.argv, req_.env, req_.cwd, !req_.peer.has_value()}, &digests);
    subject_.exe_path = artifact_.scope.path;
    if (!m) {
      if (m.error().reason == DenyReason::DigestMismatch) subject_.exe_digest = m.error().value;
      return m.error();
    }
    match_.emplace(m.take());
    strip_claimed_lineage(match_->env);
    if (!match_->script_fallback.empty())
      out_.warnings.push_back(script_fallback_warning(match_->script_arg, match_->script_fallback));
    subject_.exe_digest = artifact_.scope.sha256;

    const SandboxPolicy& policy = artifact_.scope.sandbox;
    ProtectedPaths protect = own_files(req_.state_dir, req_.trust_path, req_.revocations_path, req_.receipt_key);
    for (auto [to, from] : {std::pair{&protect.no_write, &req_.also_protected.no_write},
                            std::pair{&protect.no_access, &req_.also_protected.no_access},
                            std::pair{&protect.no_rename, &req_.also_protected.no_rename}})
      to->insert(to->end(), from->begin(), from->end());
    // No check_protected here: prepare_ruleset below makes the same check on
    // the paths it resolves once (a second pass was ~16 path resolutions).
    // Built once per policy, binary and kernel (lib/filter_cache.h).
    auto filter =
        build_filter_cached(policy, vo.signature_cache, nullptr, preloaded() ? preloaded()->filters : nullptr);
    if (!filter) return filter.error();
    // In place (lib/executable.h), the kernel checks execute on the file
    // itself: the rule goes on the open descriptor (/proc/self/fd/N), so a
    // rename over the path cannot move it to another inode.
    std::vector<std::string> exec_rules = match_->implicit_exec;
    if (match_->image.in_place()) exec_rules.push_back("/proc/self/fd/" + std::to_string(match_->image.fd()));
    auto ruleset =
        preloaded() && preloaded()->rulesets
            ? preloaded()->rulesets->prepare(policy, protect, exec_rules, match_->script_read, side_precheck_)
            : prepare_ruleset(policy, protect, exec_rules, match_->script_read);
    if (!ruleset) return ruleset.error();
    // A child's containment, decided on what its rules are on: the names of
    // the descriptors they went on, against the bounds its link was checked
    // with. Its paths may have been moved since the lineage check above.
    if (lv.parent_bounds)
      if (Decision d = check_grants_within(*lv.parent_bounds, policy, ruleset->names()); !d) {
        d.detail = "link " + subject_.artifact_digest + ", as its sandbox was built: " + d.detail;
        return d;
      }
    own_bounds_ = bounds_of_run(artifact_, ruleset->names());
    // gx itself starts the program with execveat: a profile that denies it
    // could never start anything (under "kill" the child would die by SIGSYS
    // at gx's own exec). Refuse now, before a use is spent.
    if (!filter->summary.allows("execveat")) {
      bool named =
          std::find(policy.deny_syscalls.begin(), policy.deny_syscalls.end(), "execveat") != policy.deny_syscalls.end();
      return Decision::deny(DenyReason::PolicyMismatch,
                            "gx starts the program with execveat, which this sandbox denies, so it could never "
                            "start; to keep the program from starting others, use exec = []",
                            named ? "sandbox.deny_syscalls" : "sandbox.groups", "execveat");
    }
    filter_.emplace(filter.take());
    ruleset_.emplace(ruleset.take());
    SandboxSummary sandbox;
    sandbox.landlock = ruleset_->enforcement();
    sandbox.seccomp = filter_->summary;
    sandbox.implicit_exec = match_->implicit_exec;
    if (match_->image.in_place()) sandbox.implicit_exec.push_back(match_->image.path());
    if (match_->script) sandbox.implicit_read = match_->script_read;
    sandbox.exec_guard = policy.exec.empty();
    sandbox.exec_in_place = match_->image.in_place();
    if (Decision d = plan_run_as(sandbox); !d) return d;
    subject_.sandbox = to_json(sandbox);
    out_.report.sandbox = std::move(sandbox);
    out_.report.exec_image =
        ExecImageReport{match_->image.in_place(), match_->image.digest_cached(), match_->image.copy_reason()};
    out_.report.child = ChildReport{match_->argv, match_->env, match_->cwd};
    return Decision::allow();
  }

  // Whose rights the child gets (lib/run_as.h), decided before a use is
  // spent; recorded as sandbox.run_as in the report and the receipts.
  Decision plan_run_as(SandboxSummary& sandbox) {
    auto target = resolve_run_identity(artifact_.run, req_.peer ? &*req_.peer : nullptr);
    if (!target) return target.error();
    auto creds = prepare_credentials(*target, ProcessRights::current(), kernel_last_cap());
    if (!creds) return creds.error();
    credentials_ = creds.take();
    if (*target) sandbox.run_as = credentials_.summary();
    return Decision::allow();
  }

  // Dry run: would a use be left? Read-only; a store that does not exist yet
  // would count the log's authorized receipts when it is created.
  Decision check_uses_left() {
    if (preloaded() && preloaded()->use_store)
      return preloaded()->use_store->check_left(subject_.artifact_digest, artifact_.max_uses);
    if (!fs::exists(UseStore::db_path(req_.state_dir)))
      return UseStore::check_left_without_store(req_.state_dir, subject_.artifact_digest, artifact_.max_uses);
    auto store = UseStore::open(req_.state_dir);
    if (!store) return store.error();
    return store->check_left(subject_.artifact_digest, artifact_.max_uses);
  }

  // In run(), before the clone; or, when reserve_in_gate_, on
  // spawn_confined's gate thread beside the child's set-up (launch).
  Decision reserve_and_record() {
    // No evidence, no execution — and no use spent: the use is reserved
    // inside the authorized receipt's append, after every check the append
    // makes and before its write, under the log's lock. The receipt is
    // durable before anything runs (crash argument: lib/run_record.h).
    finish_side_store();
    if (!log_)
      return Decision::deny(DenyReason::LogUnavailable, "receipt log unavailable: " + log_error_.explain(), "state",
                            req_.state_dir);
    // A broker worker hands its kept use store; a standalone run opens its
    // own (on the side, if it could: start_side_work).
    UseStore* store = preloaded() ? preloaded()->use_store : nullptr;
    if (!store) {
      auto opened = side_store_ ? std::move(*side_store_) : UseStore::open(req_.state_dir);
      side_store_.reset();
      if (!opened) return opened.error();
      store = &own_store_.emplace(opened.take());
    }
    store_ = store;
    AppendedReceipt written;
    // Written, not yet durable: synced while the child sets itself up (by
    // the side thread from the write on, sync_beside_; else by launch()'s
    // gate), and the child execs only after that (lib/run_record.h).
    auto rec = append_authorized_run(
        *store, *log_, make_authorized(subject_), artifact_.max_uses, artifact_.not_after, &written,
        [this](RecordStep step) {
          if (step == RecordStep::Reserved) finish_side_first_nonce();
          return Decision::allow();
        },
        sync_beside_ ? ReceiptSync::DeferredNoHint : ReceiptSync::Deferred);
    if (!rec) {
      authorized_id_ = written.id;
      return rec.error();
    }
    // The id first: whatever throws after it, the run is one whose receipt
    // was written (not-started, never a denial).
    authorized_id_ = rec->receipt.id;
    authorized_ = rec->receipt;
    // Synced from now on beside (start_side_work), waited for at the gate.
    if (sync_beside_) sync_.start(*log_, authorized_);
    out_.report.use = UseReport{static_cast<int64_t>(rec->use.use_number), static_cast<int64_t>(rec->use.max_uses)};
    out_.report.receipt = authorized_id_;
    return Decision::allow();
  }

  // Starts the child, which sets itself up (credentials, Landlock, filters)
  // while spawn_confined's gate thread makes the authorized receipt durable
  // -- and first reserves the use and writes that receipt, when run() left
  // them to it (reserve_in_gate_) -- and execs only once it is durable. In
  // a standalone run the gate thread is the side thread, which has synced
  // the receipt (SyncHandoff::host); in a broker's worker, one spawn starts.
  RunResult launch() {
    std::vector<std::string> env = match_->env;
    // [delegation] nested_runs: the child gets a private channel to ask for
    // its children's runs (lib/nested_channel.h).
    std::optional<ChannelServer> channel;
    if (artifact_.delegation.nested_runs) {
      auto c = ChannelServer::create();
      if (!c) return refuse_before_start(c.error());
      channel.emplace(c.take());
      env.push_back(channel->env_entry());
    }
    CStringArray argv(match_->argv), envp(env);
    sock_fprog prog{static_cast<unsigned short>(filter_->program.size()),
                    const_cast<sock_filter*>(filter_->program.data())};
    const auto& guard_prog = seccomp::exec_guard_program();
    sock_fprog guard_fprog{static_cast<unsigned short>(guard_prog.size()), const_cast<sock_filter*>(guard_prog.data())};
    ChildPlan plan;
    plan.exec_fd = match_->image.fd();
    plan.inherit_fd = match_->inherit_fd();
    plan.channel_fd = channel ? channel->child_end() : -1;
    for (int i = 0; i < 3; ++i) plan.stdio[i] = req_.stdio[static_cast<size_t>(i)];
    plan.argv = argv.data();
    plan.envp = envp.data();
    plan.cwd = match_->cwd.c_str();
    plan.ruleset_fd = ruleset_->fd();
    plan.landlock_flags = ruleset_->restrict_flags();
    plan.seccomp = &prog;
    plan.seccomp_flags = filter_->flags;
    // No argument checks on either (seccomp/filter_builder.h): listed is allowed.
    plan.seccomp_before_gate = filter_->summary.allows("read") && filter_->summary.allows("close");
    plan.parent_pid = getpid();
    plan.credentials = credentials_.child();
    plan.signals = req_.inherited_signals;
    // exec = []: the program may start no other program (lib/exec_guard.h).
    // With exec paths, Landlock decides which files may be executed.
    if (artifact_.scope.sandbox.exec.empty()) plan.notify_filter = &guard_fprog;
    if (Decision d = harden_supervisor(); !d) return refuse_before_start(d);
    if (Decision d = become_subreaper(); !d) return refuse_before_start(d);
    const OwnLimits limits = OwnLimits::save();
    SignalGuard guard;
    const int64_t started = now_unix_us();
    // The side work may go on beside the clone when the child shares gx's
    // memory (it runs no code of the side's and takes no lock): a broker
    // worker's gate waits for what the authorized receipt needs (the first
    // nonce), a standalone run's for the side's sync (sync_). A child that
    // is a fork is made from a process with no thread but the gate's
    // (lib/side_task.h): the side's sync is then over before the fork.
    if (!spawn_shares_memory()) finish_side_work();
    SpawnInfo info;
    // No evidence, no execution: the use is reserved and the authorized
    // receipt written and made durable before the program can start
    // (spawn_confined's gate; this thread waits in the clone meanwhile).
    // A brokered request whose client went away while it was authorized
    // is not started: nothing would be left to stop it (the client's
    // disconnect already sent its SIGTERM).
    auto client_gone = [this] {
      return req_.client_gone && req_.client_gone()
                 ? Decision::deny(DenyReason::IoError, "the client disconnected before the program started", "client")
                 : Decision::allow();
    };
    auto pid = spawn_confined(
        plan, &info,
        [this, &client_gone] {
          // Gone before its use is reserved: a denial, nothing spent.
          if (reserve_in_gate_) {
            if (Decision d = client_gone(); !d) return d;
            if (Decision d = reserve_and_record(); !d) return d;
          }
          if (Decision d = client_gone(); !d) return d;
          Decision durable = sync_beside_ ? sync_.wait() : make_run_durable(*log_, authorized_);
          if (!durable) return durable;
          durable_ = true;
          // Last look before the gate: a program executed in place must still
          // be what was digested (lib/executable.h, writers held off). Under a
          // lease: no writer came (one waiting on it already holds the file
          // open for writing, so the exec would fail with ETXTBSY: said plainly
          // instead). Without one (gx not root): its stamp unchanged. (Not the
          // stamp under a lease: a rename over the file changes the old inode's
          // ctime, not its bytes.) A script is always a sealed copy.
          const ExecImage& img = match_->image;
          if (img.writers_held() ? img.writer_came() : !img.stamp_unchanged())
            return Decision::deny(DenyReason::EnvironmentalIntegrity,
                                  "the program " + img.path() +
                                      (img.writer_came() ? " was opened for writing by another process"
                                                         : " was changed (written, replaced or its attributes)") +
                                      " after it was verified; it was not started",
                                  "exec.path", img.path());
          return Decision::allow();
        },
        [this](std::function<void()> work) {
          // The side thread that syncs the receipt answers the child's exec
          // too, right after its sync (SyncHandoff::host).
          return sync_beside_ && sync_.host(std::move(work));
        });
    // A standalone run's side thread let the child go (the answer to its
    // exec) and may now be preempted by it on its CPU, a few instructions
    // from its end: waited for once the child is reaped (docs/performance.md,
    // twenty-ninth pass) -- unless a nested-run server is to be forked from
    // a single-threaded gx. A broker worker's side may still make the
    // finished receipt's nonce, which is taken here.
    if (!pid || !sync_beside_ || channel) finish_side_work();
    if (!pid) {
      if (durable_) note_run_durable(*store_, *log_, authorized_);
      if (authorized_id_.empty()) return deny(pid.error());  // at the gate, before its receipt
      return not_started(pid.error(), info.pid, info.wait_status);
    }
    // Exec'd: the kernel now refuses writers (ETXTBSY) while it runs. A
    // writer that came between the gate and the exec was held off, unless
    // the kernel took the lease away meanwhile (lease-break-time) and the
    // file changed: then what started is not what was verified, and it is
    // stopped at once.
    if (ExecImage& img = match_->image; img.in_place()) {
      if (img.writer_came() && !img.stamp_unchanged()) {
        kill(*pid, SIGKILL);
        out_.warnings.push_back("the program " + img.path() +
                                " changed between its verification and its start: the command was killed");
      }
      img.release_writers();
    }
    // Forked before the exec guard's thread exists, and after spawn's
    // reader has ended: the server process starts from a single-threaded
    // copy of gx.
    if (channel) info.reader.reset();
    if (channel)
      if (Decision d =
              channel->start(nested_base(*pid), "run " + authorized_id_ + " (pid " + std::to_string(*pid) + ")");
          !d)
        out_.warnings.push_back("nested runs unavailable to the command: " + d.explain());
    std::optional<ExecGuard> exec_guard;
    if (info.exec_listener >= 0) exec_guard.emplace(info.exec_listener);
    // The bookkeeping of a durable receipt, once the program started and
    // gx watches it: it need not delay the exec, nor the checks above (it
    // may wait for another gx's log lock; lib/run_record.h, step 5).
    if (durable_) note_run_durable(*store_, *log_, authorized_);
    // Upkeep while the child runs, never before its exec (lib/use_store.h).
    if (store_)
      if (Decision d = store_->bound_wal(); !d) out_.warnings.push_back(d.explain());
    // The finished receipt's nonce, while the child runs, unless one is left
    // (a broker's spare made its request's two; a broker worker's side, its
    // second):
    // signing it after the child's exit then costs no scalar multiplication.
    if (log_->prepared_nonces() == 0) (void)log_->prepare_nonces(1);
    out_.child_ran = true;
    out_.decision = Decision::allow();
    out_.report.decision = out_.decision;
    auto exit = supervise_child(*pid, guard, started);
    finish_side_work();  // if not yet (above)
    if (channel)
      for (auto& note : channel->stop()) out_.warnings.push_back(note);
    DescendantCleanup cleanup = terminate_descendants(*pid);
    if (!cleanup.complete) out_.warnings.push_back("descendants of the child may survive: " + cleanup.note);
    uint64_t refused = info.exec_refused + (exec_guard ? exec_guard->stop() : 0);
    for (auto& note : limits.restore()) out_.warnings.push_back(note);
    if (!exit) {
      out_.warnings.push_back("lost track of the child: " + exit.error().explain());
      out_.exit_status = 255;
      return std::move(out_);
    }
    out_.exit_status = exit->shell_status();
    RunOutcome outcome = outcome_from_wait(*pid, exit->wait_status, exit->usage, exit->wall_us);
    outcome.descendants_killed = cleanup.killed;
    out_.report.outcome = OutcomeReport{true, outcome, static_cast<int64_t>(refused)};
    // After the fact: not synced (lib/receipt_log.h, ReceiptSync::Lazy).
    if (auto r = log_->append(make_finished(subject_, authorized_id_, outcome), ReceiptSync::Lazy); !r) {
      out_.record_failed = true;
      out_.warnings.push_back("finished receipt not written: " + r.error().explain());
    }
    // Answered before this function's descriptors and threads go.
    deliver();
    return std::move(out_);
  }

  // What every nested request on this run's channel is checked against:
  // this run's authority and state, this run as the parent (artifact and
  // authorized receipt), this artifact and its ancestors as the only
  // candidate parents (with their bounds fixed as their rulesets named
  // them), and the child's identity as the peer when the child
  // runs as someone else than gx (lib/nested_channel.h).
  RunRequest nested_base(pid_t child) const {
    RunRequest base;
    base.trust_path = req_.trust_path;
    base.revocations_path = req_.revocations_path;
    base.state_dir = req_.state_dir;
    base.receipt_key = req_.receipt_key;
    base.syslog = req_.syslog;
    base.also_protected = req_.also_protected;
    base.log = req_.log;
    base.parent_artifacts = req_.parent_artifacts;
    base.parent_artifact_bytes = req_.parent_artifact_bytes;
    if (own_bytes_) base.parent_artifact_bytes.push_back(*own_bytes_);
    // This run's bounds as its rules were built, fixed now: its children are
    // compared with these, whatever it does to its paths meanwhile.
    base.parent_bounds = req_.parent_bounds;
    base.parent_bounds[subject_.artifact_digest] = own_bounds_;
    base.parent_digest = subject_.artifact_digest;
    base.parent_receipt = authorized_id_;
    const ChildCredentials creds = credentials_.child();
    if (creds.apply) {
      PeerIdentity id;
      id.uid = creds.uid;
      id.gid = creds.gid;
      id.groups.assign(creds.groups, creds.groups + creds.group_count);
      base.peer = id;
    } else if (req_.peer) {
      base.peer = req_.peer;
    }
    if (base.peer) base.peer->pid = child;
    return base;
  }

  // A step before the clone failed: a denial while no use is reserved
  // (reserve_in_gate_), else a not-started run.
  RunResult refuse_before_start(const Decision& why) {
    return authorized_id_.empty() ? deny(why) : not_started(why, -1, -1);
  }

  // Authorized, but the program never started: a "not-started" receipt
  // linked to the authorized one, never "finished".
  RunResult not_started(const Decision& why, pid_t child, int wait_status) {
    finish_side_work(true);
    out_.decision = why;
    out_.not_started = true;
    out_.report.decision = why;
    RunOutcome o;
    if (child > 0) o.child_pid = child;
    if (wait_status >= 0) {
      struct rusage none {};
      o = outcome_from_wait(child, wait_status, none, 0);
    }
    out_.report.outcome = OutcomeReport{false, o, 0};
    if (auto r = log_->append(make_not_started(subject_, authorized_id_, why, o)); r)
      out_.report.not_started_receipt = r->id;
    else out_.warnings.push_back("not-started receipt not written: " + r.error().explain());
    return std::move(out_);
  }

  const RunRequest& req_;
  RunResult out_;
  Receipt subject_;
  HostIdentity host_;  // read once, in run()
  std::optional<ReceiptLog> own_log_;
  ReceiptLog* log_ = nullptr;  // own_log_ or the supervisor's
  Decision log_error_;
  Artifact artifact_;
  std::optional<MatchedInvocation> match_;
  std::optional<seccomp::CompiledFilter> filter_;
  std::optional<PreparedRuleset> ruleset_;
  PreparedCredentials credentials_;
  std::string authorized_id_;
  std::optional<UseStore> own_store_;     // a standalone run's; a broker worker keeps its own
  UseStore* store_ = nullptr;             // set by reserve_and_record
  AppendedReceipt authorized_;            // its receipt, durable once launch's gate opened
  bool durable_ = false;                  // make_run_durable allowed (set on spawn's gate thread, read after it)
  bool reserve_in_gate_ = false;          // reserve_and_record runs on spawn's gate thread (run)
  std::optional<std::string> own_bytes_;  // the artifact's bytes as verified
  TreeBounds own_bounds_;                 // its trees as its ruleset named them (nested_base)
  // start_side_work's results, read only after side_ is waited for; side_
  // last, so that it is waited for before anything it writes goes.
  std::optional<Result<crypto::PreparedNonce>> side_nonces_[2];
  // How many of side_'s steps are over once the log is open, the store
  // open and the first nonce made (0: not among its steps).
  size_t side_precheck_steps_ = 0, side_log_steps_ = 0, side_store_steps_ = 0, side_first_nonce_steps_ = 0;
  // This request's RulesetCache::precheck verdict (none: not made, or its
  // step failed), read after the wait for side_precheck_steps_ (or taken
  // from req_.ruleset_precheck).
  std::optional<bool> side_precheck_;
  std::optional<Result<UseStore>> side_store_;
  bool delivered_ = false;  // deliver() called req_.on_result
  // A standalone run's side syncs its authorized receipt (start_side_work).
  // Before side_: the side's last step waits on it.
  SyncHandoff sync_;
  bool sync_beside_ = false;
  std::unique_ptr<SideTask> side_;
};

}  // namespace

RunResult run_governed(const RunRequest& req) {
  Pipeline pipeline(req);
  RunResult result = pipeline.run();
  if (!pipeline.delivered() && req.on_result) req.on_result(result);
  return result;
}

}  // namespace gx
