// gx run, as one pipeline through the library. Each step is owned by one
// module and returns a Decision; the first denial ends the request:
//
//   load trust + revocations (trust_store, revocation)
//   -> verify artifact            (verify)
//      (a child artifact: its whole chain against parent_artifacts, lineage)
//   -> match invocation           (invocation: path, argv, cwd, env, digest)
//   -> plan the sandbox           (landlock + seccomp, prepared in the parent;
//                                  a child artifact's grants, by the names
//                                  its rules went on, inside its parent's
//                                  bounds: attenuation)
//   -> reserve one use            (use_store, durable before exec)
//   -> "authorized" receipt       (receipt_log, fsync'd before exec)
//   -> confine + execveat         (confine: no_new_privs, Landlock, exec
//                                  guard when exec = [], seccomp)
//   -> wait, forwarding signals   (supervise; gx is the tree's subreaper)
//   -> terminate what is left of the child's tree (supervise)
//   -> "finished" receipt         (gx's own limits restored first)
//
// After the authorized receipt, a program that never started (a confinement
// step failed, or the child died before its exec completed) leaves a
// "not-started" receipt instead of "finished" (RunResult::not_started).
//
// Every denial after the receipt log could be opened leaves a "denied"
// receipt. --dry-run stops after planning: it consumes no use, writes no
// receipt and runs nothing.
#pragma once

#include <sys/types.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/attenuation.h"
#include "lib/confine.h"
#include "lib/decision.h"
#include "lib/landlock_paths.h"
#include "lib/run_report.h"

