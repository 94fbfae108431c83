// The signed revocation list: lookups, signature/threshold rules, strict
// parsing, and rollback protection (validate first, then persist).
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "lib/fsutil.h"
#include "lib/revocation.h"

using namespace gx;

namespace {

constexpr UnixTime kNow = 1'900'000'000;

struct Fixture {
  std::string dir, list_path, state;
  crypto::PrivateKey a, b, outsider;
  TrustStore trust;

  Fixture() {
    std::string t = "/tmp/gx-rev-test.XXXXXX";
    REQUIRE(mkdtemp(t.data()) != nullptr);
    dir = t;
    list_path = dir + "/revocations.toml";
    state = dir + "/state";
    a = gen();
    b = gen();
    outsider = gen();
    trust.keys.push_back(TrustedKey{"alice", a.public_key(), a.public_key().key_id(), {}, {}, false});
    trust.keys.push_back(TrustedKey{"bob", b.public_key(), b.public_key().key_id(), {}, {}, false});
  }
  ~Fixture() { std::filesystem::remove_all(dir); }

  static crypto::PrivateKey gen() {
    auto k = crypto::PrivateKey::generate();
    REQUIRE(k.ok());
    return k.take();
  }
  std::string id(const crypto::PrivateKey& k) const { return k.public_key().key_id(); }

