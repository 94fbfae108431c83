// RevocationList::load(): the full verified load of a list file, and the
// verified index standing in for it (lib/revocation.h, "Verified index").
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "lib/clock.h"
#include "lib/fsutil.h"
#include "lib/revocation.h"
#include "lib/revocation_index.h"
#include "lib/use_store.h"

namespace gx {
namespace {

// True when `path` holds exactly the bytes the index was built from: the
// same stamp and signature block (no read of the body), or else the same
// SHA-256 over the whole file (then the new stamp is recorded).
bool is_indexed_file(const std::string& path, RevocationIndex& idx) {
  const RevocationIndexMeta& m = idx.meta();
  int64_t started = now_unix_ns();
  fs::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));  // a FIFO must not hang us
  struct stat st {};
  if (!fd.ok() || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  FileStamp stamp = FileStamp::of(st);
  if (m.stamp.known() && stamp == m.stamp && stamp.size == m.body_size + m.signature_block.size()) {
    std::string tail(m.signature_block.size(), '\0');
    ssize_t n = pread(fd.get(), tail.data(), tail.size(), static_cast<off_t>(m.body_size));
    if (n == static_cast<ssize_t>(tail.size()) && tail == m.signature_block) return true;
  }
  if (stamp.size > kRevocationsMaxBytes) return false;
  auto hex = crypto::sha256_fd_hex(fd.get());  // pread above did not move the offset
  bool same = hex && "sha256:" + *hex == m.file_digest;
  struct stat again {};
  if (same && fstat(fd.get(), &again) == 0 && FileStamp::of(again) == stamp && !stamp.racy_at(started))
    (void)idx.restamp(stamp);  // an optimisation: failing only means hashing again next time
  return same;
}

// Rebuilds <state>/revocations.db for a list that load() has fully validated
// and recorded. Under the rollback lock, and only while the record still
// names this list: a slower process never replaces a newer list's index.
Decision publish_index(const std::string& state_dir, const std::string& list_path, const RevocationIndexMeta& meta,
                       const MemoryRevocationSet& entries) {
  auto lock = lock_revocations_record(state_dir);
  if (!lock) return lock.error();
  auto seen = read_seen_revocations(state_dir, list_path);
  if (!seen) return seen.error();
  if (!*seen || (*seen)->serial != meta.serial || (*seen)->body_digest != meta.body_digest) return Decision::allow();
  std::string final_path = revocations_index_path(state_dir);
  std::string tmp = final_path + ".tmp";
  unlink(tmp.c_str());  // left by a build that crashed (we hold the lock, so no build is running)
  Decision d = RevocationIndex::build(tmp, meta, entries);
  if (d && rename(tmp.c_str(), final_path.c_str()) != 0)
    d = Decision::deny(DenyReason::StateUnavailable, "cannot rename " + tmp + ": " + fs::errno_text(errno), "state",
                       tmp);
  // No directory fsync: losing the rename in a crash leaves the previous
  // index (or none), which load() will not use for this list anyway.
  if (!d) unlink(tmp.c_str());
  return d;
}

// The file is body + signature block: one pass over the body gives both
// the body's digest (the rollback record's) and the file's (the index's).
void set_digests(RevocationIndexMeta& meta, std::string_view body, std::string_view signature_block) {
  crypto::Sha256 file_hash;
  file_hash.update(body);
  crypto::Sha256 body_hash = file_hash;
  file_hash.update(signature_block);
  meta.file_digest = "sha256:" + crypto::hex(file_hash.finish());
  meta.body_digest = "sha256:" + crypto::hex(body_hash.finish());
  meta.body_size = body.size();
  meta.signature_block = std::string(signature_block);
}

}  // namespace

// The two ways a list file becomes a RevocationList, and the index of a
// list just written (friend of RevocationList).
class RevocationLoader {
 public:
  static Decision index_written(const std::string& path, const RevocationList& list,
                                const std::vector<std::string>& verified, const std::string& state_dir);
  static std::optional<RevocationList> from_index(const std::string& path, const TrustStore& trust,
                                                  const std::string& state_dir, UnixTime now,
                                                  const SeenRevocations& seen);
  static Result<RevocationList> full(const std::string& path, const TrustStore& trust, const std::string& state_dir,
                                     UnixTime now);
};

Result<RevocationList> RevocationList::load(const std::string& path, const TrustStore& trust,
                                            const std::string& state_dir, UnixTime now) {
  // Owner and mode first (StrictModes), for a missing list its directory:
  // whoever could write there could delete or replace the list.
  if (Decision d = fs::check_strict_modes(path, true); !d) return revocation_list_invalid(path, d);
  if (Decision d = ensure_state_dir(state_dir); !d) return d;
  auto seen = read_seen_revocations(state_dir, path);
  if (!seen) return seen.error();
  if (!fs::exists(path)) {
    if (*seen)
      return revocation_list_invalid(path, "missing, but serial " + std::to_string((*seen)->serial) +
                                               " of this list was already seen (deleted or rolled back)");
    return RevocationList{};
  }
  // An index exists only for a list that was recorded, so no record, no index.
  if (*seen)
    if (auto cached = RevocationLoader::from_index(path, trust, state_dir, now, **seen)) return std::move(*cached);
  return RevocationLoader::full(path, trust, state_dir, now);
}

