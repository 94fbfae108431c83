// RulesetCache: a broker worker's last Landlock ruleset, reused by its next
// request with the same inputs when nothing it was built on has changed.
// Building one resolves, names and places every grant and protected path and
// reads the mount table: ~190 system calls, ~0.5 ms of a brokered run on the
// 2-vCPU guest of docs/performance.md (twenty-second pass).
//
// Reused only when ALL of these hold (anything else builds afresh, exactly
// as prepare_ruleset does without a cache; nothing is ever refused for the
// cache's sake):
//   * the inputs are the same: every field of the SandboxPolicy
//     (sandbox_policy_key), the protected paths, the implicit execute and
//     read grants, all as given;
//   * the build was reusable (RulesetWitness::not_reusable: no grant
//     expanded around protected paths, every grant held, every protected
//     path placed, the mount table read);
//   * every path the build resolved reaches the same file again (device,
//     inode, type, mount) under the name the build gave it; a protected
//     path not there yet is still not there; an optional read path skipped
//     as absent is still absent; and /proc/self/mountinfo reads the same
//     text as the build parsed (witness_holds, lib/landlock.h). The text,
//     not a mount event: renaming a directory above a mount point moves
//     that mount and raises none (review helper-58);
//   * the kept ruleset descriptor is still the one made (kcmp against a
//     second descriptor of it; no kcmp: never reused);
//   * this is the process that built it (a fork of the worker, such as the
//     nested-run server, never uses it).
// Under those, prepare_ruleset would make the same checks on the same names
// and positions and put the same rules on the same inodes: the kept ruleset
// is that ruleset. Its Enforcement and GrantNames are returned with it, the
// Enforcement's notes saying so (kRulesetReusedNote: a run's report shows
// where its ruleset came from).
// Security: what is not seen is what prepare_ruleset does not see either (a
// change after the checks, while the child runs). The paths are checked for
// every request: in a broker worker as soon as its request's frame is read
// (precheck(), on another CPU: RulesetPrecheck; paths through /proc or
// /dev/fd just before its ruleset is handed out), elsewhere all of them
// then. So a worker's window between the check and the exec is longer than a
// fresh build's by the rest of the request's reading, the kept state's
// refresh, its verification and matching, which changes what a race must
// hit, not what is checked. A ruleset stays
// writable through any descriptor of it: nothing may add rules to a
// prepared ruleset (only prepare_ruleset calls landlock_add_rule), or every
// later request would get them.
//
// Descriptors: two of the kept ruleset (kept_fds()), which the worker's
// reuse check expects beside its baseline (ProcessBaseline::differs). One
// ruleset is kept: the last one built. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/fd.h"
#include "lib/landlock.h"
#include "lib/side_task.h"

namespace gx {

inline constexpr const char* kRulesetReusedNote =
    "the ruleset was the broker worker's last one, reused after every path it was built on and the mount table "
    "were checked again (lib/ruleset_cache.h)";

class RulesetCache {
 public:
  RulesetCache();
  RulesetCache(const RulesetCache&) = delete;
  RulesetCache& operator=(const RulesetCache&) = delete;

  // prepare_ruleset(policy, protect, implicit_exec, implicit_read), or the
  // kept ruleset (a new descriptor of it) when the rules above allow.
  // `rest_holds`: this request's precheck() verdict, if it made one; then
  // only the entries it left out are checked here (WitnessPart::ThisProcess).
  Result<PreparedRuleset> prepare(const SandboxPolicy& policy, const ProtectedPaths& protect,
                                  const std::vector<std::string>& implicit_exec,
                                  const std::vector<std::string>& implicit_read,
                                  std::optional<bool> rest_holds = std::nullopt);

  // The kept ruleset's witness checked now, all but the entries reached
  // through /proc or /dev/fd (WitnessPart::Rest: those may name the
  // request's own descriptors, such as its in-place executable, which it
  // opens later), for the same request's prepare() to take (rest_holds).
  // nullopt: nothing kept, or not the process that built it. The verdict
  // is the caller's to hold and hand to that one prepare(): the cache keeps
  // nothing of it, so no verdict can reach another request (a denied one
  // leaves its verdict with itself). A broker worker runs it on its side
  // thread (RulesetPrecheck) while it reads and verifies the request.
  // Thread-safety: reads the kept ruleset only; may run on another thread
  // while the owner calls nothing of this cache, the owner's next call
  // ordered after it by a join (SideTask::wait_for). Security: the paths are
  // then checked as the request's frame is read, not where its ruleset is
  // handed out: a change during the rest of its reading, verification and
  // matching (the latter may hash or copy the executable) is missed, as a
  // change after the check always was.
  std::optional<bool> precheck() const;

  // The kept ruleset's descriptors (none when nothing is kept).
  std::vector<int> kept_fds() const;

  struct Counts {
    uint64_t reused = 0, built = 0, prechecked = 0;  // prechecked: reuses on a precheck() verdict
  };
  const Counts& counts() const { return counts_; }

 private:
  struct Kept {
    std::string key;
    fs::UniqueFd ruleset, twin;  // twin: kcmp's other end
    uint32_t restrict_flags = 0;
    Enforcement enforcement;
    GrantNames names;
    RulesetWitness witness;
  };

  pid_t owner_;
  std::optional<Kept> kept_;
  Counts counts_;
};

// One request's precheck(), made on another CPU (lib/side_task.h) from the
// moment a broker worker has read the request's frame, beside the rest of
// its reading, the refresh of its kept state and the artifact's
// verification (broker.cc; run_pipeline.cc takes the verdict before
// matching opens anything, since the check's own descriptors, open for a
// moment, would shift the number the executable's descriptor gets, which
// the ruleset's key names). The cache must not be used otherwise until
// take() (or the destructor) returned. The verdict stays with the request
// it was started for: RunRequest holds it, and only that request's
// prepare() gets it.
class RulesetPrecheck {
 public:
  // Null when nothing is kept or no thread could be made: the pipeline then
  // checks as it would have. (In a process that did not build the kept
  // ruleset the verdict is nullopt, as precheck() says.)
  static std::shared_ptr<RulesetPrecheck> start(const RulesetCache& cache);
  ~RulesetPrecheck();
  RulesetPrecheck(const RulesetPrecheck&) = delete;
  RulesetPrecheck& operator=(const RulesetPrecheck&) = delete;
  // Waits for the check; its verdict the first time (nullopt after, and
  // when the check could not be made).
  std::optional<bool> take();

 private:
  RulesetPrecheck() = default;
  std::optional<bool> verdict_;  // written by the side thread, read after its join
  std::unique_ptr<SideTask> task_;
};

}  // namespace gx
