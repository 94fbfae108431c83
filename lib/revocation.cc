#include "lib/revocation.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "lib/envelope.h"
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

// The quorum rule shared with artifacts (lib/envelope.h), as a list error.
Result<std::set<std::string>> quorum_signers(std::string_view body, const std::vector<Signature>& sigs,
                                             const TrustStore& trust, UnixTime now, const std::string& origin,
                                             const QuorumOptions& opts, std::vector<std::string>* verified = nullptr) {
  Quorum q = verify_quorum(crypto::kRevocationsType, body, sigs, trust, now, opts);
  if (verified) *verified = q.verified;
  if (!q.decision) {
    std::string why = q.decision.detail;
    if (q.decision.reason == DenyReason::ThresholdNotMet)
      why = "signed by " + why + " (trust store threshold; keys revoked by this list, unknown, expired or revoked "
            "keys do not count)";
    return invalid(origin, why);
  }
  std::set<std::string> ok;
  for (const TrustedKey* k : q.signers) ok.insert(k->key_id);
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
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);  // a FIFO must not hang us
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
Decision publish_index(const std::string& state_dir, const std::string& list_path, const RevocationIndexMeta& meta,
                       const std::vector<RevocationEntry>& entries) {
  StateLock lock(state_dir);
  if (!lock.status()) return lock.status();
  auto seen = read_seen_revocations(state_dir, list_path);
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

// The quorum over this list's signatures, its own key entries excluded.
// From the index, the verification done when it was built stands in, for
// the same public key only; a trusted key not verified then denies.
Decision RevocationList::verify_as(const TrustStore& trust, UnixTime now, const std::string& origin) const {
  QuorumOptions opts;
  opts.key_revoked = [this](const std::string& id) { return key_revoked(id); };
  if (index_db_) opts.preverified = &index_signers_;
  auto ok = quorum_signers(body_, signatures_, trust, now, origin, opts);
  if (!ok) return ok.error();
  return Decision::allow();
}

Result<RevocationList> RevocationList::load(const std::string& path, const TrustStore& trust,
                                            const std::string& state_dir, UnixTime now) {
  // Owner and mode first (StrictModes), for a missing list its directory:
  // whoever could write there could delete or replace the list.
  if (Decision d = fs::check_strict_modes(path, true); !d) return invalid(path, d);
  if (Decision d = ensure_state_dir(state_dir); !d) return d;
  auto seen = read_seen_revocations(state_dir, path);
  if (!seen) return seen.error();
  if (!fs::exists(path)) {
    if (*seen)
      return invalid(path, "missing, but serial " + std::to_string((*seen)->serial) +
                               " of this list was already seen (deleted or rolled back)");
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
  // The full quorum before parsing (this list's own key entries can only
  // lower the count, so they are applied once it is parsed).
  std::vector<std::string> verified;
  auto pre = quorum_signers(parts->body, *sigs, trust, now, path, QuorumOptions{}, &verified);
  if (!pre) return pre.error();

  RevocationIndexMeta meta;
  meta.file_digest = "sha256:" + crypto::sha256_hex(*bytes);
  meta.stamp = stamp;
  meta.body_size = parts->body.size();
  meta.signature_block = std::move(parts->signature_block);
  meta.verified_signers = verified;
  bytes = std::string();  // the body now lives in parts: do not hold the file twice
  auto list = from_parts(std::move(parts->body), sigs.take(), path);
  if (!list) return list;
  // Again without the keys this list revokes; the signatures were verified above.
  QuorumOptions again;
  again.key_revoked = [&](const std::string& id) { return list->key_revoked(id); };
  again.preverified = &verified;
  if (auto ok = quorum_signers(list->body(), list->signatures(), trust, now, path, again); !ok) return ok.error();
  if (Decision d = record_revocations_serial(state_dir, path, list->serial(), list->digest()); !d) {
    if (d.reason == DenyReason::RevocationListInvalid) return invalid(path, d.detail);
    return d;
  }
  // Only now, with the list validated and recorded, cache it. Failing to do
  // so costs the next run a full load, nothing else.
  meta.version = list->version();
  meta.serial = list->serial();
  meta.issued_at = list->issued_at();
  meta.body_digest = list->digest();
  (void)publish_index(state_dir, path, meta, list->entries());
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

namespace {

constexpr std::string_view kSeenHeader = "gx-revocation-serials 2\n";
constexpr size_t kSeenMaxBytes = 1024 * 1024;

using SeenMap = std::map<std::string, SeenRevocations>;  // by revocation_list_key()

Decision bad_record(const std::string& path, const std::string& why) {
  return Decision::deny(DenyReason::StateUnavailable, "rollback record " + path + " " + why, "state", path);
}

bool parse_serial(std::string_view t, uint64_t& out) {
  if (t.empty() || t.size() > 19) return false;
  out = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return out != 0;
}

// The whole record: "gx-revocation-serials 2\n" then one line per list,
// "<list key> <serial> <body digest>\n", every field sha256:<hex> or digits.
Result<SeenMap> read_all_seen(const std::string& state_dir) {
  std::string path = revocations_serial_path(state_dir);
  SeenMap out;
  if (!fs::exists(path)) return out;
  auto text = fs::read_file_nofollow(path, kSeenMaxBytes);  // no symlink, no FIFO: a regular file only
  if (!text) return bad_record(path, "cannot be read: " + text.error().detail);
  std::string_view t = *text;
  if (t.substr(0, kSeenHeader.size()) != kSeenHeader) {
    uint64_t ignored = 0;
    if (t.find(' ') != std::string_view::npos && parse_serial(t.substr(0, t.find(' ')), ignored))
      return bad_record(path, "has the old format (one serial for every list): remove it once you have checked "
                              "the revocation lists; gx records each list again on its next load");
    return bad_record(path, "is malformed");
  }
  t.remove_prefix(kSeenHeader.size());
  while (!t.empty()) {
    size_t eol = t.find('\n');
    if (eol == std::string_view::npos) return bad_record(path, "is malformed (unterminated line)");
    std::string_view line = t.substr(0, eol);
    t.remove_prefix(eol + 1);
    size_t s1 = line.find(' ');
    size_t s2 = s1 == std::string_view::npos ? s1 : line.find(' ', s1 + 1);
    if (s2 == std::string_view::npos) return bad_record(path, "is malformed");
    std::string key(line.substr(0, s1));
    std::string digest(line.substr(s2 + 1));
    SeenRevocations seen;
    if (!is_sha256_ref(key) || !is_sha256_ref(digest) || !parse_serial(line.substr(s1 + 1, s2 - s1 - 1), seen.serial))
      return bad_record(path, "is malformed");
    seen.body_digest = digest;
    if (!out.emplace(key, seen).second) return bad_record(path, "names list " + key + " twice");
  }
  return out;
}

}  // namespace

std::string revocations_serial_path(const std::string& state_dir) { return state_dir + "/revocations.serial"; }

std::string revocation_list_key(const std::string& list_path) {
  // The directory is resolved, the file name is not: the key is the same
  // whether the list exists, is missing, or is a symlink.
  std::string abs = fs::absolute(list_path);
  std::string dir = fs::canonical(fs::dirname(abs));
  std::string name = abs.substr(abs.find_last_of('/') + 1);
  std::string where = dir.empty() ? abs : (dir == "/" ? "/" + name : dir + "/" + name);
  return "sha256:" + crypto::sha256_hex(where);
}

Result<std::optional<SeenRevocations>> read_seen_revocations(const std::string& state_dir,
                                                             const std::string& list_path) {
  auto all = read_all_seen(state_dir);
  if (!all) return all.error();
  auto it = all->find(revocation_list_key(list_path));
  if (it == all->end()) return std::optional<SeenRevocations>{};
  return std::optional<SeenRevocations>{it->second};
}

Decision record_revocations_serial(const std::string& state_dir, const std::string& list_path, uint64_t serial,
                                   const std::string& body_digest) {
  if (Decision d = ensure_state_dir(state_dir); !d) return d;
  // Two gx processes that loaded different lists must not lower the record.
  StateLock lock(state_dir);
  if (!lock.status()) return lock.status();
  auto all = read_all_seen(state_dir);
  if (!all) return all.error();
  const std::string key = revocation_list_key(list_path);
  auto it = all->find(key);
  if (it != all->end() && serial < it->second.serial)
    return Decision::deny(DenyReason::RevocationListInvalid,
                          "rollback: serial " + std::to_string(serial) + " < " + std::to_string(it->second.serial) +
                              " already seen",
                          "serial", std::to_string(serial));
  if (it != all->end() && serial == it->second.serial) {
    if (body_digest != it->second.body_digest)
      return Decision::deny(DenyReason::RevocationListInvalid,
                            "serial " + std::to_string(serial) + " was already seen with a different body (" +
                                it->second.body_digest + ", now " + body_digest + ")",
                            "serial", std::to_string(serial));
    return Decision::allow();
  }
  (*all)[key] = SeenRevocations{serial, body_digest};
  std::string text(kSeenHeader);
  for (const auto& [k, v] : *all) text += k + " " + std::to_string(v.serial) + " " + v.body_digest + "\n";
  if (text.size() > kSeenMaxBytes)
    return bad_record(revocations_serial_path(state_dir), "would exceed " + std::to_string(kSeenMaxBytes) + " bytes");
  Decision d = fs::write_file_atomic(revocations_serial_path(state_dir), text, 0600, fs::Overwrite::Yes);
  if (!d) d.reason = DenyReason::StateUnavailable;
  return d;
}


namespace {

// Held for the whole read -> bump -> write of one list: an exclusive flock on
// the list's directory.
class DirLock {
 public:
  explicit DirLock(const std::string& dir) : fd_(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    int rc = -1;
    while (fd_ >= 0 && (rc = flock(fd_, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (fd_ >= 0 && rc != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~DirLock() {
    if (fd_ >= 0) close(fd_);
  }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

}  // namespace

Result<RevokeResult> add_revocation(const std::string& list_path, const TrustStore& trust,
                                    const std::string& state_dir, const std::vector<crypto::PrivateKey>& keys,
                                    const RevocationEntry& entry, UnixTime now) {
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
  DirLock lock(dir);
  if (!lock.ok())
    return Decision::deny(DenyReason::IoError, "cannot lock " + dir + ": " + fs::errno_text(errno), "dir", dir);

  auto current = RevocationList::load(list_path, trust, state_dir, now);
  if (!current) return current.error();
  if (current->find(entry.target)) return RevokeResult{current.take(), true};
  auto next = current->successor({entry}, now);
  if (!next) return next.error();
  for (const auto* k : signers)
    if (Decision d = next->add_signature(*k); !d) return d;
  // Check our own output exactly as every gx run will, before replacing the file.
  if (Decision d = next->verify(trust, now); !d) {
    d.reason = DenyReason::Usage;  // the signing keys chosen cannot make a valid list
    d.detail = "the new list would not be valid: " + d.detail;
    return d;
  }
  if (Decision d = fs::write_file_atomic(list_path, next->file_text(), 0644, fs::Overwrite::Yes); !d) return d;
  // Raise the rollback record now, so the previous list is refused at once.
  if (Decision d = record_revocations_serial(state_dir, list_path, next->serial(), next->digest()); !d) return d;
  return RevokeResult{next.take(), false};
}

}  // namespace gx
