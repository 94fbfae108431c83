// DigestCache: remembers that the file with a given stamp -- (device,
// inode, size, mtime, ctime), nanoseconds -- had a given SHA-256, so that
// `gx run` of an unchanged executable does not hash it again (issue #14:
// hashing the 6.8 MB python3 was 429 M of a python3 run's 433 M
// instructions). Used only together with executing the very fd whose stamp
// was looked up (ExecImage in place, lib/executable.h), for files that only
// root or the caller can modify.
//
// Why the stamp is enough: every write to a file's data and every change
// of its times (touch -d, utimensat) sets its ctime to the current time,
// and ctime cannot be set by an unprivileged process; a replaced file is a
// new inode. The one way content changes under an unchanged stamp is a
// write within the same timestamp tick as the previous change (the clock
// granularity of the filesystem): a stamp whose mtime or ctime is within
// FileStamp::kRacyNs (2 s) of now is therefore never cached (git's "racy" rule).
// Caveats: root can change a file and reset the clock; a filesystem that
// does not maintain ctime (some FUSE or network filesystems) defeats the
// rule -- gx reads such a file afresh only when its stamp changes.
//
// Storage: tags HMAC-SHA256(state secret, "gx digest cache v1" || stamp ||
// sha256) in <state>/digests.cache, through SignatureCache's tag store (the
// same secret, files and rules: no governed child can read the secret or
// write the state directory; garbage matches no tag; any failure is a miss,
// i.e. a full hash).
#pragma once

#include <sys/stat.h>

#include <ctime>
#include <string>
#include <string_view>

#include "lib/revocation_index.h"  // FileStamp: the same stamp the revocation index keys on
#include "lib/signature_cache.h"

namespace gx {

inline constexpr std::string_view kDigestCacheFile = "digests.cache";

class DigestCache {
 public:
  // `tags` may be disabled (then nothing is known or remembered); it must
  // outlive this object.
  explicit DigestCache(const SignatureCache& tags) : tags_(tags) {}

  // Was a file with exactly this stamp recorded as having `sha256_hex`?
  bool known(const FileStamp& stamp, std::string_view sha256_hex) const;
  // Records a digest the caller has just computed from the file's bytes,
  // read through a descriptor whose stamp was `stamp` before and after the
  // read. Not when the stamp is racy (see above). Best effort.
  void remember(const FileStamp& stamp, std::string_view sha256_hex) const;

 private:
  static std::string fact(const FileStamp& stamp, std::string_view sha256_hex);
  const SignatureCache& tags_;
};

}  // namespace gx
