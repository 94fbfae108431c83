#include "lib/digest_cache.h"

#include <cstdint>
#include <ctime>

#include "lib/clock.h"

namespace gx {

std::string DigestCache::fact(const FileStamp& s, std::string_view sha256_hex) {
  std::string msg = "gx digest cache v1";
  auto put = [&](uint64_t v) {
    for (int i = 7; i >= 0; --i) msg += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  put(s.dev);
  put(s.ino);
  put(s.size);
  put(static_cast<uint64_t>(s.mtime_ns));
  put(static_cast<uint64_t>(s.ctime_ns));
  put(sha256_hex.size());
  msg += sha256_hex;
  return msg;
}

bool DigestCache::known(const FileStamp& stamp, std::string_view sha256_hex) const {
  return tags_.known_fact(kDigestCacheFile, fact(stamp, sha256_hex));
}

void DigestCache::remember(const FileStamp& stamp, std::string_view sha256_hex) const {
  if (stamp.racy_at(now_unix_ns())) return;
  tags_.remember_fact(kDigestCacheFile, fact(stamp, sha256_hex));
}

}  // namespace gx
