#include "lib/revocation_set.h"

#include <string>

namespace gx {

Result<std::shared_ptr<const MemoryRevocationSet>> MemoryRevocationSet::make(std::vector<RevocationEntry> entries) {
  std::shared_ptr<MemoryRevocationSet> set(new MemoryRevocationSet());
  set->entries_ = std::move(entries);  // moved before the views are taken: they stay valid
  set->artifacts_.reserve(set->entries_.size());
  for (size_t i = 0; i < set->entries_.size(); ++i) {
    const auto& e = set->entries_[i];
    auto& views = e.kind == RevocationKind::Artifact ? set->artifacts_ : set->keys_;
    if (!views.insert(std::string_view(e.target)).second)
      return Decision::deny(DenyReason::DuplicateField, e.target + " is revoked twice",
                            "entry[" + std::to_string(i) + "]", e.target);
  }
  return std::shared_ptr<const MemoryRevocationSet>(std::move(set));
}

bool MemoryRevocationSet::contains(RevocationKind kind, std::string_view target) const {
  return (kind == RevocationKind::Artifact ? artifacts_ : keys_).contains(target);
}

std::optional<RevocationEntry> MemoryRevocationSet::find(std::string_view target) const {
  if (!artifacts_.contains(target) && !keys_.contains(target)) return std::nullopt;
  for (const auto& e : entries_)  // rare (display only): a linear scan is fine
    if (e.target == target) return e;
  return std::nullopt;
}

}  // namespace gx
