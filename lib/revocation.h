// The signed revocation list (format: man/gx-revocations.5).
//
// A TOML file, by default revocations.toml beside the trust store, split like
// an artifact: the body is every byte before the first line that is exactly
// "[[signature]]", signed verbatim as PAE(crypto::kRevocationsType, body).
//
//   version = 1
//   serial = 7                          # strictly increases with every new list
//   issued_at = "2026-11-29T21:16:50Z"
//   [[entry]]
//   artifact = "sha256:<artifact digest>"   # or: key_id = "sha256:<key id>"
//   reason = "ticket closed"
//   revoked_at = "2026-11-29T21:16:50Z"
//   [[signature]]
//   key_id = "sha256:..."  algorithm = "ecdsa-p256-sha256"  value = "..."
//
// Validity (everything else is RevocationListInvalid: fail closed, every run
// is denied until a valid list is in place):
//   - verify_quorum() (lib/envelope.h), the rule artifacts use: the
//     signatures of at least trust.threshold distinct keys verify, each
//     key in the trust store, not revoked there, inside its validity window
//     at `now` widened by the trust store's skew_seconds
//     (TrustedKey::usable_at), and not revoked by an entry of this same list. The threshold
//     applies because a list can also *un*-revoke (by omitting an entry):
//     it is as powerful as an approval and needs the same quorum. A
//     signature by a trusted key that does not verify invalidates the list;
//     signatures by unknown keys are ignored (they count for nothing).
//   - signatures are checked on the exact body bytes before the body is parsed;
//   - the body parses strictly (unknown/duplicate keys, a target revoked
//     twice, bad digests, wrong types all deny);
//   - the file (symlinks resolved) is a regular file and passes
//     fs::check_strict_modes: it and every directory above it are owned by
//     root or the caller and not writable by group or others (for a missing
//     list: its directory). A FIFO in its place is refused, never waited on.
//   - rollback: <state>/revocations.serial records, PER LIST, the highest
//     serial seen and its body digest, keyed by revocation_list_key(path)
//     (the list's path with its directory resolved). A lower serial, or the
//     same serial with another body, is invalid. The record is written
//     (atomically, under a lock, never lowered) only AFTER the list was
//     fully validated. Lists at other paths (other trust stores sharing the
//     state directory) are not affected by it.
//   - a missing file means "nothing revoked" until a serial has been seen
//     for that path; after that a missing file is a rollback (deletion) and
//     is invalid.
//
// Verified index (docs/replay.md, "Verified index"): after a full load the
// entries are cached in <state>/revocations.db (lib/revocation_index.h), and
// later loads of the same file bytes are served from it without parsing:
// a run then costs a stat, a read of the signature block, a re-check of the
// signers against the current trust store and `now`, and B-tree lookups,
// independent of the list size. The index is used only when ALL hold:
//   - the rollback record names exactly the index's serial and body digest;
//   - the file is the one the index was built from: same (dev, inode, size,
//     mtime, ctime) and the same signature block bytes at the same offset,
//     or else its SHA-256 equals the index's file digest (then re-stamped);
//   - every signature by a key that is trusted and usable now was verified
//     when the index was built, and they still make the quorum.
// Anything else (no index, a corrupt one, a changed file, a changed trust
// store) takes the full verified load above, which rebuilds the index only
// after the list was validated and its serial recorded. A lookup that fails
// to read the index answers "revoked" (fail closed). A list served from the
// index must not be consulted from several threads at once.
//
// Lookups: O(1) hash sets after a full load, B-tree lookups from the index
// (the two RevocationSet implementations, lib/revocation_set.h). A full load
// is O(n): a list of 1,000,000 entries is ~150 MB of TOML, read by the
// canonical reader (lib/revocation_body.h; see docs/performance.md).
//
// Files: this one (the list value, verify, check, successor),
// revocation_load.cc (load: full or from the index), revocation_body (the
// body's value, rendering and reading), revocation_set (lookups),
// revocation_record (the rollback record), revoke (gx revoke's transaction).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lib/artifact.h"
#include "lib/crypto.h"
#include "lib/decision.h"
#include "lib/envelope.h"
#include "lib/revocation_body.h"
#include "lib/revocation_record.h"
#include "lib/revocation_set.h"
#include "lib/trust_store.h"

namespace gx {

// A value: copies share the (immutable) lookup set.
class RevocationList {
 public:
  // The list in force when no file exists and no serial was ever seen.
  RevocationList() = default;