  RevocationList next(const RevocationList& prev, std::vector<RevocationEntry> added,
                      std::vector<const crypto::PrivateKey*> signers) {
    auto l = prev.successor(added, kNow);
    REQUIRE(l.ok());
    for (auto* k : signers) REQUIRE(l->add_signature(*k));
    return l.take();
  }
  void write(const std::string& text) { REQUIRE(fs::write_file_atomic(list_path, text, 0644, fs::Overwrite::Yes)); }
  std::string read() { return *fs::read_file(list_path, kRevocationsMaxBytes); }
  Result<RevocationList> load(UnixTime now = kNow) { return RevocationList::load(list_path, trust, state, now); }
  // Signs arbitrary body text, for malformed-content tests.
  std::string sign_raw(const std::string& body, const crypto::PrivateKey& k,
                       std::string_view type = crypto::kRevocationsType) {
    auto sig = k.sign(type, body);
    REQUIRE(sig.ok());
    return body + render_signature(Signature{id(k), std::string(crypto::kAlgorithm), *sig});
  }
};

std::string art(const std::string& tag) { return "sha256:" + crypto::sha256_hex("artifact " + tag); }
RevocationEntry revoke_art(const std::string& tag) { return {RevocationKind::Artifact, art(tag), "test", kNow}; }
RevocationEntry revoke_key(const std::string& key_id) { return {RevocationKind::Key, key_id, "compromised", kNow}; }

void require_invalid(const Result<RevocationList>& r, const std::string& needle = "") {
  REQUIRE_FALSE(r.ok());
  INFO(r.error().detail);
  CHECK(r.error().reason == DenyReason::RevocationListInvalid);
  if (!needle.empty()) CHECK(r.error().detail.find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("no list file and no serial seen: nothing is revoked") {
  Fixture f;
  auto l = f.load();
  REQUIRE(l.ok());
  CHECK(l->serial() == 0);
  CHECK(l->entries().empty());
  CHECK(l->check(art("x"), {f.id(f.a)}).allowed());
  CHECK_FALSE(fs::exists(revocations_serial_path(f.state)));
}

TEST_CASE("a revoked artifact is denied as revoked; others pass") {
  Fixture f;
  f.write(f.next({}, {revoke_art("bad")}, {&f.a}).file_text());
  auto l = f.load();
  REQUIRE(l.ok());
  CHECK(l->serial() == 1);
  Decision d = l->check(art("bad"), {f.id(f.a)});
  CHECK(d.reason == DenyReason::Revoked);
  CHECK(d.detail.find("test") != std::string::npos);  // the reason is shown
  CHECK(l->artifact_revoked(art("bad")));
  CHECK_FALSE(l->artifact_revoked(art("good")));
  CHECK(l->check(art("good"), {f.id(f.a)}).allowed());
}

TEST_CASE("a revoked key: key_revoked, and artifacts signed only by revoked keys are denied") {
  Fixture f;
  f.write(f.next({}, {revoke_key(f.id(f.b))}, {&f.a}).file_text());
  auto l = f.load();
  REQUIRE(l.ok());
  CHECK(l->key_revoked(f.id(f.b)));
  CHECK_FALSE(l->key_revoked(f.id(f.a)));
  CHECK(l->check(art("x"), {f.id(f.b)}).reason == DenyReason::Revoked);
  CHECK(l->check(art("x"), {f.id(f.a), f.id(f.b)}).allowed());
  CHECK(l->check(art("x"), {}).allowed());
  // Copies keep working lookups (the index is rebuilt).
  RevocationList copy = *l;
  RevocationList assigned;
  assigned = copy;
  CHECK(copy.key_revoked(f.id(f.b)));
  CHECK(assigned.key_revoked(f.id(f.b)));
}

TEST_CASE("tampering with one byte of the body invalidates the list and records nothing") {
  Fixture f;
  std::string text = f.next({}, {revoke_art("bad")}, {&f.a}).file_text();
  auto pos = text.find(art("bad"));
  REQUIRE(pos != std::string::npos);
  text[pos + 10] = text[pos + 10] == 'a' ? 'b' : 'a';  // still a valid digest: only the signature catches it
  f.write(text);
  require_invalid(f.load(), "does not verify");
  CHECK_FALSE(fs::exists(revocations_serial_path(f.state)));  // validate first, then persist
}

TEST_CASE("signatures that do not make a valid list") {
  Fixture f;
  SECTION("signed by an untrusted key") {
    f.write(f.next({}, {revoke_art("x")}, {&f.outsider}).file_text());
    require_invalid(f.load());
  }
  SECTION("not signed at all") {
    f.write(f.next({}, {revoke_art("x")}, {}).file_text());
    require_invalid(f.load(), "not signed");
  }
  SECTION("signed for another kind of object (artifact domain)") {
    std::string body = f.next({}, {revoke_art("x")}, {}).body();
    f.write(f.sign_raw(body, f.a, crypto::kArtifactType));
    require_invalid(f.load(), "does not verify");
  }
  SECTION("a trusted key's bad signature next to a good one") {
    RevocationList l = f.next({}, {revoke_art("x")}, {&f.a});
    std::string other_body = f.next({}, {revoke_art("y")}, {}).body();
    auto sig = f.b.sign(crypto::kRevocationsType, other_body);
    f.write(l.file_text() + "\n" + render_signature(Signature{f.id(f.b), std::string(crypto::kAlgorithm), *sig}));
    require_invalid(f.load(), "does not verify");
  }
  SECTION("signer revoked in the trust store") {
    f.trust.keys[0].revoked = true;
    f.write(f.next({}, {revoke_art("x")}, {&f.a}).file_text());
    require_invalid(f.load());
  }
  SECTION("signer outside its validity window") {
    f.trust.keys[0].not_after = kNow - 1;
    f.write(f.next({}, {revoke_art("x")}, {&f.a}).file_text());
    require_invalid(f.load());
  }
  SECTION("signer revoked by this very list") {
    f.write(f.next({}, {revoke_key(f.id(f.a))}, {&f.a}).file_text());
    require_invalid(f.load(), "required");
    // ... while another trusted key may revoke it.
    f.write(f.next({}, {revoke_key(f.id(f.a))}, {&f.b}).file_text());
    CHECK(f.load().ok());
  }
}

TEST_CASE("the trust store threshold counts distinct keys") {
  Fixture f;
  f.trust.threshold = 2;
  RevocationList one = f.next({}, {revoke_art("x")}, {&f.a});
  f.write(one.file_text());
  require_invalid(f.load(), "2 required");
  RevocationList twice = f.next({}, {revoke_art("x")}, {&f.a, &f.a});
  f.write(twice.file_text());
  require_invalid(f.load(), "2 required");
  RevocationList both = f.next({}, {revoke_art("x")}, {&f.a, &f.b});
  f.write(both.file_text());
  auto l = f.load();
  INFO(l.error().detail);
  CHECK(l.ok());
  CHECK(both.verify(f.trust, kNow).allowed());
}

TEST_CASE("malformed content is invalid, even when properly signed") {
  Fixture f;
  const std::string head = "version = 1\nserial = 1\nissued_at = \"2030-03-17T17:46:40Z\"\n";
  const std::string good_entry = "[[entry]]\nartifact = \"" + art("x") + "\"\nrevoked_at = \"2030-03-17T17:46:40Z\"\n";
  // Sanity: the well-formed variant is accepted, so each failure below is about its one defect.
  f.write(f.sign_raw(head + good_entry + "\n", f.a));
  REQUIRE(f.load().ok());
  std::filesystem::remove_all(f.state);

  std::vector<std::pair<std::string, std::string>> cases = {
      {"unknown top-level field", head + "extra = 1\n" + good_entry},
      {"unknown entry field", head + good_entry + "colour = \"red\"\n"},
      {"version 2", "version = 2\nserial = 1\nissued_at = \"2030-03-17T17:46:40Z\"\n" + good_entry},
      {"serial 0", "version = 1\nserial = 0\nissued_at = \"2030-03-17T17:46:40Z\"\n" + good_entry},
      {"serial a string", "version = 1\nserial = \"1\"\nissued_at = \"2030-03-17T17:46:40Z\"\n" + good_entry},
      {"missing issued_at", "version = 1\nserial = 1\n" + good_entry},
      {"local time", "version = 1\nserial = 1\nissued_at = \"2030-03-17T17:46:40\"\n" + good_entry},
      {"both targets", head + "[[entry]]\nartifact = \"" + art("x") + "\"\nkey_id = \"" + art("y") +
                           "\"\nrevoked_at = \"2030-03-17T17:46:40Z\"\n"},
      {"no target", head + "[[entry]]\nreason = \"r\"\nrevoked_at = \"2030-03-17T17:46:40Z\"\n"},
      {"bad digest", head + "[[entry]]\nartifact = \"sha256:ABC\"\nrevoked_at = \"2030-03-17T17:46:40Z\"\n"},
      {"same target twice", head + good_entry + good_entry},
      {"duplicate key", head + "serial = 2\n" + good_entry},
      {"entry not a table array", head + "entry = [1, 2]\n"},
  };
  for (const auto& [name, body] : cases) {
    INFO(name);
    f.write(f.sign_raw(body, f.a));
    require_invalid(f.load());
    CHECK_FALSE(fs::exists(revocations_serial_path(f.state)));
  }
}

TEST_CASE("rollback: an older list, a rewritten serial, or a deleted list is invalid") {
  Fixture f;
  RevocationList l1 = f.next({}, {revoke_art("one")}, {&f.a});
  RevocationList l2 = f.next(l1, {revoke_art("two")}, {&f.a});
  f.write(l1.file_text());
  REQUIRE(f.load().ok());
  std::string saved = f.read();
  f.write(l2.file_text());
  auto now2 = f.load();
  REQUIRE(now2.ok());
  CHECK(now2->serial() == 2);
  auto seen = read_seen_revocations(f.state);
  REQUIRE(seen.ok());
  REQUIRE(seen->has_value());
  CHECK((*seen)->serial == 2);
  CHECK((*seen)->body_digest == l2.digest());

  SECTION("restoring the old file") {
    f.write(saved);
    require_invalid(f.load(), "rollback: serial 1 < 2 already seen");
  }
  SECTION("same serial, different body") {
    RevocationList forked = f.next(l1, {revoke_art("other")}, {&f.a});
    REQUIRE(forked.serial() == 2);
    f.write(forked.file_text());
    require_invalid(f.load(), "different body");
  }
  SECTION("deleting the file") {
    std::filesystem::remove(f.list_path);
    require_invalid(f.load(), "missing");
  }
  SECTION("the same list again, and a newer one, are fine") {
    CHECK(f.load().ok());
    f.write(f.next(l2, {revoke_art("three")}, {&f.b}).file_text());
    auto l3 = f.load();
    REQUIRE(l3.ok());
    CHECK(l3->artifact_revoked(art("one")));
    CHECK(l3->artifact_revoked(art("three")));
    CHECK((*read_seen_revocations(f.state))->serial == 3);
  }
  // Whatever was rejected, the record still says 2 (or 3): never lowered.
  CHECK((*read_seen_revocations(f.state))->serial >= 2);
}

TEST_CASE("the rollback record is only ever raised and must be well-formed") {
  Fixture f;
  REQUIRE(record_revocations_serial(f.state, 5, art("five")));
  Decision lower = record_revocations_serial(f.state, 3, art("three"));
  CHECK(lower.reason == DenyReason::RevocationListInvalid);
  CHECK(lower.detail == "rollback: serial 3 < 5 already seen");
  CHECK(record_revocations_serial(f.state, 5, art("five")).allowed());
  CHECK(record_revocations_serial(f.state, 5, art("other")).reason == DenyReason::RevocationListInvalid);
  CHECK((*read_seen_revocations(f.state))->serial == 5);
  REQUIRE(record_revocations_serial(f.state, 6, art("six")));
  CHECK(*fs::read_file(revocations_serial_path(f.state), 256) == "6 " + art("six") + "\n");

  for (const std::string& bad : std::vector<std::string>{"", "6\n", "six " + art("six") + "\n", "6 " + art("six"), "0 " + art("z") + "\n"}) {
    INFO(bad);
    REQUIRE(fs::write_file_atomic(revocations_serial_path(f.state), bad, 0600, fs::Overwrite::Yes));
    auto r = read_seen_revocations(f.state);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == DenyReason::StateUnavailable);
    CHECK(f.load().error().reason == DenyReason::StateUnavailable);  // fail closed
  }
}

TEST_CASE("successor refuses to revoke the same target twice and renders a parseable list") {
  Fixture f;
  RevocationList l1 = f.next({}, {revoke_art("x"), revoke_key(f.id(f.b))}, {&f.a});
  auto dup = l1.successor({revoke_art("x")}, kNow);
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().reason == DenyReason::Usage);
  auto parsed = RevocationList::parse_unverified(l1.file_text(), "test");
  REQUIRE(parsed.ok());
  CHECK(parsed->body() == l1.body());
  CHECK(parsed->digest() == l1.digest());
  CHECK(parsed->entries().size() == 2);
  CHECK(parsed->signatures().size() == 1);
  CHECK(parsed->verify(f.trust, kNow).allowed());
}