std::optional<RevocationList> RevocationLoader::from_index(const std::string& path, const TrustStore& trust,
                                                           const std::string& state_dir, UnixTime now,
                                                           const SeenRevocations& seen) {
  auto idx = RevocationIndex::open(state_dir);
  if (!idx) return std::nullopt;
  const RevocationIndexMeta& m = idx->meta();
  // The index must be of the list the rollback record names: an index left
  // behind by an older list is never used, even for that list's file.
  if (m.serial != seen.serial || m.body_digest != seen.body_digest) return std::nullopt;
  if (!is_indexed_file(path, *idx)) return std::nullopt;
  auto sigs = parse_signatures(m.signature_block);
  if (!sigs) return std::nullopt;
  RevocationList list;
  list.version_ = m.version;
  list.serial_ = m.serial;
  list.issued_at_ = m.issued_at;
  list.signatures_ = sigs.take();
  list.body_digest_ = m.body_digest;
  list.index_signers_ = m.verified_signers;
  list.from_index_ = true;
  list.set_ = std::move(idx);
  // The trust store or the time may have changed since: re-apply the signer
  // rules. If they do not pass, the full load decides (and explains).
  if (!list.verify_as(trust, now, path)) return std::nullopt;
  return list;
}

Result<RevocationList> RevocationLoader::full(const std::string& path, const TrustStore& trust,
                                              const std::string& state_dir, UnixTime now) {
  // The stamp is recorded only if the file provably did not change while it
  // was read (same stamp before and after) and is not "racy".
  int64_t started = now_unix_ns();
  struct stat before {
  }, after{};
  bool stat_before = stat(path.c_str(), &before) == 0;
  auto bytes = fs::read_file(path, kRevocationsMaxBytes);
  if (!bytes) return revocation_list_invalid(path, bytes.error());
  FileStamp stamp;
  if (stat_before && stat(path.c_str(), &after) == 0 && FileStamp::of(before) == FileStamp::of(after) &&
      FileStamp::of(before).size == bytes->size() && !FileStamp::of(before).racy_at(started))
    stamp = FileStamp::of(before);

  // Check signatures on the exact bytes before parsing the body: a body
  // nobody trusted signed never reaches the parser.
  auto parts = split_artifact_buffer(bytes.take());  // the body keeps the file's buffer: no copy
  if (!parts) return revocation_list_invalid(path, parts.error());
  auto sigs = parse_signatures(parts->signature_block);
  if (!sigs) return revocation_list_invalid(path, sigs.error());
  if (sigs->empty()) return revocation_list_invalid(path, "not signed");
  // The full quorum before parsing (this list's own key entries can only
  // lower the count, so they are applied once it is parsed).
  std::vector<std::string> verified;
  auto pre = RevocationList::quorum_signers(parts->body, *sigs, trust, now, path, QuorumOptions{}, &verified);
  if (!pre) return pre.error();

  RevocationIndexMeta meta;
  set_digests(meta, parts->body, parts->signature_block);
  meta.stamp = stamp;
  meta.verified_signers = verified;

  auto parsed = parse_revocation_body(parts->body, path);
  if (!parsed) return revocation_list_invalid(path, parsed.error());
  auto list = RevocationList::from_body(parsed.take(), std::move(parts->body), meta.body_digest, sigs.take());
  if (!list) return revocation_list_invalid(path, list.error());
  // Again without the keys this list revokes; the signatures were verified above.
  QuorumOptions again;
  again.key_revoked = [&](const std::string& id) { return list->key_revoked(id); };
  again.preverified = &verified;
  if (auto ok = RevocationList::quorum_signers(list->body(), list->signatures(), trust, now, path, again); !ok)
    return ok.error();
  if (Decision d = record_revocations_serial(state_dir, path, list->serial(), list->digest()); !d) {
    if (d.reason == DenyReason::RevocationListInvalid) return revocation_list_invalid(path, d.detail);
    return d;
  }
  // Only now, with the list validated and recorded, cache it. Failing to do
  // so costs the next run a full load, nothing else.
  meta.version = list->version();
  meta.serial = list->serial();
  meta.issued_at = list->issued_at();
  // from_body() always makes an in-memory set: its entries, without a copy.
  const auto& in_memory = static_cast<const MemoryRevocationSet&>(*list->set_);
  (void)publish_index(state_dir, path, meta, in_memory);
  return list;
}

Decision RevocationLoader::index_written(const std::string& path, const RevocationList& list,
                                         const std::vector<std::string>& verified, const std::string& state_dir) {
  if (list.from_index_ || !list.set_) return Decision::allow();  // nothing was built to write
  std::string text = list.file_text();
  RevocationIndexMeta meta;
  set_digests(meta, list.body_, std::string_view(text).substr(list.body_.size()));
  if (meta.body_digest != list.digest()) return Decision::allow();  // cannot happen: the body is the list's
  meta.verified_signers = verified;
  meta.version = list.version_;
  meta.serial = list.serial_;
  meta.issued_at = list.issued_at_;
  // meta.stamp stays unknown: the file was written a moment ago ("racy").
  const auto& in_memory = static_cast<const MemoryRevocationSet&>(*list.set_);  // lists that were built are
  return publish_index(state_dir, path, meta, in_memory);                       // always in memory
}

Decision index_written_revocation_list(const std::string& path, const RevocationList& list,
                                       const std::vector<std::string>& verified_signers, const std::string& state_dir) {
  return RevocationLoader::index_written(path, list, verified_signers, state_dir);
}

}  // namespace gx
