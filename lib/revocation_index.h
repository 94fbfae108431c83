// The verified revocation list, cached as a SQLite index in
// <state>/revocations.db so that a run does not re-parse a large TOML list
// (docs/replay.md, "Verified index"; docs/performance.md, "Revocation list").
//
// The TOML file stays the signed source of truth. This module only stores
// and reads what lib/revocation_load.cc has ALREADY fully validated
// (signatures, quorum, strict parse, rollback record); it decides nothing
// itself. Whether the index may stand in for the file is decided by
// RevocationList::load(). It is one of the two RevocationSet
// implementations (lib/revocation_set.h).
//
//   meta(id = 1, schema, version, serial, issued_at, body_digest, file_digest,
//        dev, ino, size, mtime_ns, ctime_ns, body_size, signature_block,
//        verified_signers, entries, last_key)
//   revoked(digest BLOB, kind, ord, reason, revoked_at,
//           PRIMARY KEY (digest, kind)) WITHOUT ROWID
// digest is the 32 bytes a target "sha256:<hex>" names; ord the entry's
// position in list order; last_key the greatest (digest, kind), which
// open() checks the table ends with. Schema 1 (text targets, a rowid table
// and a separate index: 3x slower to build) is "no index" to this version.
//
// Trust: the state directory is gx's (0700, ensure_state_dir) and no
// governed child may write it (authority.h own_files), so the index is as
// trustworthy as the rollback record beside it. It is never trusted for more
// than "these are the entries of the list whose bytes hash to file_digest".
// Fail closed: an index that cannot be opened or read is "no index" (the
// caller does the full verified load); a lookup that fails after opening
// answers "revoked".
//
// Not thread-safe for concurrent use of one RevocationIndex (gx is single
// threaded when it loads and consults the list).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/decision.h"
#include "lib/revocation_set.h"

struct sqlite3;
struct sqlite3_stmt;

namespace gx {

inline constexpr int kRevocationIndexSchema = 2;

// What the kernel says about the list file. Any write() or truncate() sets
// mtime and ctime, a replacement by rename() is another inode, and ctime
// cannot be set from user space: equal stamps mean "not modified since",
// unless the modification fell in the same timestamp tick as our read
// (load() handles that "racy" case by not recording such a stamp).
struct FileStamp {
  // A file changed within this long before it was read may change again in
  // the same timestamp tick without its stamp changing (coarse or 1-2 s
  // filesystem timestamps; git calls such a stamp "racy"). A racy stamp is
  // never recorded (revocation index, digest cache): the next reader
  // re-reads the file instead of trusting it.
  static constexpr int64_t kRacyNs = 2'000'000'000;

  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
  bool known() const { return ino != 0 || ctime_ns != 0; }
  // Changed within kRacyNs before `read_started_ns` (lib/clock.h now_unix_ns).
  bool racy_at(int64_t read_started_ns) const {
    return mtime_ns > read_started_ns - kRacyNs || ctime_ns > read_started_ns - kRacyNs;
  }
  static FileStamp of(const struct stat& st);
};

struct RevocationIndexMeta {
  int version = 0;
  uint64_t serial = 0;
  UnixTime issued_at = 0;
  std::string body_digest;                    // "sha256:<hex>" of the signed body (as in the rollback record)
  std::string file_digest;                    // "sha256:<hex>" of the whole file: the content key
  FileStamp stamp;                            // the file those bytes were read from; unknown: re-hash to use the index
  uint64_t body_size = 0;                     // the signature block starts at this offset
  std::string signature_block;                // the file's bytes from body_size to EOF
  std::vector<std::string> verified_signers;  // public-key ids whose every signature verified
  uint64_t entries = 0;
};

class RevocationIndex final : public RevocationSet {
 public:
  ~RevocationIndex() override;
  RevocationIndex(const RevocationIndex&) = delete;
  RevocationIndex& operator=(const RevocationIndex&) = delete;

  // The index in state_dir, or nullptr when there is none or it is not
  // usable (unreadable, corrupt, another schema, inconsistent counts).
  static std::shared_ptr<RevocationIndex> open(const std::string& state_dir);
  // Writes a complete index of `set` to `path` (which must not exist), 0600,
  // synced to disk, rows in the set's key order. The caller renames it into place.
  static Decision build(const std::string& path, const RevocationIndexMeta& meta, const MemoryRevocationSet& set);

  const RevocationIndexMeta& meta() const { return meta_; }
  // RevocationSet. entries() is checked against meta().entries.
  bool contains(RevocationKind kind, std::string_view target) const override;
  std::optional<RevocationEntry> find(std::string_view target) const override;
  Result<std::vector<RevocationEntry>> entries() const override;
  // Records a new stamp for the same bytes (after load() re-hashed the file).
  Decision restamp(const FileStamp& stamp);

 private:
  RevocationIndex() = default;
  Decision fail(const std::string& what) const;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* contains_ = nullptr;
  std::string path_;
  RevocationIndexMeta meta_;
};

std::string revocations_index_path(const std::string& state_dir);

}  // namespace gx
