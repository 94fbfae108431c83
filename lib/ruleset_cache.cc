#include "lib/ruleset_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "lib/filter_cache.h"

namespace gx {

namespace {

// Length-prefixed, so that no two different input lists give one key.
void add_keyed(std::string& key, const std::string& item) {
  key += std::to_string(item.size());
  key += ':';
  key += item;
}
void add_keyed(std::string& key, const std::vector<std::string>& items) {
  key += std::to_string(items.size());
  key += '[';
  for (const auto& i : items) add_keyed(key, i);
}

std::string ruleset_key(const SandboxPolicy& policy, const ProtectedPaths& protect,
                        const std::vector<std::string>& implicit_exec, const std::vector<std::string>& implicit_read) {
  std::string key;
  add_keyed(key, sandbox_policy_key(policy));
  for (const auto* list : {&protect.no_write, &protect.no_access, &protect.no_rename, &implicit_exec, &implicit_read})
    add_keyed(key, *list);
  return key;
}

}  // namespace

RulesetCache::RulesetCache() : owner_(getpid()) {}

Result<PreparedRuleset> RulesetCache::prepare(const SandboxPolicy& policy, const ProtectedPaths& protect,
                                              const std::vector<std::string>& implicit_exec,
                                              const std::vector<std::string>& implicit_read,
                                              std::optional<bool> rest_holds) {
  if (getpid() != owner_) {
    ++counts_.built;
    return prepare_ruleset(policy, protect, implicit_exec, implicit_read);
  }
  std::string key = ruleset_key(policy, protect, implicit_exec, implicit_read);
  if (kept_ && kept_->key == key && fs::same_description(kept_->ruleset.get(), kept_->twin.get()) == 0 &&
      (rest_holds ? *rest_holds && witness_holds(kept_->witness, WitnessPart::ThisProcess)
                  : witness_holds(kept_->witness))) {
    int fd = fcntl(kept_->ruleset.get(), F_DUPFD_CLOEXEC, 3);
    if (fd >= 0) {
      ++counts_.reused;
      if (rest_holds) ++counts_.prechecked;
      Enforcement e = kept_->enforcement;
      e.notes.push_back(kRulesetReusedNote);
      return PreparedRuleset(fd, kept_->restrict_flags, std::move(e), kept_->names);
    }
  }
  kept_.reset();
  ++counts_.built;
  RulesetWitness witness;
  auto built = prepare_ruleset(policy, protect, implicit_exec, implicit_read, &witness);
  if (!built || !witness.not_reusable.empty()) return built;
  Kept k;
  k.key = std::move(key);
  k.ruleset = fs::UniqueFd(fcntl(built->fd(), F_DUPFD_CLOEXEC, 3));
  k.twin = fs::UniqueFd(fcntl(built->fd(), F_DUPFD_CLOEXEC, 3));
  // Kept only where kcmp can later tell it is still this ruleset.
  if (!k.ruleset.ok() || !k.twin.ok() || fs::same_description(k.ruleset.get(), k.twin.get()) != 0) return built;
  k.restrict_flags = built->restrict_flags();
  k.enforcement = built->enforcement();
  k.names = built->names();
  k.witness = std::move(witness);
  kept_.emplace(std::move(k));
  return built;
}

std::optional<bool> RulesetCache::precheck() const {
  if (getpid() != owner_ || !kept_) return std::nullopt;
  return witness_holds(kept_->witness, WitnessPart::Rest);
}

std::shared_ptr<RulesetPrecheck> RulesetPrecheck::start(const RulesetCache& cache) {
  if (cache.kept_fds().empty()) return nullptr;
  std::shared_ptr<RulesetPrecheck> p(new RulesetPrecheck());
  RulesetPrecheck* self = p.get();
  p->task_ = SideTask::start({[self, &cache] { self->verdict_ = cache.precheck(); }});
  if (!p->task_) return nullptr;
  return p;
}

RulesetPrecheck::~RulesetPrecheck() {
  // The step writes verdict_: joined before it goes (task_ is declared
  // after it, so it would be destroyed first anyway; said here).
  if (task_) task_->wait();
}

std::optional<bool> RulesetPrecheck::take() {
  if (!task_) return std::nullopt;
  task_->wait();
  task_.reset();
  return std::exchange(verdict_, std::nullopt);
}

std::vector<int> RulesetCache::kept_fds() const {
  if (!kept_) return {};
  return {kept_->ruleset.get(), kept_->twin.get()};
}

}  // namespace gx
