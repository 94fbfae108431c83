#include "lib/revoke.h"

#include <algorithm>

#include "lib/fsutil.h"

namespace gx {

Result<RevokeResult> add_revocation(const std::string& list_path, const TrustStore& trust, const std::string& state_dir,
                                    const std::vector<crypto::PrivateKey>& keys, const RevocationEntry& entry,
                                    UnixTime now) {
  // The signing keys must be able to make the list valid: say which one cannot.
  std::vector<const crypto::PrivateKey*> signers;
  std::vector<std::string> ids;
  for (const auto& key : keys) {
    std::string id = key.public_key().key_id();
    const TrustedKey* tk = trust.find(id);
    if (!tk) return Decision::deny(DenyReason::Usage, "signing key " + id + " is not in the trust store", "key", id);
    if (Decision d = tk->usable_at(now, trust.skew_seconds); !d) {
      d.reason = DenyReason::Usage;
      d.detail = "signing " + d.detail;
      return d;
    }
    if (entry.kind == RevocationKind::Key && id == entry.target)
      return Decision::deny(DenyReason::Usage,
                            "cannot sign with the key being revoked: sign with another trusted key, or mark it "
                            "revoked in the trust store",
                            "key", id);
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) continue;  // same key twice counts once
    ids.push_back(id);
    signers.push_back(&key);
  }
  if (signers.empty()) return Decision::deny(DenyReason::Usage, "no signing key: the new list must be signed");

  std::string dir = fs::dirname(fs::absolute(list_path));
  if (Decision d = fs::make_dirs(dir, 0755); !d) return d;
  // Held for the whole read -> bump -> write: concurrent revokes serialise.
  auto lock = fs::FileLock::lock_directory(dir, DenyReason::IoError, "dir");
  if (!lock) return lock.error();

  auto current = RevocationList::load(list_path, trust, state_dir, now);
  if (!current) return current.error();
  if (current->find(entry.target)) return RevokeResult{current.take(), true};
  auto next = current->successor({entry}, now);
  if (!next) return next.error();
  for (const auto* k : signers)
    if (Decision d = next->add_signature(*k); !d) return d;
  // Check our own output exactly as every gx run will, before replacing the file.
  std::vector<std::string> verified;
  if (Decision d = next->verify(trust, now, &verified); !d) {
    d.reason = DenyReason::Usage;  // the signing keys chosen cannot make a valid list
    d.detail = "the new list would not be valid: " + d.detail;
    return d;
  }
  if (Decision d = fs::write_file_atomic(list_path, next->file_text(), 0644, fs::Overwrite::Yes); !d) return d;
  // Raise the rollback record now, so the previous list is refused at once.
  if (Decision d = record_revocations_serial(state_dir, list_path, next->serial(), next->digest()); !d) return d;
  // Index it now, so the first run after a revoke does not pay the full load.
  (void)index_written_revocation_list(list_path, *next, verified, state_dir);
  return RevokeResult{next.take(), false};
}

}  // namespace gx
