// The entries of a verified revocation list, as lookups: one interface, two
// implementations —
//   MemoryRevocationSet  the entries in memory, sorted keys (after a full
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
#include <vector>

#include "lib/crypto.h"
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

// Every RevocationEntry target is "sha256:<64 hex>" (revocation_body.h), so
// the sets key entries by the 32 bytes it names. Ordered as SQLite orders
// the index's primary key (digest as a BLOB, memcmp; then kind): the index
// is written in this order (lib/revocation_index.h).
struct RevocationKey {
  crypto::Digest digest{};
  uint8_t kind = 0;  // revocation_kind_code
  uint32_t ord = 0;  // the entry's position in list order
};
inline uint8_t revocation_kind_code(RevocationKind k) { return k == RevocationKind::Artifact ? 0 : 1; }

class MemoryRevocationSet final : public RevocationSet {
 public:
  // InvalidValue when a target is not "sha256:<64 lowercase hex>";
  // DuplicateField ("<target> is revoked twice", field entry[i], i the
  // first repeat in list order) when a target appears twice with one kind.
  static Result<std::shared_ptr<const MemoryRevocationSet>> make(std::vector<RevocationEntry> entries);
  MemoryRevocationSet(const MemoryRevocationSet&) = delete;
  MemoryRevocationSet& operator=(const MemoryRevocationSet&) = delete;

  bool contains(RevocationKind kind, std::string_view target) const override;
  std::optional<RevocationEntry> find(std::string_view target) const override;
  Result<std::vector<RevocationEntry>> entries() const override { return entries_; }
  // The entries without a copy (building the index from a fresh load).
  const std::vector<RevocationEntry>& all() const { return entries_; }
  // One key per entry, sorted by (digest, kind): binary search, and the
  // index's insertion order.
  const std::vector<RevocationKey>& keys() const { return keys_; }

 private:
  MemoryRevocationSet() = default;
  // The key of (kind, digest), or nullptr.
  const RevocationKey* lookup(uint8_t kind, const crypto::Digest& digest) const;
  std::vector<RevocationEntry> entries_;
  std::vector<RevocationKey> keys_;
};

}  // namespace gx