  // Reads, verifies, rollback-checks `path` and then records its serial in
  // state_dir, or serves the same list from the verified index (see the
  // header comment). Errors: RevocationListInvalid, or StateUnavailable when
  // the rollback record cannot be read or written. Never fails because of
  // the index: an unusable index means a full load. (revocation_load.cc)
  static Result<RevocationList> load(const std::string& path, const TrustStore& trust, const std::string& state_dir,
                                     UnixTime now);
  // Splits and strictly parses file bytes WITHOUT verifying anything
  // (display, tests, building a successor after load()). Errors are
  // RevocationListInvalid with the underlying cause in the detail.
  static Result<RevocationList> parse_unverified(std::string_view file_bytes, const std::string& origin);
  // Signature and threshold check against the trust store (no state involved).
  // For a list served from the index: against the signers verified when the
  // index was built; a signature that was not checked then denies.
  // With `verified_signers`: also the ids of every key whose signature
  // verified (what the index records; not for a list from the index).
  Decision verify(const TrustStore& trust, UnixTime now, std::vector<std::string>* verified_signers = nullptr) const;

  // Revoked when the artifact is listed, or when signer_key_ids is not empty
  // and every one of them is revoked ("the only trusted signatures come
  // from revoked keys"). The verifier additionally drops signatures whose
  // key_revoked() is true before counting its threshold.
  Decision check(const std::string& artifact_digest, const std::vector<std::string>& signer_key_ids) const;
  bool artifact_revoked(std::string_view artifact_digest) const;
  bool key_revoked(std::string_view key_id) const;
  // The entry revoking `target` (artifact digest or key id), or nullopt
  // (also when the index cannot be read).
  std::optional<RevocationEntry> find(std::string_view target) const;

  // The next list: these entries plus `added`, serial + 1, issued_at = now,
  // body rendered, unsigned. Usage error if `added` repeats a target;
  // StateUnavailable if the entries cannot be read back from the index.
  Result<RevocationList> successor(const std::vector<RevocationEntry>& added, UnixTime now) const;
  // Appends a signature by `key` over this list's body.
  Decision add_signature(const crypto::PrivateKey& key);
  // Body followed by the [[signature]] tables: the bytes to write to disk.
  // Not for a list served from the index (it does not keep the body).
  std::string file_text() const;

  int version() const { return version_; }
  uint64_t serial() const { return serial_; }  // 0: no list file (nothing revoked)
  UnixTime issued_at() const { return issued_at_; }
  // Every entry in list order (from the index: a full scan); empty if the
  // index cannot be read — code that writes a new list must use
  // successor(), which reports it.
  std::vector<RevocationEntry> entries() const;
  const std::string& body() const { return body_; }  // empty when served from the index
  const std::vector<Signature>& signatures() const { return signatures_; }
  std::string digest() const;                      // "sha256:" + SHA-256(body)
  bool from_index() const { return from_index_; }  // served from <state>/revocations.db

 private:
  friend class RevocationLoader;  // revocation_load.cc builds lists from files and the index

  // A list over a parsed body. `body_digest` may be empty (then computed).
  static Result<RevocationList> from_body(RevocationBody parsed, std::string body, std::string body_digest,
                                          std::vector<Signature> sigs);
  Decision verify_as(const TrustStore& trust, UnixTime now, const std::string& origin) const;
  // verify_quorum() (lib/envelope.h) over a list body, its failure worded as
  // a list error; the ids of the keys that make the quorum.
  static Result<std::set<std::string>> quorum_signers(std::string_view body, const std::vector<Signature>& sigs,
                                                      const TrustStore& trust, UnixTime now, const std::string& origin,
                                                      const QuorumOptions& opts,
                                                      std::vector<std::string>* verified = nullptr);

  int version_ = kRevocationsVersionCurrent;
  uint64_t serial_ = 0;
  UnixTime issued_at_ = 0;
  std::shared_ptr<const RevocationSet> set_;  // null: nothing revoked (no list)
  bool from_index_ = false;
  std::vector<std::string> index_signers_;  // public-key ids verified when the index was built
  std::string body_;                        // empty when served from the index
  std::string body_digest_;                 // "sha256:<hex>"; empty: compute from body_
  std::vector<Signature> signatures_;
};

// gx revoke's shortcut past the first cold load: after `list` (verified
// with verify(..., &verified_signers)) was written to `path` as its
// file_text() and its serial recorded, builds <state>/revocations.db for it
// exactly as a full load would have (same rules: only while the rollback
// record names this list). Best effort: failing costs one full load later.
// The file was just written, so its stamp is "racy" and not recorded: the
// first run re-hashes the file (docs/performance.md) and records it.
Decision index_written_revocation_list(const std::string& path, const RevocationList& list,
                                       const std::vector<std::string>& verified_signers, const std::string& state_dir);

// "revocation list <origin>: <cause>" as RevocationListInvalid, keeping the
// cause's field and value.
Decision revocation_list_invalid(const std::string& origin, const Decision& cause);
Decision revocation_list_invalid(const std::string& origin, const std::string& detail);

}  // namespace gx
