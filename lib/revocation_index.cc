#include "lib/revocation_index.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/fsutil.h"
#include "lib/sqlite_stmt.h"

namespace gx {
namespace {

constexpr const char* kSchemaSql =
    "CREATE TABLE meta ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1), schema INTEGER NOT NULL, version INTEGER NOT NULL,"
    "  serial INTEGER NOT NULL, issued_at INTEGER NOT NULL, body_digest TEXT NOT NULL,"
    "  file_digest TEXT NOT NULL, dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,"
    "  mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, body_size INTEGER NOT NULL,"
    "  signature_block BLOB NOT NULL, verified_signers TEXT NOT NULL, entries INTEGER NOT NULL,"
    "  last_key BLOB NOT NULL);"
    // Keyed by what a lookup asks, written in key order (MemoryRevocationSet::keys):
    // each row goes to the B-tree's right edge, with no index to sort afterwards.
    "CREATE TABLE revoked ("
    "  digest BLOB NOT NULL, kind INTEGER NOT NULL, ord INTEGER NOT NULL,"
    "  reason TEXT NOT NULL, revoked_at INTEGER NOT NULL, PRIMARY KEY (digest, kind)) WITHOUT ROWID;";

constexpr int kBusyTimeoutMs = 5000;

using sqlite::bind_text;
using sqlite::column_text;
using sqlite::Stmt;

int64_t as_i64(uint64_t v) { return static_cast<int64_t>(v); }
uint64_t as_u64(int64_t v) { return static_cast<uint64_t>(v); }

// verified_signers is stored one key id per line (ids contain no newline).
std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}
std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

// kind, digest, reason, revoked_at from column `first` on.
Result<RevocationEntry> entry_from_row(sqlite3_stmt* s, int first) {
  int64_t kind = sqlite3_column_int64(s, first);
  if (kind != 0 && kind != 1) return Decision::deny(DenyReason::StateUnavailable, "bad kind in revocation index");
  crypto::Digest d;
  if (sqlite3_column_bytes(s, first + 1) != static_cast<int>(d.size()))
    return Decision::deny(DenyReason::StateUnavailable, "bad digest in revocation index");
  std::memcpy(d.data(), sqlite3_column_blob(s, first + 1), d.size());
  return RevocationEntry{kind == 0 ? RevocationKind::Artifact : RevocationKind::Key, crypto::sha256_ref(d),
                         column_text(s, first + 2), sqlite3_column_int64(s, first + 3)};
}

// A key as meta.last_key stores it (digest bytes, then kind): written by
// build() for the greatest key, compared by open() with the table's last row.
std::string key_bytes(const void* digest, size_t size, int64_t kind) {
  std::string out(static_cast<const char*>(digest), size);
  out += static_cast<char>(kind);
  return out;
}

}  // namespace

FileStamp FileStamp::of(const struct stat& st) {
  FileStamp f;
  f.dev = static_cast<uint64_t>(st.st_dev);
  f.ino = static_cast<uint64_t>(st.st_ino);
  f.size = static_cast<uint64_t>(st.st_size);
  f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  f.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec;
  return f;
}

std::string revocations_index_path(const std::string& state_dir) { return state_dir + "/revocations.db"; }

RevocationIndex::~RevocationIndex() {
  sqlite3_finalize(contains_);
  sqlite3_close(db_);
}

Decision RevocationIndex::fail(const std::string& what) const {
  return Decision::deny(
      DenyReason::StateUnavailable,
      "revocation index " + path_ + ": " + what + (db_ ? std::string(": ") + sqlite3_errmsg(db_) : ""), "state", path_);
}

