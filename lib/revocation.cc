#include "lib/revocation.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "lib/fsutil.h"
#include "lib/revocation_index.h"
#include "lib/toml_reader.h"
#include "lib/use_store.h"

namespace gx {
namespace {

Decision invalid(const std::string& origin, const Decision& cause) {
  Decision d = cause;
  d.reason = DenyReason::RevocationListInvalid;
  d.detail = "revocation list " + origin + ": " + cause.detail;
  return d;
}

Decision invalid(const std::string& origin, const std::string& detail) {
  return Decision::deny(DenyReason::RevocationListInvalid, "revocation list " + origin + ": " + detail,
                        "revocations", origin);
}

bool is_sha256_ref(std::string_view s) {
  return s.size() == 7 + 64 && s.substr(0, 7) == "sha256:" && crypto::is_hex_sha256(s.substr(7));
}

Result<UnixTime> read_time(TableReader& r, std::string_view key) {
  auto s = r.string(key, true);
  if (!s) return r.finish();
  auto t = parse_utc(*s);
  if (!t) {
    r.invalid(key, *s, "must be an RFC 3339 UTC time like 2026-01-31T23:59:00Z");
    return r.finish();
  }
  return *t;
}

// Keys in the trust store that may sign a list at `now` (revocation by the
// list itself is applied separately, once the body is parsed).
bool key_usable(const TrustedKey& k, UnixTime now) {
  if (k.revoked) return false;
  if (k.not_before && now < *k.not_before) return false;
  if (k.not_after && now > *k.not_after) return false;
  return true;
}

// Distinct trusted, usable keys whose signature verifies over the body.
// A trusted key's signature that fails is an error, not merely "uncounted":
// it means the body was altered after that key signed it.
Result<std::set<std::string>> verified_signers(std::string_view body, const std::vector<Signature>& sigs,
                                               const TrustStore& trust, UnixTime now, const std::string& origin) {
  std::set<std::string> ok;
  for (const auto& s : sigs) {
    const TrustedKey* k = trust.find(s.key_id);
    if (!k || !key_usable(*k, now)) continue;
    if (!k->key.verify(crypto::kRevocationsType, body, s.value))
      return invalid(origin, "signature by " + s.key_id + " (" + k->name + ") does not verify");
    ok.insert(k->key.key_id());  // the id of the key that verified, as the index records it
  }
  return ok;
}

// The rollback record's lock (a separate file: the record itself is
// replaced by rename). Held while the record is raised and while the index
// is rebuilt, so neither can be moved back to an older list.
class StateLock {
 public:
  explicit StateLock(const std::string& state_dir) : path_(state_dir + "/revocations.lock") {
    fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      status_ = Decision::deny(DenyReason::StateUnavailable, "cannot open " + path_ + ": " + fs::errno_text(errno),
                               "state", path_);
      return;
    }
    int rc;
    while ((rc = flock(fd_, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (rc != 0)
      status_ = Decision::deny(DenyReason::StateUnavailable, "cannot lock " + path_ + ": " + fs::errno_text(errno),
                               "state", path_);
  }
  ~StateLock() {
    if (fd_ >= 0) close(fd_);  // releases the lock
  }
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  const Decision& status() const { return status_; }

 private:
  std::string path_;
  int fd_ = -1;
  Decision status_ = Decision::allow();
};

int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// A file changed within this long before we read it may change again in the
// same timestamp tick without its stamp changing (coarse or 1-2 s
// filesystem timestamps; git calls this "racy"). Its stamp is not recorded:
// the next run re-hashes the file instead of trusting the stamp.
constexpr int64_t kRacyNs = 2'000'000'000;
bool racy(const FileStamp& f, int64_t read_started_ns) {
  return f.mtime_ns > read_started_ns - kRacyNs || f.ctime_ns > read_started_ns - kRacyNs;
}

// True when `path` holds exactly the bytes the index was built from: the
// same stamp and signature block (no read of the body), or else the same
// SHA-256 over the whole file (then the new stamp is recorded).
bool is_indexed_file(const std::string& path, RevocationIndex& idx) {
  const RevocationIndexMeta& m = idx.meta();
  int64_t started = realtime_ns();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return false;
  bool same = false;
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    FileStamp stamp = FileStamp::of(st);
    if (m.stamp.known() && stamp == m.stamp && stamp.size == m.body_size + m.signature_block.size()) {
      std::string tail(m.signature_block.size(), '\0');
      ssize_t n = pread(fd, tail.data(), tail.size(), static_cast<off_t>(m.body_size));
      same = n == static_cast<ssize_t>(tail.size()) && tail == m.signature_block;
    }
    if (!same && stamp.size <= kRevocationsMaxBytes) {
      auto hex = crypto::sha256_fd_hex(fd);  // pread above did not move the offset
      same = hex && "sha256:" + *hex == m.file_digest;
      struct stat again {};
      if (same && fstat(fd, &again) == 0 && FileStamp::of(again) == stamp && !racy(stamp, started))
        (void)idx.restamp(stamp);  // an optimisation: failing only means hashing again next time
    }
  }
  close(fd);
  return same;
}

// Rebuilds <state>/revocations.db for a list that load() has fully validated
// and recorded. Under the rollback lock, and only while the record still
// names this list: a slower process never replaces a newer list's index.
Decision publish_index(const std::string& state_dir, const RevocationIndexMeta& meta,
                       const std::vector<RevocationEntry>& entries) {
  StateLock lock(state_dir);
  if (!lock.status()) return lock.status();
  auto seen = read_seen_revocations(state_dir);
  if (!seen) return seen.error();
  if (!*seen || (*seen)->serial != meta.serial || (*seen)->body_digest != meta.body_digest)
    return Decision::allow();
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

}  // namespace

// ---- construction ----

RevocationList::RevocationList(const RevocationList& o)
    : version_(o.version_), serial_(o.serial_), issued_at_(o.issued_at_), entries_(o.entries_),
      entries_read_(o.entries_read_), index_db_(o.index_db_), body_digest_(o.body_digest_),
      index_signers_(o.index_signers_), body_(o.body_), signatures_(o.signatures_) {
  if (!index_db_) (void)index();  // o was indexed already, so this cannot find duplicates
}

RevocationList& RevocationList::operator=(const RevocationList& o) {
  if (this != &o) {
    RevocationList copy(o);
    *this = std::move(copy);
  }
  return *this;
}

Decision RevocationList::index() {
  artifacts_.clear();
  keys_.clear();
  artifacts_.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    auto& set = e.kind == RevocationKind::Artifact ? artifacts_ : keys_;
    if (!set.insert(std::string_view(e.target)).second)
      return Decision::deny(DenyReason::DuplicateField, e.target + " is revoked twice",
                            "entry[" + std::to_string(i) + "]", e.target);
  }
  return Decision::allow();
}

Result<RevocationList> RevocationList::parse_unverified(std::string_view bytes, const std::string& origin) {
  if (bytes.size() > kRevocationsMaxBytes)
    return invalid(origin, "larger than the limit of " + std::to_string(kRevocationsMaxBytes) + " bytes");
  auto parts = split_artifact(bytes);
  if (!parts) return invalid(origin, parts.error());
  auto sigs = parse_signatures(parts->signature_block);
  if (!sigs) return invalid(origin, sigs.error());
  return from_parts(std::move(parts->body), sigs.take(), origin);
}

Result<RevocationList> RevocationList::from_parts(std::string body, std::vector<Signature> sigs,
                                                  const std::string& origin) {
  auto doc = parse_toml(body, origin);
  if (!doc) return invalid(origin, doc.error());
  RevocationList list;
  TableReader top(*doc, "");
  auto version = top.integer("version", true, kRevocationsVersionCurrent, kRevocationsVersionCurrent);
  auto serial = top.integer("serial", true, 1, INT64_MAX);
  auto issued = read_time(top, "issued_at");
  const toml::array* entries = top.array("entry", false);
  if (Decision d = top.finish(); !d) {
    if (!version && d.reason == DenyReason::InvalidValue) d.reason = DenyReason::UnsupportedVersion;
    return invalid(origin, d);
  }
  list.version_ = static_cast<int>(*version);
  list.serial_ = static_cast<uint64_t>(*serial);
  list.issued_at_ = *issued;
  if (entries) {
    if (!entries->empty() && !entries->is_array_of_tables())
      return invalid(origin, Decision::deny(DenyReason::WrongType, "entry must be an array of tables", "entry"));
    if (entries->size() > kRevocationsMaxEntries)
      return invalid(origin, "more than " + std::to_string(kRevocationsMaxEntries) + " entries");
    list.entries_.reserve(entries->size());
    for (size_t i = 0; i < entries->size(); ++i) {
      TableReader r(*entries->get(i)->as_table(), "entry[" + std::to_string(i) + "]");
      auto artifact = r.string("artifact", false);
      auto key_id = r.string("key_id", false);
      auto reason = r.string("reason", false);
      auto when = read_time(r, "revoked_at");
      if (Decision d = r.finish(); !d) return invalid(origin, d);
      if (artifact.has_value() == key_id.has_value())
        return invalid(origin, Decision::deny(DenyReason::InvalidValue,
                                              r.path("") + " needs exactly one of artifact or key_id", r.path("")));
      const std::string& target = artifact ? *artifact : *key_id;
      if (!is_sha256_ref(target))
        return invalid(origin, Decision::deny(DenyReason::InvalidValue, "target must be sha256:<64 hex digits>",
                                              r.path(artifact ? "artifact" : "key_id"), target));
      list.entries_.push_back(RevocationEntry{artifact ? RevocationKind::Artifact : RevocationKind::Key, target,
                                              reason.value_or(""), *when});
    }
  }
  if (Decision d = list.index(); !d) return invalid(origin, d);
  list.body_ = std::move(body);
  list.signatures_ = std::move(sigs);
  return list;
}

Decision RevocationList::verify(const TrustStore& trust, UnixTime now) const {
  return verify_as(trust, now, "(serial " + std::to_string(serial_) + ")");
}

// Distinct usable trusted keys whose signatures verify. From the index, the
// verification done when it was built stands in, for the same public key
// only; a key that was not usable (or not trusted) then was never checked.
Result<std::set<std::string>> RevocationList::signers(const TrustStore& trust, UnixTime now,
                                                      const std::string& origin) const {
  if (!index_db_) return verified_signers(body_, signatures_, trust, now, origin);
  std::set<std::string> ok;
  for (const auto& s : signatures_) {
    const TrustedKey* k = trust.find(s.key_id);
    if (!k || !key_usable(*k, now)) continue;
    std::string id = k->key.key_id();
    if (std::find(index_signers_.begin(), index_signers_.end(), id) == index_signers_.end())
      return invalid(origin, "signature by " + s.key_id + " (" + k->name +
                                 ") was not verified when the index was built: load the list again");
    ok.insert(id);
  }
  return ok;
}

Decision RevocationList::verify_as(const TrustStore& trust, UnixTime now, const std::string& origin) const {
  auto signers_ok = signers(trust, now, origin);
  if (!signers_ok) return signers_ok.error();
  size_t counted = 0;
  for (const auto& id : *signers_ok)
    if (!key_revoked(id)) ++counted;
  size_t needed = static_cast<size_t>(std::max(trust.threshold, 1));
  if (counted < needed)
    return invalid(origin, "signed by " + std::to_string(counted) + " usable trusted key(s), " +
                               std::to_string(needed) + " required (trust store threshold; keys revoked by this "
                               "list, unknown, expired or revoked keys do not count)");
  return Decision::allow();
}

Result<RevocationList> RevocationList::load(const std::string& path, const TrustStore& trust,
                                            const std::string& state_dir, UnixTime now) {
  if (Decision d = ensure_state_dir(state_dir); !d) return d;
  auto seen = read_seen_revocations(state_dir);
  if (!seen) return seen.error();
  if (!fs::exists(path)) {
    if (*seen)
      return invalid(path, "missing, but serial " + std::to_string((*seen)->serial) +
                               " was already seen (deleted or rolled back)");
    return RevocationList{};
  }
  // An index exists only for a list that was recorded, so no record, no index.
  if (*seen)
    if (auto cached = load_from_index(path, trust, state_dir, now, **seen)) return std::move(*cached);
  return load_full(path, trust, state_dir, now);
}

std::optional<RevocationList> RevocationList::load_from_index(const std::string& path, const TrustStore& trust,
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
  list.index_db_ = std::move(idx);
  // The trust store or the time may have changed since: re-apply the signer
  // rules. If they do not pass, the full load decides (and explains).
  if (!list.verify_as(trust, now, path)) return std::nullopt;
  return list;
}

Result<RevocationList> RevocationList::load_full(const std::string& path, const TrustStore& trust,
                                                 const std::string& state_dir, UnixTime now) {
  // The stamp is recorded only if the file provably did not change while it
  // was read (same stamp before and after) and is not "racy".
  int64_t started = realtime_ns();
  struct stat before {}, after {};
  bool stat_before = stat(path.c_str(), &before) == 0;
  auto bytes = fs::read_file(path, kRevocationsMaxBytes);
  if (!bytes) return invalid(path, bytes.error());
  FileStamp stamp;
  if (stat_before && stat(path.c_str(), &after) == 0 && FileStamp::of(before) == FileStamp::of(after) &&
      FileStamp::of(before).size == bytes->size() && !racy(FileStamp::of(before), started))
    stamp = FileStamp::of(before);

  // Check signatures on the exact bytes before parsing the body: a body
  // nobody trusted signed never reaches the TOML parser.
  auto parts = split_artifact(*bytes);
  if (!parts) return invalid(path, parts.error());
  auto sigs = parse_signatures(parts->signature_block);
  if (!sigs) return invalid(path, sigs.error());
  if (sigs->empty()) return invalid(path, "not signed");
  auto pre = verified_signers(parts->body, *sigs, trust, now, path);
  if (!pre) return pre.error();
  if (pre->empty()) return invalid(path, "no signature by a trusted, usable key");

  RevocationIndexMeta meta;
  meta.file_digest = "sha256:" + crypto::sha256_hex(*bytes);
  meta.stamp = stamp;
  meta.body_size = parts->body.size();
  meta.signature_block = std::move(parts->signature_block);
  meta.verified_signers.assign(pre->begin(), pre->end());
  bytes = std::string();  // the body now lives in parts: do not hold the file twice
  auto list = from_parts(std::move(parts->body), sigs.take(), path);
  if (!list) return list;
  if (Decision d = list->verify_as(trust, now, path); !d) return d;
  if (Decision d = record_revocations_serial(state_dir, list->serial(), list->digest()); !d) {
    if (d.reason == DenyReason::RevocationListInvalid) return invalid(path, d.detail);
    return d;
  }
  // Only now, with the list validated and recorded, cache it. Failing to do
  // so costs the next run a full load, nothing else.
  meta.version = list->version();
  meta.serial = list->serial();
  meta.issued_at = list->issued_at();
  meta.body_digest = list->digest();
  (void)publish_index(state_dir, meta, list->entries());
  return list;
}

// ---- lookups ----

bool RevocationList::artifact_revoked(std::string_view digest) const {
  if (index_db_) return index_db_->contains(RevocationKind::Artifact, digest);
  return artifacts_.contains(digest);
}
bool RevocationList::key_revoked(std::string_view key_id) const {
  if (index_db_) return index_db_->contains(RevocationKind::Key, key_id);
  return keys_.contains(key_id);
}

const RevocationEntry* RevocationList::find(std::string_view target) const {
  if (index_db_) {
    auto e = index_db_->find(target);
    if (!e || !*e) return nullptr;
    found_ = std::move(**e);
    return &*found_;
  }
  if (!artifacts_.contains(target) && !keys_.contains(target)) return nullptr;
  for (const auto& e : entries_)  // rare (display only): a linear scan is fine
    if (e.target == target) return &e;
  return nullptr;
}

Decision RevocationList::check(const std::string& artifact_digest,
                               const std::vector<std::string>& signer_key_ids) const {
  auto describe = [&](std::string_view target) {
    const RevocationEntry* e = find(target);  // null only if the index could not be read
    std::string s = e ? "revoked at " + format_utc(e->revoked_at) : std::string("revoked");
    if (e && !e->reason.empty()) s += " (" + e->reason + ")";
    return s + ", revocation list serial " + std::to_string(serial_);
  };
  if (artifact_revoked(artifact_digest))
    return Decision::deny(DenyReason::Revoked, "artifact " + artifact_digest + " was " + describe(artifact_digest),
                          "artifact", artifact_digest);
  if (signer_key_ids.empty()) return Decision::allow();
  for (const auto& id : signer_key_ids)
    if (!key_revoked(id)) return Decision::allow();
  return Decision::deny(DenyReason::Revoked,
                        "every trusted signature on artifact " + artifact_digest +
                            " is by a revoked key; key " + signer_key_ids.front() + " was " +
                            describe(signer_key_ids.front()),
                        "signature.key_id", signer_key_ids.front());
}

std::string RevocationList::digest() const {
  return index_db_ ? body_digest_ : "sha256:" + crypto::sha256_hex(body_);
}

const std::vector<RevocationEntry>& RevocationList::entries() const {
  (void)all_entries();  // on failure: empty (see the header)
  return entries_;
}

Result<const std::vector<RevocationEntry>*> RevocationList::all_entries() const {
  if (index_db_ && !entries_read_) {
    auto all = index_db_->entries();
    if (!all) return all.error();
    entries_ = all.take();
    entries_read_ = true;
  }
  return &entries_;
}

// ---- building ----

std::string RevocationList::render_body(uint64_t serial, UnixTime issued_at,
                                        const std::vector<RevocationEntry>& entries) {
  std::string out =
      "# gx revocation list (format: gx-revocations(5)). Signed: change it only with gx revoke.\n"
      "version = " + std::to_string(kRevocationsVersionCurrent) + "\nserial = " + std::to_string(serial) +
      "\nissued_at = " + toml_quote(format_utc(issued_at)) + "\n";
  out.reserve(out.size() + entries.size() * 160);
  for (const auto& e : entries) {
    out += "\n[[entry]]\n";
    out += e.kind == RevocationKind::Artifact ? "artifact = " : "key_id = ";
    out += toml_quote(e.target);
    if (!e.reason.empty()) {
      out += "\nreason = ";
      out += toml_quote(e.reason);
    }
    out += "\nrevoked_at = ";
    out += toml_quote(format_utc(e.revoked_at));
    out += "\n";
  }
  out += "\n";  // a blank line before the signatures
  return out;
}

Result<RevocationList> RevocationList::successor(const std::vector<RevocationEntry>& added, UnixTime now) const {
  RevocationList next;
  next.serial_ = serial_ + 1;
  next.issued_at_ = now;
  auto mine = all_entries();
  if (!mine) return mine.error();
  next.entries_.reserve((*mine)->size() + added.size());
  next.entries_ = **mine;
  for (const auto& e : added) {
    if (!is_sha256_ref(e.target))
      return Decision::deny(DenyReason::Usage, "revocation target must be sha256:<64 hex digits>", "target",
                            e.target);
    next.entries_.push_back(e);
  }
  if (Decision d = next.index(); !d) {
    d.reason = DenyReason::Usage;
    d.detail += " (already revoked)";
    return d;
  }
  next.body_ = render_body(next.serial_, now, next.entries_);
  return next;
}

Decision RevocationList::add_signature(const crypto::PrivateKey& key) {
  auto sig = key.sign(crypto::kRevocationsType, body_);
  if (!sig) return sig.error();
  signatures_.push_back(Signature{key.public_key().key_id(), std::string(crypto::kAlgorithm), sig.take()});
  return Decision::allow();
}

std::string RevocationList::file_text() const {
  // Nothing may come between the body and the first "[[signature]]" line:
  // it would become part of the body.
  std::string out = body_;
  for (size_t i = 0; i < signatures_.size(); ++i) {
    if (i > 0) out += "\n";
    out += render_signature(signatures_[i]);
  }
  return out;
}

// ---- rollback record ----

std::string revocations_serial_path(const std::string& state_dir) { return state_dir + "/revocations.serial"; }

Result<std::optional<SeenRevocations>> read_seen_revocations(const std::string& state_dir) {
  std::string path = revocations_serial_path(state_dir);
  if (!fs::exists(path)) return std::optional<SeenRevocations>{};
  auto text = fs::read_file(path, 256);
  auto bad = [&](const std::string& why) {
    return Decision::deny(DenyReason::StateUnavailable, "rollback record " + path + " " + why, "state", path);
  };
  if (!text) return bad("cannot be read: " + text.error().detail);
  // Exactly "<serial> sha256:<hex>\n": one spelling, nothing to interpret.
  const std::string& t = *text;
  size_t sp = t.find(' ');
  if (sp == std::string::npos || sp == 0 || sp > 19 || t.empty() || t.back() != '\n') return bad("is malformed");
  std::string digest = t.substr(sp + 1, t.size() - sp - 2);
  uint64_t serial = 0;
  for (size_t i = 0; i < sp; ++i) {
    if (t[i] < '0' || t[i] > '9') return bad("is malformed");
    serial = serial * 10 + static_cast<uint64_t>(t[i] - '0');
  }
  if (!is_sha256_ref(digest) || serial == 0) return bad("is malformed");
  return std::optional<SeenRevocations>{SeenRevocations{serial, digest}};
}

Decision record_revocations_serial(const std::string& state_dir, uint64_t serial, const std::string& body_digest) {
  if (Decision d = ensure_state_dir(state_dir); !d) return d;
  // Two gx processes that loaded different lists must not lower the record.
  StateLock lock(state_dir);
  if (!lock.status()) return lock.status();
  Decision result = Decision::allow();
  auto seen = read_seen_revocations(state_dir);
  if (!seen) {
    result = seen.error();
  } else if (*seen && serial < (*seen)->serial) {
    result = Decision::deny(DenyReason::RevocationListInvalid,
                            "rollback: serial " + std::to_string(serial) + " < " + std::to_string((*seen)->serial) +
                                " already seen",
                            "serial", std::to_string(serial));
  } else if (*seen && serial == (*seen)->serial) {
    if (body_digest != (*seen)->body_digest)
      result = Decision::deny(DenyReason::RevocationListInvalid,
                              "serial " + std::to_string(serial) + " was already seen with a different body (" +
                                  (*seen)->body_digest + ", now " + body_digest + ")",
                              "serial", std::to_string(serial));
  } else {
    result = fs::write_file_atomic(revocations_serial_path(state_dir),
                                   std::to_string(serial) + " " + body_digest + "\n", 0600, fs::Overwrite::Yes);
    if (!result) result.reason = DenyReason::StateUnavailable;
  }
  return result;
}

}  // namespace gx
