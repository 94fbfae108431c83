// The signature cache: a tag is known only for the exact (key, type, body,
// signature) it was recorded for, only under the state's own secret, and a
// cache file anyone else wrote (garbage, torn, foreign) is never trusted.
#include "lib/signature_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "lib/crypto.h"
#include "tests/test_util.h"

using namespace gx;

namespace {

struct TempDir : gx::test::TempDir {
  TempDir() : gx::test::TempDir("sigcache") {}
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A cache that must be usable for the test to mean anything.
SignatureCache open_enabled(const std::string& dir, bool create) {
  auto c = SignatureCache::open(dir, create);
  REQUIRE(c.enabled());
  return c;
}

// One artifact signature over "body" and the questions asked about it.
struct Signed {
  Signed() {
    REQUIRE(key);
    REQUIRE(sig);
  }
  bool known_by(const SignatureCache& c) const {
    return c.known(key->public_key(), crypto::kArtifactType, "body", *sig);
  }
  void remember_in(const SignatureCache& c) const {
    c.remember(key->public_key(), crypto::kArtifactType, "body", *sig);
  }

  Result<crypto::PrivateKey> key = crypto::PrivateKey::generate();
  Result<std::string> sig = key ? key->sign(crypto::kArtifactType, "body") : Result<std::string>(key.error());
};

}  // namespace

TEST_CASE("signature cache: only the exact recorded combination is known") {
  TempDir t;
  Signed s;
  auto other = crypto::PrivateKey::generate();
  REQUIRE(other);
  const auto& pub = s.key->public_key();
  const std::string& sig = *s.sig;
  auto cache = open_enabled(t.path + "/state", true);
  CHECK_FALSE(s.known_by(cache));
  s.remember_in(cache);
  CHECK(s.known_by(cache));
  CHECK_FALSE(cache.known(pub, crypto::kArtifactType, "bodY", sig));
  CHECK_FALSE(cache.known(pub, crypto::kReceiptType, "body", sig));
  CHECK_FALSE(cache.known(other->public_key(), crypto::kArtifactType, "body", sig));
  CHECK_FALSE(cache.known(pub, crypto::kArtifactType, "body", sig + "x"));
  // A new process (a fresh open) sees the record.
  auto again = open_enabled(t.path + "/state", false);
  CHECK(s.known_by(again));
}

TEST_CASE("signature cache: tags from another secret, garbage and torn files are never trusted") {
  TempDir t;
  Signed s;
  // Another state directory (another secret) records the same combination:
  // its cache file copied over ours matches nothing here.
  auto theirs = open_enabled(t.path + "/theirs", true);
  auto ours = open_enabled(t.path + "/ours", true);
  s.remember_in(theirs);
  REQUIRE(s.known_by(theirs));
  const std::string cache_file = t.path + "/ours/" + std::string(kSignatureCacheFile);
  write_bytes(cache_file, read_bytes(t.path + "/theirs/" + std::string(kSignatureCacheFile)));
  CHECK_FALSE(s.known_by(ours));
  // A torn file (not a whole number of tags) is not read at all, even if a
  // valid tag is in it.
  s.remember_in(ours);
  REQUIRE(s.known_by(ours));
  write_bytes(cache_file, read_bytes(cache_file) + "x");
  // Read afresh (as a new process would: a fresh open has no memo), not trusted.
  CHECK_FALSE(s.known_by(open_enabled(t.path + "/ours", false)));
  // The cache that saw the tag keeps it in its memo: the fact holds whatever
  // the file says now.
  CHECK(s.known_by(ours));
  // The next record starts the file over (read afresh: the tag is in it).
  s.remember_in(ours);
  CHECK(std::filesystem::file_size(cache_file) == SignatureCache::kTagBytes);
  CHECK(s.known_by(open_enabled(t.path + "/ours", false)));
  // A replaced secret invalidates every tag made under the old one.
  write_bytes(t.path + "/ours/" + std::string(kSignatureCacheKeyFile), std::string(32, 'k'));
  chmod((t.path + "/ours/" + std::string(kSignatureCacheKeyFile)).c_str(), 0600);
  auto rekeyed = open_enabled(t.path + "/ours", false);
  CHECK_FALSE(s.known_by(rekeyed));
}

TEST_CASE("signature cache: an unusable secret disables the cache") {
  TempDir t;
  Signed s;
  SECTION("dry run on a state without a secret: nothing created, nothing known") {
    REQUIRE(mkdir((t.path + "/s").c_str(), 0700) == 0);
    auto c = SignatureCache::open(t.path + "/s", false);
    CHECK_FALSE(c.enabled());
    s.remember_in(c);
    CHECK_FALSE(std::filesystem::exists(t.path + "/s/" + std::string(kSignatureCacheKeyFile)));
    CHECK_FALSE(std::filesystem::exists(t.path + "/s/" + std::string(kSignatureCacheFile)));
  }
  SECTION("a secret readable by others, of the wrong size, or a symlink") {
    auto c = SignatureCache::open(t.path + "/s", true);
    REQUIRE(c.enabled());
    const std::string secret = t.path + "/s/" + std::string(kSignatureCacheKeyFile);
    REQUIRE(chmod(secret.c_str(), 0644) == 0);
    CHECK_FALSE(SignatureCache::open(t.path + "/s", true).enabled());
    REQUIRE(chmod(secret.c_str(), 0600) == 0);
    CHECK(SignatureCache::open(t.path + "/s", true).enabled());
    write_bytes(secret, std::string(31, 'k'));
    CHECK_FALSE(SignatureCache::open(t.path + "/s", true).enabled());
    std::filesystem::remove(secret);
    write_bytes(t.path + "/elsewhere", std::string(32, 'k'));
    chmod((t.path + "/elsewhere").c_str(), 0600);
    std::filesystem::create_symlink(t.path + "/elsewhere", secret);
    CHECK_FALSE(SignatureCache::open(t.path + "/s", true).enabled());
  }
}