std::shared_ptr<RevocationIndex> RevocationIndex::open(const std::string& state_dir) {
  std::shared_ptr<RevocationIndex> idx(new RevocationIndex());
  idx->path_ = revocations_index_path(state_dir);
  // No SQLITE_OPEN_CREATE: a missing index is "no index", never an empty one.
  sqlite::configure_once();
  if (sqlite3_open_v2(idx->path_.c_str(), &idx->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr) !=
      SQLITE_OK)
    return nullptr;
  sqlite3_busy_timeout(idx->db_, kBusyTimeoutMs);
  std::string last_key;
  {
    Stmt s(idx->db_,
           "SELECT schema, version, serial, issued_at, body_digest, file_digest, dev, ino, size, mtime_ns, "
           "ctime_ns, body_size, signature_block, verified_signers, entries, last_key FROM meta WHERE id = 1");
    if (!s.ok() || s.step() != SQLITE_ROW) return nullptr;
    sqlite3_stmt* q = s.get();
    if (sqlite3_column_int64(q, 0) != kRevocationIndexSchema) return nullptr;
    RevocationIndexMeta& m = idx->meta_;
    m.version = static_cast<int>(sqlite3_column_int64(q, 1));
    m.serial = as_u64(sqlite3_column_int64(q, 2));
    m.issued_at = sqlite3_column_int64(q, 3);
    m.body_digest = column_text(q, 4);
    m.file_digest = column_text(q, 5);
    m.stamp = FileStamp{as_u64(sqlite3_column_int64(q, 6)), as_u64(sqlite3_column_int64(q, 7)),
                        as_u64(sqlite3_column_int64(q, 8)), sqlite3_column_int64(q, 9), sqlite3_column_int64(q, 10)};
    m.body_size = as_u64(sqlite3_column_int64(q, 11));
    const void* blob = sqlite3_column_blob(q, 12);
    m.signature_block.assign(static_cast<const char*>(blob ? blob : ""),
                             static_cast<size_t>(sqlite3_column_bytes(q, 12)));
    m.verified_signers = split_lines(column_text(q, 13));
    m.entries = as_u64(sqlite3_column_int64(q, 14));
    const void* last = sqlite3_column_blob(q, 15);
    last_key.assign(static_cast<const char*>(last ? last : ""), static_cast<size_t>(sqlite3_column_bytes(q, 15)));
  }
  {
    // Cheap consistency check (a B-tree descent, not a scan): the table
    // ends with the key the build wrote last, so it was written to the end.
    Stmt s(idx->db_, "SELECT digest, kind FROM revoked ORDER BY digest DESC, kind DESC LIMIT 1");
    if (!s.ok()) return nullptr;
    int rc = s.step();
    std::string found;
    if (rc == SQLITE_ROW) {
      const void* d = sqlite3_column_blob(s.get(), 0);
      found = key_bytes(d ? d : "", static_cast<size_t>(sqlite3_column_bytes(s.get(), 0)),
                        sqlite3_column_int64(s.get(), 1));
    } else if (rc != SQLITE_DONE) {
      return nullptr;
    }
    if (found != last_key || (idx->meta_.entries == 0) != found.empty()) return nullptr;
  }
  if (sqlite3_prepare_v2(idx->db_, "SELECT 1 FROM revoked WHERE digest = ?1 AND kind = ?2", -1, &idx->contains_,
                         nullptr) != SQLITE_OK)
    return nullptr;
  return idx;
}

bool RevocationIndex::contains(RevocationKind kind, std::string_view target) const {
  auto d = crypto::parse_sha256_ref(target);
  if (!d) return false;  // nothing else can be listed (MemoryRevocationSet alike)
  sqlite3_reset(contains_);
  if (sqlite3_bind_blob(contains_, 1, d->data(), static_cast<int>(d->size()), SQLITE_TRANSIENT) != SQLITE_OK ||
      sqlite3_bind_int(contains_, 2, revocation_kind_code(kind)) != SQLITE_OK)
    return true;
  int rc = sqlite3_step(contains_);
  sqlite3_reset(contains_);
  return rc != SQLITE_DONE;  // a row, or any error: revoked (fail closed)
}

std::optional<RevocationEntry> RevocationIndex::find(std::string_view target) const {
  // At most two rows (one per kind); nullopt also on a read error (see the interface).
  auto d = crypto::parse_sha256_ref(target);
  if (!d) return std::nullopt;
  Stmt s(db_, "SELECT kind, digest, reason, revoked_at FROM revoked WHERE digest = ?1 ORDER BY ord LIMIT 1");
  if (!s.ok() || sqlite3_bind_blob(s.get(), 1, d->data(), static_cast<int>(d->size()), SQLITE_TRANSIENT) != SQLITE_OK ||
      s.step() != SQLITE_ROW)
    return std::nullopt;
  auto e = entry_from_row(s.get(), 0);
  if (!e) return std::nullopt;
  return e.take();
}

Result<std::vector<RevocationEntry>> RevocationIndex::entries() const {
  // In key order, each put back at its list position: no sort of the table.
  Stmt s(db_, "SELECT ord, kind, digest, reason, revoked_at FROM revoked");
  if (!s.ok()) return fail("cannot query");
  std::vector<RevocationEntry> out(meta_.entries);
  std::vector<bool> filled(meta_.entries, false);
  uint64_t rows = 0;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    int64_t ord = sqlite3_column_int64(s.get(), 0);
    if (ord < 0 || as_u64(ord) >= out.size() || filled[static_cast<size_t>(ord)])
      return fail("entry " + std::to_string(ord) + " out of sequence");
    auto e = entry_from_row(s.get(), 1);
    if (!e) return e.error();
    out[static_cast<size_t>(ord)] = e.take();
    filled[static_cast<size_t>(ord)] = true;
    ++rows;
  }
  if (rc != SQLITE_DONE) return fail("cannot read");
  if (rows != meta_.entries)
    return fail("holds " + std::to_string(rows) + " entries, meta says " + std::to_string(meta_.entries));
  return out;
}

