// lib/trust_store: parsing, rendering, key validity windows, and the file checks.
#include "lib/trust_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "tests/test_util.h"

using namespace gx;
using gx::test::TempDir;

namespace {

const crypto::PublicKey& test_key(int which) {
  static const crypto::PrivateKey a = crypto::PrivateKey::generate().take();
  static const crypto::PrivateKey b = crypto::PrivateKey::generate().take();
  return which == 0 ? a.public_key() : b.public_key();
}

std::string key_entry(const std::string& name, const crypto::PublicKey& k, const std::string& extra = "",
                      const std::string& id_override = "") {
  return "[[key]]\nname = \"" + name + "\"\nid = \"" + (id_override.empty() ? k.key_id() : id_override) +
         "\"\npublic_key = \"\"\"" + k.pem() + "\"\"\"\n" + extra;
}

}  // namespace

TEST_CASE("trust store: parse, find, render round-trip") {
  std::string text = "version = 1\nthreshold = 2\nskew_seconds = 30\n" + key_entry("alice", test_key(0)) +
                     key_entry("bob", test_key(1), "not_after = \"2030-01-01T00:00:00Z\"\nrevoked = true\n");
  auto s = TrustStore::parse(text, "trust.toml");
  REQUIRE(s.ok());
  CHECK(s->threshold == 2);
  CHECK(s->skew_seconds == 30);
  REQUIRE(s->keys.size() == 2);
  const TrustedKey* bob = s->find(test_key(1).key_id());
  REQUIRE(bob != nullptr);
  CHECK(bob->name == "bob");
  CHECK(bob->revoked);
  CHECK(bob->not_after == parse_utc("2030-01-01T00:00:00Z"));
  CHECK(s->find("sha256:0000") == nullptr);

  auto again = TrustStore::parse(s->render(), "rendered");
  REQUIRE(again.ok());
  CHECK(again->render() == s->render());
  CHECK(again->threshold == 2);
  CHECK(again->keys.size() == 2);
}

TEST_CASE("trust store: every problem is trust-store-invalid naming the field") {
  auto bad = [](const std::string& text) {
    auto s = TrustStore::parse(text, "trust.toml");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().reason == DenyReason::TrustStoreInvalid);
    CHECK(s.error().detail.rfind("trust.toml: ", 0) == 0);
    return s.error();
  };
  CHECK(bad("threshold = 1\n").field == "version");
  CHECK(bad("version = 2\n").field == "version");
  CHECK(bad("version = 1\nthreshold = 0\n").field == "threshold");
  CHECK(bad("version = 1\nskew_seconds = 3601\n").field == "skew_seconds");
  CHECK(bad("version = 1\nsurprise = 1\n").field == "surprise");
  CHECK(bad("version = 1\n" + key_entry("a", test_key(0), "", test_key(1).key_id())).field == "key[0].id");
  CHECK(bad("version = 1\n" + key_entry("a", test_key(0)) + key_entry("b", test_key(0))).field == "key[1].id");
  CHECK(bad("version = 1\n" + key_entry("a", test_key(0), "not_before = \"yesterday\"\n")).field ==
        "key[0].not_before");
  CHECK(bad("version = 1\n" + key_entry("a", test_key(0), "extra = 1\n")).field == "key[0].extra");
}

TEST_CASE("TrustedKey::usable_at: revoked, and the window with skew on both ends") {
  TrustedKey k;
  k.name = "alice";
  k.key_id = "sha256:ab";
  k.not_before = 1000;
  k.not_after = 2000;
  CHECK(k.usable_at(1000, 0).allowed());
  CHECK(k.usable_at(2000, 0).allowed());
  CHECK(k.usable_at(999, 0).reason == DenyReason::KeyExpired);
  CHECK(k.usable_at(2001, 0).reason == DenyReason::KeyExpired);
  CHECK(k.usable_at(990, 10).allowed());
  CHECK(k.usable_at(2010, 10).allowed());
  CHECK(k.usable_at(2011, 10).reason == DenyReason::KeyExpired);
  k.revoked = true;
  CHECK(k.usable_at(1500, 0).reason == DenyReason::KeyRevoked);
}

TEST_CASE("trust store files: missing, FIFO and writable by others are refused; save then load") {
  TempDir t;
  const std::string path = t.path + "/trust.toml";
  auto missing = TrustStore::load(path);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().reason == DenyReason::TrustStoreInvalid);
  auto empty = TrustStore::load_or_empty(path);
  REQUIRE(empty.ok());
  CHECK(empty->keys.empty());

  TrustStore s;
  s.keys.push_back(TrustStore::parse("version = 1\n" + key_entry("alice", test_key(0)), "x")->keys[0]);
  REQUIRE(s.save(path).allowed());
  auto loaded = TrustStore::load(path);
  REQUIRE(loaded.ok());
  CHECK(loaded->keys.size() == 1);

  REQUIRE(chmod(path.c_str(), 0666) == 0);
  auto writable = TrustStore::load(path);
  REQUIRE_FALSE(writable.ok());
  CHECK(writable.error().reason == DenyReason::TrustStoreInvalid);
  REQUIRE(chmod(path.c_str(), 0644) == 0);

  REQUIRE(chmod(t.path.c_str(), 0777) == 0);
  CHECK_FALSE(TrustStore::load(path).ok());  // a directory others can write: they could swap the file
  REQUIRE(chmod(t.path.c_str(), 0700) == 0);

  const std::string fifo = t.path + "/fifo.toml";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  auto f = TrustStore::load(fifo);  // must not hang
  REQUIRE_FALSE(f.ok());
  CHECK(f.error().reason == DenyReason::TrustStoreInvalid);
}
