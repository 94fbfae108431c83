#include "lib/revocation_set.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

namespace gx {
namespace {

int compare_key(const RevocationKey& k, uint8_t kind, const crypto::Digest& digest) {
  int c = std::memcmp(k.digest.data(), digest.data(), digest.size());
  if (c != 0) return c;
  return static_cast<int>(k.kind) - static_cast<int>(kind);
}

}  // namespace

Result<std::shared_ptr<const MemoryRevocationSet>> MemoryRevocationSet::make(std::vector<RevocationEntry> entries) {
  if (entries.size() > std::numeric_limits<uint32_t>::max())
    return Decision::deny(DenyReason::InvalidValue, "too many revocation entries", "revocations");
  std::shared_ptr<MemoryRevocationSet> set(new MemoryRevocationSet());
  set->entries_ = std::move(entries);
  auto& keys = set->keys_;
  keys.resize(set->entries_.size());
  for (size_t i = 0; i < set->entries_.size(); ++i) {
    const auto& e = set->entries_[i];
    auto d = crypto::parse_sha256_ref(e.target);
    if (!d)
      return Decision::deny(DenyReason::InvalidValue, "target must be sha256:<64 hex digits>",
                            "entry[" + std::to_string(i) + "]", e.target);
    keys[i] = RevocationKey{*d, revocation_kind_code(e.kind), static_cast<uint32_t>(i)};
  }
  // List order breaks ties, so the second of equal keys is its first repeat.
  std::sort(keys.begin(), keys.end(), [](const RevocationKey& a, const RevocationKey& b) {
    int c = compare_key(a, b.kind, b.digest);
    return c != 0 ? c < 0 : a.ord < b.ord;
  });
  uint32_t first_repeat = std::numeric_limits<uint32_t>::max();
  for (size_t i = 1; i < keys.size(); ++i)
    if (compare_key(keys[i], keys[i - 1].kind, keys[i - 1].digest) == 0)
      first_repeat = std::min(first_repeat, keys[i].ord);
  if (first_repeat != std::numeric_limits<uint32_t>::max()) {
    const std::string& target = set->entries_[first_repeat].target;
    return Decision::deny(DenyReason::DuplicateField, target + " is revoked twice",
                          "entry[" + std::to_string(first_repeat) + "]", target);
  }
  return std::shared_ptr<const MemoryRevocationSet>(std::move(set));
}

const RevocationKey* MemoryRevocationSet::lookup(uint8_t kind, const crypto::Digest& digest) const {
  auto it = std::lower_bound(keys_.begin(), keys_.end(), 0,
                             [&](const RevocationKey& k, int) { return compare_key(k, kind, digest) < 0; });
  return it != keys_.end() && compare_key(*it, kind, digest) == 0 ? &*it : nullptr;
}

bool MemoryRevocationSet::contains(RevocationKind kind, std::string_view target) const {
  auto d = crypto::parse_sha256_ref(target);
  return d && lookup(revocation_kind_code(kind), *d) != nullptr;  // nothing else can be listed
}

std::optional<RevocationEntry> MemoryRevocationSet::find(std::string_view target) const {
  auto d = crypto::parse_sha256_ref(target);
  if (!d) return std::nullopt;
  const RevocationKey* a = lookup(revocation_kind_code(RevocationKind::Artifact), *d);
  const RevocationKey* k = lookup(revocation_kind_code(RevocationKind::Key), *d);
  const RevocationKey* first = a == nullptr ? k : k == nullptr ? a : (a->ord < k->ord ? a : k);
  if (first == nullptr) return std::nullopt;
  return entries_[first->ord];
}

}  // namespace gx