namespace gx {

struct TrustStore;
class RevocationList;
class ReceiptLog;
class SignatureCache;
class UseStore;
class RulesetCache;
class RulesetPrecheck;
struct FilterMemo;
class ArtifactParseMemo;

// Formerly set by gx for its child and trusted by a nested gx: forgeable,
// so never read now, and stripped with GX_PARENT_RECEIPT from every child's
// environment. Lineage is proven (lib/lineage.h), not claimed.
inline constexpr std::string_view kParentArtifactEnv = "GX_PARENT_ARTIFACT";

// Who asked for a brokered run, as the kernel reported it (SO_PEERCRED on
// the broker's socket), never as the caller said (lib/broker).
struct PeerIdentity {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
};

// State a long-lived supervisor (the broker's worker, lib/broker_state.h)
// has already opened, used instead of opening it from trust_path,
// revocations_path, state_dir and receipt_key (which still name them in
// messages and in the sandbox's protected paths). The supervisor vouches
// that each is current for this request: the revocation list verified
// against this trust store at the request's time, the receipt log and use
// store on state_dir. A --dry-run reads through it (trust, revocations, the
// caches, the use store's count) and writes no receipt and reserves no use,
// exactly as without it.
struct PreloadedState {
  const TrustStore* trust = nullptr;
  const RevocationList* revocations = nullptr;
  ReceiptLog* receipt_log = nullptr;
  const SignatureCache* signature_cache = nullptr;
  UseStore* use_store = nullptr;
  RulesetCache* rulesets = nullptr;        // optional: the worker's last ruleset (lib/ruleset_cache.h)
  FilterMemo* filters = nullptr;           // optional: the worker's last seccomp filter (lib/filter_cache.h)
  ArtifactParseMemo* artifacts = nullptr;  // optional: the worker's last parsed artifacts (lib/artifact.h)
};

struct RunResult;

struct RunRequest {
  std::string artifact_path;
  // A brokered run: the artifact's bytes as the client sent them (then
  // artifact_path only names it in messages). Unset: read artifact_path.
  std::optional<std::string> artifact_bytes;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // the caller's environment, NAME=VALUE
  std::string cwd;
  std::string trust_path;
  std::string revocations_path;
  std::string state_dir;
  std::string receipt_key;  // empty: <state>/receipt.key
  // The signals the caller ignores and blocks, passed on to the command
  // (lib/confine.h); a brokered or nested run's come with its request.
  InheritedSignals inherited_signals;
  bool dry_run = false;
  bool syslog = false;
  // Brokered runs only: who asked. Unset for a local `gx run` (the caller is
  // gx's own process). When set, uid bindings are checked against peer->uid
  // (not gx's own uid) and the receipts record it (brokered, peer_*).
  std::optional<PeerIdentity> peer;
  // The command's stdin, stdout, stderr (a brokered run: the client's,
  // received over SCM_RIGHTS); -1 = gx's own 0, 1, 2. Owned by the caller of
  // run_governed, which closes them afterwards.
  std::array<int, 3> stdio{-1, -1, -1};
  // Lineage (lib/lineage.h): artifact files or directories that may hold the
  // ancestors of a child artifact (gx run --parent). A child artifact runs
  // only when its chain verifies against these; never from the environment.
  std::vector<std::string> parent_artifacts;
  // Set ONLY by a supervisor that owns the enclosing run (nested-run
  // channel, broker): that run's authorized receipt id, written as the
  // receipt's parent. The artifact must then name a parent (its chain
  // verified), else lineage-inconsistency.
  std::string parent_receipt;
  // Further paths no governed child may write, beside gx's own files
  // (authority.h own_files): the broker's configuration file and socket
  // (broker_config.h broker_own_paths). A grant that reaches any of them is
  // refused before anything runs, like a grant over the state directory;
  // a write grant over a link on the way to them is expanded around it.
  ProtectedPaths also_protected;
  // Set only by a supervisor that keeps its state open (see PreloadedState).
  PreloadedState* preloaded = nullptr;
  // Set only by a broker worker, with `preloaded`: its kept ruleset's
  // check for this request, started when the request's frame was read
  // (lib/ruleset_cache.h, RulesetPrecheck). Authorization takes its verdict
  // before matching instead of starting a check of its own.
  std::shared_ptr<RulesetPrecheck> ruleset_precheck;
  // Set ONLY by the supervisor of a nested run (lib/nested_channel.h), with
  // parent_receipt: the digest of the artifact of the run that owns the
  // channel. The request's artifact must name exactly this digest as its
  // parent (the owning run is the parent, never an ancestor further up).
  std::string parent_digest;
  // Ancestors a supervisor hands in as bytes (the owning run's artifact and
  // its own ancestors); looked up by digest like parent_artifacts.
  std::vector<std::string> parent_artifact_bytes;
  // Set ONLY by the supervisor of a nested run, with parent_digest: for the
  // run that owns the channel and each running ancestor above it, by
  // artifact digest, its bounds as fixed when it started (the names its own
  // ruleset was built on, lib/attenuation.h bounds_of_run). A link whose
  // parent is here is checked against these, never against the parent's
  // path strings resolved again; the request's own rules then are too
  // (check_grants_within).
  std::map<std::string, TreeBounds> parent_bounds;
  // Where the supervisor of nested runs sends its log lines (one per event
  // on the channel: refusals, malformed input, denials). lib/ never prints:
  // cmd/run.cc writes them to stderr, the broker to its log. Empty: dropped.
  std::function<void(const std::string&)> log;
  // Set by a supervisor whose requester can go away (broker_request.h):
  // true once it has. Asked just before the program may exec: a run whose
  // client is gone is not started (io-error; a use was spent, its
  // not-started receipt says why). Called from another thread of gx.
  std::function<bool()> client_gone;
  // Set by a supervisor that answers someone (broker_request.h): called once,
  // on the calling thread, with the run's final result -- its receipts
  // written, the child and its descendants gone, gx's own limits restored
  // -- before the run's own resources (descriptors, the exec guard's and
  // side work's threads, temporaries) are released, so that whoever waits
  // for the answer does not wait for that teardown too. What it changes in
  // the result is what run_governed returns (unless the pipeline throws:
  // then neither it nor the return happens). Unset: run_governed just
  // returns the result.
  std::function<void(RunResult&)> on_result;
};

struct RunResult {
  Decision decision;  // allow when the child was started; else why not
  RunReport report;   // decision, artifact, sandbox, receipts, outcome (lib/run_report.h)
  bool child_ran = false;
  int exit_status = 0;  // the child's, shell style (code or 128+signal)
  // Authorized (a use spent, an authorized receipt written), but the program
  // never started: `decision` says why; a "not-started" receipt was written.
  bool not_started = false;
  // The child ran but its finished receipt could not be written: the run
  // has no complete record, which is a failure of the run (gx exits 125).
  bool record_failed = false;
  std::vector<std::string> warnings;  // e.g. a receipt that could not be written
};

// The pipeline above, one request; calls req.on_result (when set) with the
// result before it tears the run down, then returns that result.
RunResult run_governed(const RunRequest& req);

}  // namespace gx
