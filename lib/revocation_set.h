// The entries of a verified revocation list, as lookups: one interface, two
// implementations —
//   MemoryRevocationSet  the entries in memory with hash sets (after a full
//                        load, or a list being built by gx revoke);
//   RevocationIndex      the same entries in <state>/revocations.db
//                        (lib/revocation_index.h), read on demand.
// Both are immutable once made, so a RevocationList and its copies share
// one (lib/revocation.h). Neither verifies anything: they hold what the
// loader already validated.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "lib/decision.h"
#include "lib/revocation_body.h"

namespace gx {

class RevocationSet {
 public:
  virtual ~RevocationSet() = default;
  // Is `target` revoked as this kind? Fail closed: a read error answers true.
  virtual bool contains(RevocationKind kind, std::string_view target) const = 0;
  // The first entry, in list order, revoking `target` (either kind); nullopt
  // when there is none — or when the index cannot be read (check() then
  // still says "revoked", from contains(), without the entry's details).
  virtual std::optional<RevocationEntry> find(std::string_view target) const = 0;
  // Every entry, in list order. StateUnavailable when the index cannot be read.
  virtual Result<std::vector<RevocationEntry>> entries() const = 0;
};

class MemoryRevocationSet final : public RevocationSet {
 public:
  // DuplicateField ("<target> is revoked twice", field entry[i]) when a
  // target appears twice with the same kind.
  static Result<std::shared_ptr<const MemoryRevocationSet>> make(std::vector<RevocationEntry> entries);
  MemoryRevocationSet(const MemoryRevocationSet&) = delete;
  MemoryRevocationSet& operator=(const MemoryRevocationSet&) = delete;

  bool contains(RevocationKind kind, std::string_view target) const override;
  std::optional<RevocationEntry> find(std::string_view target) const override;
  Result<std::vector<RevocationEntry>> entries() const override { return entries_; }
  // The entries without a copy (building the index from a fresh load).
  const std::vector<RevocationEntry>& all() const { return entries_; }

 private:
  MemoryRevocationSet() = default;
  std::vector<RevocationEntry> entries_;
  std::unordered_set<std::string_view> artifacts_;  // views into entries_[i].target
  std::unordered_set<std::string_view> keys_;
};

}  // namespace gx