Decision RevocationIndex::restamp(const FileStamp& st) {
  Stmt s(db_, "UPDATE meta SET dev = ?1, ino = ?2, size = ?3, mtime_ns = ?4, ctime_ns = ?5 WHERE id = 1");
  if (!s.ok()) return fail("cannot prepare");
  sqlite3_bind_int64(s.get(), 1, as_i64(st.dev));
  sqlite3_bind_int64(s.get(), 2, as_i64(st.ino));
  sqlite3_bind_int64(s.get(), 3, as_i64(st.size));
  sqlite3_bind_int64(s.get(), 4, st.mtime_ns);
  sqlite3_bind_int64(s.get(), 5, st.ctime_ns);
  if (s.step() != SQLITE_DONE) return fail("cannot update");
  meta_.stamp = st;
  return Decision::allow();
}

Decision RevocationIndex::build(const std::string& path, const RevocationIndexMeta& m, const MemoryRevocationSet& set) {
  const std::vector<RevocationEntry>& entries = set.all();
  const std::vector<RevocationKey>& keys = set.keys();
  // Create the file ourselves: 0600, and never over an existing one.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return Decision::deny(DenyReason::StateUnavailable, "cannot create " + path + ": " + fs::errno_text(errno), "state",
                          path);
  close(fd);
  RevocationIndex w;
  w.path_ = path;
  sqlite::configure_once();
  if (sqlite3_open_v2(path.c_str(), &w.db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr) != SQLITE_OK)
    return w.fail("cannot open");
  // A private file nobody reads until it is renamed into place: no journal;
  // durability comes from the fsync below, before the rename. Rows arrive in
  // key order, so only the right edge of the B-tree is ever in the cache.
  if (sqlite3_exec(w.db_,
                   "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
                   "PRAGMA cache_size = -16384; BEGIN",
                   nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_exec(w.db_, kSchemaSql, nullptr, nullptr, nullptr) != SQLITE_OK)
    return w.fail("cannot create schema");
  {
    Stmt s(w.db_, "INSERT INTO meta VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
    if (!s.ok()) return w.fail("cannot prepare");
    sqlite3_stmt* q = s.get();
    std::string signers = join_lines(m.verified_signers);
    sqlite3_bind_int64(q, 1, kRevocationIndexSchema);
    sqlite3_bind_int64(q, 2, m.version);
    sqlite3_bind_int64(q, 3, as_i64(m.serial));
    sqlite3_bind_int64(q, 4, m.issued_at);
    bind_text(q, 5, m.body_digest);
    bind_text(q, 6, m.file_digest);
    sqlite3_bind_int64(q, 7, as_i64(m.stamp.dev));
    sqlite3_bind_int64(q, 8, as_i64(m.stamp.ino));
    sqlite3_bind_int64(q, 9, as_i64(m.stamp.size));
    sqlite3_bind_int64(q, 10, m.stamp.mtime_ns);
    sqlite3_bind_int64(q, 11, m.stamp.ctime_ns);
    sqlite3_bind_int64(q, 12, as_i64(m.body_size));
    sqlite3_bind_blob(q, 13, m.signature_block.data(), static_cast<int>(m.signature_block.size()), SQLITE_STATIC);
    bind_text(q, 14, signers);
    sqlite3_bind_int64(q, 15, as_i64(entries.size()));
    std::string last = keys.empty() ? std::string()
                                    : key_bytes(keys.back().digest.data(), keys.back().digest.size(), keys.back().kind);
    sqlite3_bind_blob(q, 16, last.data(), static_cast<int>(last.size()), SQLITE_TRANSIENT);
    if (s.step() != SQLITE_DONE) return w.fail("cannot write meta");
  }
  {
    Stmt s(w.db_, "INSERT INTO revoked VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!s.ok()) return w.fail("cannot prepare");
    sqlite3_stmt* q = s.get();
    for (size_t i = 0; i < keys.size(); ++i) {
      const RevocationKey& k = keys[i];
      // Key order visits the entries at random: fetch ahead, or most of
      // the loop is cache misses (a third of a 1M-entry build).
      if (i + 16 < keys.size()) __builtin_prefetch(&entries[keys[i + 16].ord]);
      const RevocationEntry& e = entries[k.ord];
      sqlite3_bind_blob(q, 1, k.digest.data(), static_cast<int>(k.digest.size()), SQLITE_STATIC);
      sqlite3_bind_int(q, 2, k.kind);
      sqlite3_bind_int64(q, 3, k.ord);
      bind_text(q, 4, e.reason);
      sqlite3_bind_int64(q, 5, e.revoked_at);
      if (s.step() != SQLITE_DONE) return w.fail("cannot write entry " + std::to_string(k.ord));
      sqlite3_reset(q);
    }
  }
  if (sqlite3_exec(w.db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return w.fail("cannot commit");
  sqlite3_close(w.db_);
  w.db_ = nullptr;
  fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    return Decision::deny(DenyReason::StateUnavailable, "cannot sync " + path + ": " + fs::errno_text(err), "state",
                          path);
  }
  close(fd);
  return Decision::allow();
}

}  // namespace gx
