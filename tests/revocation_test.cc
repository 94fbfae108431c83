// The signed revocation list: lookups, signature/threshold rules, strict
// parsing, and rollback protection (validate first, then persist).
#include "lib/revocation.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>

#include "lib/fsutil.h"
#include "lib/revocation_index.h"
#include "lib/revoke.h"

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
  // Copies keep working lookups (they share the lookup set).
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
  SECTION("signer outside its validity window (beyond the trust store's skew)") {
    f.trust.keys[0].not_after = kNow - f.trust.skew_seconds - 1;
    f.write(f.next({}, {revoke_art("x")}, {&f.a}).file_text());
    require_invalid(f.load());
  }
  SECTION("signer revoked by this very list") {
    f.write(f.next({}, {revoke_key(f.id(f.a))}, {&f.a}).file_text());
    require_invalid(f.load(), "is revoked by the revocation list");
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
  auto seen = read_seen_revocations(f.state, f.list_path);
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
    CHECK((*read_seen_revocations(f.state, f.list_path))->serial == 3);
  }
  // Whatever was rejected, the record still says 2 (or 3): never lowered.
  CHECK((*read_seen_revocations(f.state, f.list_path))->serial >= 2);
}

TEST_CASE("the rollback record is only ever raised and must be well-formed") {
  Fixture f;
  REQUIRE(record_revocations_serial(f.state, f.list_path, 5, art("five")));
  Decision lower = record_revocations_serial(f.state, f.list_path, 3, art("three"));
  CHECK(lower.reason == DenyReason::RevocationListInvalid);
  CHECK(lower.detail == "rollback: serial 3 < 5 already seen");
  CHECK(record_revocations_serial(f.state, f.list_path, 5, art("five")).allowed());
  CHECK(record_revocations_serial(f.state, f.list_path, 5, art("other")).reason == DenyReason::RevocationListInvalid);
  CHECK((*read_seen_revocations(f.state, f.list_path))->serial == 5);
  REQUIRE(record_revocations_serial(f.state, f.list_path, 6, art("six")));
  CHECK(*fs::read_file(revocations_serial_path(f.state), 4096) ==
        "gx-revocation-serials 2\n" + revocation_list_key(f.list_path) + " 6 " + art("six") + "\n");

  const std::string h = "gx-revocation-serials 2\n", k = revocation_list_key(f.list_path);
  for (const std::string& bad : std::vector<std::string>{
           "", "6\n", "six " + art("six") + "\n", "6 " + art("six"), "0 " + art("z") + "\n",
           "6 " + art("six") + "\n" /* version 1: one serial for every list */, h + k + " 6 " + art("six"),
           h + k + " 0 " + art("six") + "\n", h + k + " 6 " + art("six") + "\n" + k + " 7 " + art("six") + "\n",
           h + "sha256:xyz 6 " + art("six") + "\n", "gx-revocation-serials 3\n"}) {
    INFO(bad);
    REQUIRE(fs::write_file_atomic(revocations_serial_path(f.state), bad, 0600, fs::Overwrite::Yes));
    auto r = read_seen_revocations(f.state, f.list_path);
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

// ---- the verified index (<state>/revocations.db) ----

namespace {

std::string index_path(const Fixture& f) { return revocations_index_path(f.state); }

// Everything a caller can observe about a list, for cache-versus-fresh comparisons.
void require_same_answers(const RevocationList& fresh, const RevocationList& cached,
                          const std::vector<std::string>& probes,
                          const std::vector<std::vector<std::string>>& signer_sets) {
  CHECK(cached.serial() == fresh.serial());
  CHECK(cached.version() == fresh.version());
  CHECK(cached.issued_at() == fresh.issued_at());
  CHECK(cached.digest() == fresh.digest());
  REQUIRE(cached.signatures().size() == fresh.signatures().size());
  for (size_t i = 0; i < fresh.signatures().size(); ++i) {
    CHECK(cached.signatures()[i].key_id == fresh.signatures()[i].key_id);
    CHECK(cached.signatures()[i].value == fresh.signatures()[i].value);
  }
  REQUIRE(cached.entries().size() == fresh.entries().size());
  for (size_t i = 0; i < fresh.entries().size(); ++i) {
    CHECK(cached.entries()[i].kind == fresh.entries()[i].kind);
    CHECK(cached.entries()[i].target == fresh.entries()[i].target);
    CHECK(cached.entries()[i].reason == fresh.entries()[i].reason);
    CHECK(cached.entries()[i].revoked_at == fresh.entries()[i].revoked_at);
  }
  for (const auto& p : probes) {
    INFO(p);
    CHECK(cached.artifact_revoked(p) == fresh.artifact_revoked(p));
    CHECK(cached.key_revoked(p) == fresh.key_revoked(p));
    std::optional<RevocationEntry> a = fresh.find(p);
    std::optional<RevocationEntry> b = cached.find(p);
    REQUIRE(a.has_value() == b.has_value());
    if (a) {
      CHECK(a->kind == b->kind);
      CHECK(a->reason == b->reason);
      CHECK(a->revoked_at == b->revoked_at);
    }
    for (const auto& signers : signer_sets) {
      Decision x = fresh.check(p, signers), y = cached.check(p, signers);
      CHECK(x.reason == y.reason);
      CHECK(x.detail == y.detail);
      CHECK(x.field == y.field);
      CHECK(x.value == y.value);
    }
  }
}

// Signs a body listing `target` both as an artifact and as a key (allowed:
// the kinds are separate), plus a few others, with reasons and times.
std::string mixed_list(Fixture& f, uint64_t serial) {
  std::string body =
      "# hand-written: comments and spacing the renderer would not produce\n"
      "version = 1\nserial = " +
      std::to_string(serial) +
      "\nissued_at = \"2030-03-17T17:46:40Z\"\n\n"
      "[[entry]]\nartifact = \"" +
      art("a") +
      "\"\nreason = \"first\"\nrevoked_at = \"2030-01-01T00:00:00Z\"\n"
      "[[entry]]\nkey_id = \"" +
      f.id(f.b) +
      "\"\nrevoked_at = \"2030-01-02T00:00:00Z\"\n"
      "[[entry]]\nkey_id = \"" +
      art("both") +
      "\"\nreason = \"as a key\"\nrevoked_at = \"2030-01-03T00:00:00Z\"\n"
      "[[entry]]\nartifact = \"" +
      art("both") + "\"\nreason = \"as an artifact\"\nrevoked_at = \"2030-01-04T00:00:00Z\"\n\n";
  return f.sign_raw(body, f.a);
}

}  // namespace

TEST_CASE("index: a second load is served from it and answers exactly like a full load") {
  Fixture f;
  f.write(mixed_list(f, 1));
  auto fresh = f.load();
  REQUIRE(fresh.ok());
  CHECK_FALSE(fresh->from_index());
  REQUIRE(fs::exists(index_path(f)));  // built after validation
  auto cached = f.load();
  REQUIRE(cached.ok());
  REQUIRE(cached->from_index());
  CHECK(cached->body().empty());  // it does not keep (or parse) the file

  std::vector<std::string> probes = {art("a"),     art("both"), f.id(f.a), f.id(f.b),
                                     art("never"), "",          "sha256:", art("a").substr(0, 20)};
  std::vector<std::vector<std::string>> signer_sets = {
      {}, {f.id(f.a)}, {f.id(f.b)}, {f.id(f.b), f.id(f.a)}, {art("both")}};
  require_same_answers(*fresh, *cached, probes, signer_sets);
  CHECK(cached->verify(f.trust, kNow).allowed());

  // Copies share the index and answer alike.
  RevocationList copy = *cached;
  RevocationList assigned;
  assigned = copy;
  CHECK(copy.from_index());
  CHECK(assigned.key_revoked(f.id(f.b)));
  CHECK(assigned.artifact_revoked(art("a")));
  CHECK_FALSE(assigned.artifact_revoked(art("never")));

  // A successor made from the index is byte for byte the one made from the full load.
  auto n1 = fresh->successor({revoke_art("new")}, kNow);
  auto n2 = cached->successor({revoke_art("new")}, kNow);
  REQUIRE(n1.ok());
  REQUIRE(n2.ok());
  CHECK(n1->body() == n2->body());
  auto dup = cached->successor({revoke_art("a")}, kNow);
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().reason == DenyReason::Usage);
}

TEST_CASE("index: with no list file and no record, no index is made") {
  Fixture f;
  REQUIRE(f.load().ok());
  CHECK_FALSE(fs::exists(index_path(f)));
}

TEST_CASE("index: a changed list file is never served from the index") {
  Fixture f;
  RevocationList l1 = f.next({}, {revoke_art("one")}, {&f.a});
  f.write(l1.file_text());
  REQUIRE(f.load().ok());
  REQUIRE(f.load()->from_index());

  SECTION("one body byte changed, not re-signed") {
    std::string text = l1.file_text();
    size_t pos = text.find(art("one")) + 12;
    text[pos] = text[pos] == 'a' ? 'b' : 'a';
    f.write(text);
    require_invalid(f.load(), "does not verify");
  }
  SECTION("one byte changed in the signature block") {
    std::string text = l1.file_text();
    size_t pos = text.find("value = \"") + 12;
    text[pos] = text[pos] == 'A' ? 'B' : 'A';
    f.write(text);
    CHECK_FALSE(f.load().ok());
  }
  SECTION("a newer, properly signed list") {
    f.write(f.next(l1, {revoke_art("two")}, {&f.a}).file_text());
    auto l2 = f.load();
    REQUIRE(l2.ok());
    CHECK_FALSE(l2->from_index());
    CHECK(l2->artifact_revoked(art("two")));
    auto again = f.load();
    REQUIRE(again.ok());
    CHECK(again->from_index());
    CHECK(again->serial() == 2);
    CHECK(again->artifact_revoked(art("two")));
  }
  SECTION("the same serial with another body, re-signed") {
    f.write(f.next({}, {revoke_art("other")}, {&f.a}).file_text());
    require_invalid(f.load(), "different body");
  }
  // The record was never raised by a rejected file.
  CHECK((*read_seen_revocations(f.state, f.list_path))->serial >= 1);
}

TEST_CASE("index: an in-place edit that keeps the size and mtime is caught (stamp fast path)") {
  Fixture f;
  RevocationList l1 = f.next({}, {revoke_art("one")}, {&f.a});
  f.write(l1.file_text());
  // A file changed less than 2 s before it is read gets no stamp ("racy"):
  // wait, so that this load records one and the next is served by the stamp.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  REQUIRE(f.load().ok());
  auto idx = RevocationIndex::open(f.state);
  REQUIRE(idx);
  CHECK(idx->meta().stamp.known());
  CHECK(idx->meta().file_digest == "sha256:" + crypto::sha256_hex(l1.file_text()));
  REQUIRE(f.load()->from_index());

  struct stat st {};
  REQUIRE(stat(f.list_path.c_str(), &st) == 0);
  std::string text = l1.file_text();
  size_t pos = text.find(art("one")) + 12;
  char flipped = text[pos] == 'a' ? 'b' : 'a';
  int fd = open(f.list_path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(pwrite(fd, &flipped, 1, static_cast<off_t>(pos)) == 1);
  timespec times[2] = {st.st_atim, st.st_mtim};
  REQUIRE(futimens(fd, times) == 0);  // mtime restored; ctime cannot be
  close(fd);
  require_invalid(f.load(), "does not verify");
}

TEST_CASE("index: corrupt, deleted or stale indexes are rebuilt, never trusted") {
  Fixture f;
  RevocationList l1 = f.next({}, {revoke_art("one"), revoke_key(f.id(f.b))}, {&f.a});
  f.write(l1.file_text());
  REQUIRE(f.load().ok());
  REQUIRE(f.load()->from_index());
  auto expect_rebuilt = [&] {
    auto l = f.load();
    REQUIRE(l.ok());
    CHECK_FALSE(l->from_index());
    CHECK(l->artifact_revoked(art("one")));
    CHECK(l->key_revoked(f.id(f.b)));
    auto next = f.load();
    REQUIRE(next.ok());
    CHECK(next->from_index());
    CHECK(next->artifact_revoked(art("one")));
  };
  SECTION("deleted") {
    std::filesystem::remove(index_path(f));
    expect_rebuilt();
  }
  SECTION("garbage") {
    REQUIRE(fs::write_file_atomic(index_path(f), std::string(8192, 'x'), 0600, fs::Overwrite::Yes));
    expect_rebuilt();
  }
  SECTION("empty") {
    REQUIRE(fs::write_file_atomic(index_path(f), "", 0600, fs::Overwrite::Yes));
    expect_rebuilt();
  }
  SECTION("truncated") {
    auto bytes = fs::read_file(index_path(f), 1 << 24);
    REQUIRE(bytes.ok());
    REQUIRE(fs::write_file_atomic(index_path(f), bytes->substr(0, bytes->size() / 2), 0600, fs::Overwrite::Yes));
    expect_rebuilt();
  }
  SECTION("its last row missing (the table must end with meta's last key)") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(index_path(f).c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "DELETE FROM revoked WHERE digest = (SELECT max(digest) FROM revoked)", nullptr, nullptr,
                       nullptr) == SQLITE_OK);
    CHECK(sqlite3_changes(db) == 1);
    sqlite3_close(db);
    expect_rebuilt();
  }
  SECTION("another schema version") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(index_path(f).c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE meta SET schema = 99", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    expect_rebuilt();
  }
  SECTION("a file digest that is not the file's") {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(index_path(f).c_str(), &db) == SQLITE_OK);
    std::string sql = "UPDATE meta SET file_digest = '" + art("elsewhere") + "', dev = 0, ino = 0, ctime_ns = 0";
    CHECK(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    expect_rebuilt();
  }
  SECTION("a stale temporary file from a crashed build is replaced") {
    REQUIRE(fs::write_file_atomic(index_path(f) + ".tmp", "junk", 0600, fs::Overwrite::Yes));
    std::filesystem::remove(index_path(f));
    expect_rebuilt();
    CHECK_FALSE(fs::exists(index_path(f) + ".tmp"));
  }
}

TEST_CASE("index: a read error after opening answers revoked (fail closed)") {
  Fixture f;
  f.write(f.next({}, {revoke_art("one")}, {&f.a}).file_text());
  REQUIRE(f.load().ok());
  auto l = f.load();
  REQUIRE(l.ok());
  REQUIRE(l->from_index());
  CHECK_FALSE(l->artifact_revoked(art("good")));
  // Overwrite the open database in place (same inode) with zeros.
  auto size = std::filesystem::file_size(index_path(f));
  int fd = open(index_path(f).c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  std::string zeros(size, '\0');
  REQUIRE(pwrite(fd, zeros.data(), zeros.size(), 0) == static_cast<ssize_t>(zeros.size()));
  close(fd);
  CHECK(l->artifact_revoked(art("good")));
  CHECK(l->key_revoked(f.id(f.a)));
  CHECK(l->check(art("good"), {f.id(f.a)}).reason == DenyReason::Revoked);
  CHECK_FALSE(l->find(art("one")).has_value());
  auto next = l->successor({revoke_art("two")}, kNow);  // never a list missing the old entries
  REQUIRE_FALSE(next.ok());
  CHECK(next.error().reason == DenyReason::StateUnavailable);
  // A fresh load does not use it and rebuilds it.
  auto again = f.load();
  REQUIRE(again.ok());
  CHECK_FALSE(again->from_index());
  CHECK_FALSE(again->artifact_revoked(art("good")));
}

TEST_CASE("index: rollback protection holds with an index present") {
  Fixture f;
  RevocationList l1 = f.next({}, {revoke_art("one")}, {&f.a});
  RevocationList l2 = f.next(l1, {revoke_art("two")}, {&f.a});
  f.write(l1.file_text());
  REQUIRE(f.load().ok());
  std::string old_file = f.read();
  auto old_index = fs::read_file(index_path(f), 1 << 24);
  REQUIRE(old_index.ok());
  f.write(l2.file_text());
  REQUIRE(f.load().ok());
  REQUIRE(f.load()->from_index());

  SECTION("the old file with its old index put back") {
    f.write(old_file);
    REQUIRE(fs::write_file_atomic(index_path(f), *old_index, 0600, fs::Overwrite::Yes));
    require_invalid(f.load(), "rollback: serial 1 < 2 already seen");
  }
  SECTION("the old file, current index") {
    f.write(old_file);
    require_invalid(f.load(), "rollback: serial 1 < 2 already seen");
  }
  SECTION("the list deleted") {
    std::filesystem::remove(f.list_path);
    require_invalid(f.load(), "missing");
  }
  SECTION("the rollback record deleted: the index is not used without it") {
    std::filesystem::remove(revocations_serial_path(f.state));
    auto l = f.load();
    REQUIRE(l.ok());
    CHECK_FALSE(l->from_index());
    CHECK((*read_seen_revocations(f.state, f.list_path))->serial == 2);
  }
  CHECK((*read_seen_revocations(f.state, f.list_path))->serial == 2);
}

TEST_CASE("index: trust store changes are re-applied to an indexed list") {
  Fixture f;
  // Signed by alice (trusted) and by the outsider (not trusted yet: its
  // signature is not checked when the index is built).
  RevocationList l = f.next({}, {revoke_art("one")}, {&f.a, &f.outsider});
  f.write(l.file_text());
  REQUIRE(f.load().ok());
  REQUIRE(f.load()->from_index());
  auto fresh_error = [&](TrustStore& t) {
    std::filesystem::remove(index_path(f));  // what a full load says
    auto r = RevocationList::load(f.list_path, t, f.state, kNow);
    return r.ok() ? std::string("ok") : r.error().detail;
  };

  SECTION("signer revoked in the trust store") {
    REQUIRE(f.load()->from_index());
    f.trust.keys[0].revoked = true;
    auto r = f.load();
    require_invalid(r);
    std::string cached_detail = r.error().detail;
    CHECK(cached_detail == fresh_error(f.trust));
  }
  SECTION("signer outside its validity window by now") {
    f.trust.keys[0].not_after = kNow + 5;
    REQUIRE(f.load(kNow).ok());
    CHECK(f.load(kNow)->from_index());
    require_invalid(f.load(kNow + 5 + f.trust.skew_seconds + 1));
  }
  SECTION("threshold raised") {
    f.trust.threshold = 2;
    require_invalid(f.load(), "2 required");
  }
  SECTION("a newly trusted key whose signature was never checked") {
    f.trust.keys.push_back(TrustedKey{"out", f.outsider.public_key(), f.id(f.outsider), {}, {}, false});
    auto r = f.load();
    REQUIRE(r.ok());
    CHECK_FALSE(r->from_index());  // verified afresh, then re-indexed with it
    f.trust.threshold = 2;         // alice + outsider
    auto two = f.load();
    REQUIRE(two.ok());
    CHECK(two->from_index());
  }
  SECTION("a newly trusted key whose signature does not verify") {
    std::string other_body = f.next({}, {revoke_art("y")}, {}).body();
    auto sig = f.outsider.sign(crypto::kRevocationsType, other_body);
    RevocationList only_a = f.next({}, {revoke_art("one")}, {&f.a});
    f.write(only_a.file_text() + "\n" +
            render_signature(Signature{f.id(f.outsider), std::string(crypto::kAlgorithm), *sig}));
    std::filesystem::remove(revocations_serial_path(f.state));  // a different serial-1 body: start over
    std::filesystem::remove(index_path(f));
    REQUIRE(f.load().ok());
    REQUIRE(f.load()->from_index());
    f.trust.keys.push_back(TrustedKey{"out", f.outsider.public_key(), f.id(f.outsider), {}, {}, false});
    require_invalid(f.load(), "does not verify");
  }
}

TEST_CASE("index: a stamp collision alone does not serve a re-signed file (signature block compared too)") {
  Fixture f;
  // Same serial, same size, other body and signature: only the rollback
  // check can reject it, so it must not be served from the index. ECDSA
  // signatures vary in length, and either draw can be a rare short one, so
  // both are drawn until a size repeats across them.
  std::map<size_t, std::string> firsts, seconds;
  std::string first, forged;
  for (int i = 0; i < 200 && first.empty(); ++i) {
    std::string a = f.next({}, {revoke_art("one")}, {&f.a}).file_text();
    std::string b = f.next({}, {revoke_art("two")}, {&f.a}).file_text();
    firsts.emplace(a.size(), a);
    seconds.emplace(b.size(), b);
    for (const auto& [size, text] : firsts)
      if (auto it = seconds.find(size); it != seconds.end()) {
        first = text;
        forged = it->second;
        break;
      }
  }
  REQUIRE_FALSE(first.empty());
  REQUIRE(forged.size() == first.size());
  f.write(first);
  REQUIRE(f.load().ok());
  f.write(forged);
  // Pretend the kernel reported the old stamp for the new file.
  struct stat st {};
  REQUIRE(stat(f.list_path.c_str(), &st) == 0);
  FileStamp now_stamp = FileStamp::of(st);
  {
    auto idx = RevocationIndex::open(f.state);
    REQUIRE(idx);
    REQUIRE(idx->restamp(now_stamp));
  }
  require_invalid(f.load(), "different body");
}

// ---- one rollback record per list (issue #9, item 11) ----

TEST_CASE("two lists sharing one state directory keep separate rollback records") {
  Fixture f;
  const std::string other = f.dir + "/other/revocations.toml";  // another trust store's list
  f.write(f.next({}, {revoke_art("bad")}, {&f.a}).file_text());
  REQUIRE(f.load().ok());
  REQUIRE((*read_seen_revocations(f.state, f.list_path))->serial == 1);
  CHECK_FALSE(*read_seen_revocations(f.state, other));
  // The other list is missing and was never seen: nothing revoked, not "rolled back".
  auto l2 = RevocationList::load(other, f.trust, f.state, kNow);
  REQUIRE(l2.ok());
  CHECK(l2->serial() == 0);
  // Its own serial 1 (a different body) is not confused with the first list's serial 1.
  std::filesystem::create_directories(f.dir + "/other");
  REQUIRE(
      fs::write_file_atomic(other, f.next({}, {revoke_art("other")}, {&f.b}).file_text(), 0644, fs::Overwrite::Yes));
  auto l3 = RevocationList::load(other, f.trust, f.state, kNow);
  REQUIRE(l3.ok());
  CHECK(l3->artifact_revoked(art("other")));
  CHECK(f.load().ok());  // the first list still loads (its index may have been replaced: full load)
  // Deleting the first list is still a rollback, for that list only.
  std::filesystem::remove(f.list_path);
  require_invalid(f.load(), "of this list was already seen");
  CHECK(RevocationList::load(other, f.trust, f.state, kNow).ok());
}

TEST_CASE("the list key names the list, not the spelling of its path") {
  Fixture f;
  CHECK(revocation_list_key(f.list_path) == revocation_list_key(f.dir + "/./revocations.toml"));
  CHECK(revocation_list_key(f.list_path) != revocation_list_key(f.dir + "/other.toml"));
  std::filesystem::create_symlink(f.dir, f.dir + "/link");  // the directory is resolved
  CHECK(revocation_list_key(f.list_path) == revocation_list_key(f.dir + "/link/revocations.toml"));
  // The file name is not: a list that is a symlink keeps its own record.
  f.write("x");
  std::filesystem::create_symlink(f.list_path, f.dir + "/alias.toml");
  CHECK(revocation_list_key(f.dir + "/alias.toml") != revocation_list_key(f.list_path));
}

// ---- key validity with the trust store's skew (issue #9, item 12) ----

TEST_CASE("a list signer's validity window is widened by skew_seconds, boundaries included") {
  Fixture f;
  f.trust.skew_seconds = 60;
  f.trust.keys[0].not_after = kNow - 60;   // alice expired exactly skew ago
  f.trust.keys[1].not_before = kNow + 61;  // bob becomes valid one second past the skew
  RevocationList l = f.next({}, {revoke_art("x")}, {&f.a});
  CHECK(l.verify(f.trust, kNow).allowed());            // now - skew == not_after: still usable
  CHECK_FALSE(l.verify(f.trust, kNow + 1).allowed());  // one second later: not
  RevocationList lb = f.next({}, {revoke_art("x")}, {&f.b});
  CHECK_FALSE(lb.verify(f.trust, kNow).allowed());
  CHECK(lb.verify(f.trust, kNow + 1).allowed());  // now + skew == not_before
  f.trust.skew_seconds = 0;
  CHECK_FALSE(l.verify(f.trust, kNow).allowed());
  // The full load applies the same rule.
  f.trust.skew_seconds = 60;
  f.write(l.file_text());
  CHECK(f.load(kNow).ok());
}

TEST_CASE("add_revocation: signing keys are checked with the trust store's skew") {
  Fixture f;
  f.trust.skew_seconds = 60;
  f.trust.keys[0].not_after = kNow - 30;  // expired 30 s ago, inside the skew
  std::vector<crypto::PrivateKey> keys;
  keys.push_back(f.a);
  auto done = add_revocation(f.list_path, f.trust, f.state, keys, revoke_art("x"), kNow);
  REQUIRE(done.ok());
  CHECK(done->list.serial() == 1);
  CHECK(f.load(kNow).ok());
  f.trust.skew_seconds = 10;
  auto late = add_revocation(f.list_path, f.trust, f.state, keys, revoke_art("y"), kNow);
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().reason == DenyReason::Usage);
  CHECK(late.error().detail.find("outside its validity window") != std::string::npos);
  CHECK(RevocationList::parse_unverified(f.read(), "t")->serial() == 1);  // nothing written
  // The same transaction refuses to sign with the key it revokes.
  f.trust.skew_seconds = 60;
  auto self = add_revocation(f.list_path, f.trust, f.state, keys, revoke_key(f.id(f.a)), kNow);
  REQUIRE_FALSE(self.ok());
  CHECK(self.error().detail.find("key being revoked") != std::string::npos);
  auto again = add_revocation(f.list_path, f.trust, f.state, keys, revoke_art("x"), kNow);
  REQUIRE(again.ok());
  CHECK(again->already_revoked);
}

TEST_CASE("add_revocation indexes the list it wrote: the next load is served from the index, answering alike") {
  Fixture f;
  std::vector<crypto::PrivateKey> keys;
  keys.push_back(f.a);
  REQUIRE(add_revocation(f.list_path, f.trust, f.state, keys, revoke_art("x"), kNow).ok());
  auto done = add_revocation(f.list_path, f.trust, f.state, keys, revoke_key(f.id(f.b)), kNow);
  REQUIRE(done.ok());
  auto cached = f.load();
  REQUIRE(cached.ok());
  CHECK(cached->from_index());
  CHECK(cached->serial() == 2);
  CHECK(cached->artifact_revoked(art("x")));
  CHECK(cached->key_revoked(f.id(f.b)));
  CHECK_FALSE(cached->artifact_revoked(art("y")));
  // Without the index, the full load reads the same list.
  std::filesystem::remove(index_path(f));
  auto fresh = f.load();
  REQUIRE(fresh.ok());
  CHECK_FALSE(fresh->from_index());
  CHECK(fresh->digest() == cached->digest());
  CHECK(fresh->entries().size() == cached->entries().size());
  // A file changed after the revoke is never served from that index.
  REQUIRE(add_revocation(f.list_path, f.trust, f.state, keys, revoke_art("z"), kNow).ok());
  f.write(done->list.file_text());  // the older list put back: a rollback
  require_invalid(f.load());
}

// ---- non-regular files and StrictModes (issue #9, items 14 and 15) ----

TEST_CASE("a FIFO as the revocation list is refused without blocking") {
  Fixture f;
  REQUIRE(mkfifo(f.list_path.c_str(), 0644) == 0);
  require_invalid(f.load(), "fifo");
}

TEST_CASE("a revocation list writable by others, or in a directory writable by others, is refused") {
  Fixture f;
  f.write(f.next({}, {revoke_art("bad")}, {&f.a}).file_text());
  REQUIRE(chmod(f.list_path.c_str(), 0666) == 0);
  require_invalid(f.load(), "writable by group or others");
  REQUIRE(chmod(f.list_path.c_str(), 0644) == 0);
  REQUIRE(chmod(f.dir.c_str(), 0777) == 0);
  require_invalid(f.load(), "writable by group or others");
  std::filesystem::remove(f.list_path);  // a missing list in such a directory too
  require_invalid(f.load(), "writable by group or others");
  REQUIRE(chmod(f.dir.c_str(), 0700) == 0);
}

TEST_CASE("the rollback record is never read through a symlink or from a FIFO") {
  Fixture f;
  f.write(f.next({}, {revoke_art("bad")}, {&f.a}).file_text());
  REQUIRE(f.load().ok());
  const std::string rec = revocations_serial_path(f.state);
  std::filesystem::rename(rec, f.dir + "/elsewhere");
  std::filesystem::create_symlink(f.dir + "/elsewhere", rec);
  auto r = f.load();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == DenyReason::StateUnavailable);
  std::filesystem::remove(rec);
  REQUIRE(mkfifo(rec.c_str(), 0600) == 0);
  auto p = f.load();
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().reason == DenyReason::StateUnavailable);
  CHECK(p.error().detail.find("fifo") != std::string::npos);
}

TEST_CASE("MemoryRevocationSet: keyed by digest and kind, duplicates reported at their first repeat") {
  auto entry = [](RevocationKind k, const std::string& t) { return RevocationEntry{k, t, "r" + t.substr(7, 4), kNow}; };
  const std::string x = art("x"), y = art("y"), z = art("z");
  SECTION("one target may be revoked once as an artifact and once as a key; find gives the earlier") {
    auto set = MemoryRevocationSet::make(
        {entry(RevocationKind::Artifact, y), entry(RevocationKind::Key, x), entry(RevocationKind::Artifact, x)});
    REQUIRE(set.ok());
    CHECK((*set)->contains(RevocationKind::Artifact, x));
    CHECK((*set)->contains(RevocationKind::Key, x));
    CHECK((*set)->contains(RevocationKind::Artifact, y));
    CHECK_FALSE((*set)->contains(RevocationKind::Key, y));
    CHECK_FALSE((*set)->contains(RevocationKind::Artifact, z));
    CHECK_FALSE((*set)->contains(RevocationKind::Artifact, "not a digest"));
    CHECK_FALSE((*set)->contains(RevocationKind::Artifact, "sha256:" + std::string(64, 'A')));  // uppercase: no ref
    auto found = (*set)->find(x);
    REQUIRE(found.has_value());
    CHECK(found->kind == RevocationKind::Key);  // entry 1 comes before entry 2
    CHECK_FALSE((*set)->find(z).has_value());
    // Sorted by (digest, kind), one key per entry, ords a permutation of list order.
    const auto& keys = (*set)->keys();
    REQUIRE(keys.size() == 3);
    for (size_t i = 1; i < keys.size(); ++i)
      CHECK(std::tie(keys[i - 1].digest, keys[i - 1].kind) < std::tie(keys[i].digest, keys[i].kind));
    std::vector<uint32_t> ords;
    for (const auto& k : keys) ords.push_back(k.ord);
    std::sort(ords.begin(), ords.end());
    CHECK(ords == std::vector<uint32_t>{0, 1, 2});
  }
  SECTION("the first repeat in list order is named, whatever the digests' order") {
    auto set = MemoryRevocationSet::make({entry(RevocationKind::Artifact, z), entry(RevocationKind::Artifact, y),
                                          entry(RevocationKind::Key, z), entry(RevocationKind::Artifact, y),
                                          entry(RevocationKind::Artifact, z)});
    REQUIRE_FALSE(set.ok());
    CHECK(set.error().reason == DenyReason::DuplicateField);
    CHECK(set.error().field == "entry[3]");
    CHECK(set.error().detail == y + " is revoked twice");
  }
  SECTION("a target that is not sha256:<64 lowercase hex> is refused") {
    auto set = MemoryRevocationSet::make({entry(RevocationKind::Artifact, x), entry(RevocationKind::Key, "sha256:ab")});
    REQUIRE_FALSE(set.ok());
    CHECK(set.error().reason == DenyReason::InvalidValue);
    CHECK(set.error().field == "entry[1]");
  }
}

TEST_CASE("parse_sha256_ref: exactly sha256: and 64 lowercase hex digits, decoded") {
  const std::string hex = "00ff10a9" + std::string(56, 'e');
  auto d = crypto::parse_sha256_ref("sha256:" + hex);
  REQUIRE(d.has_value());
  CHECK((*d)[0] == 0x00);
  CHECK((*d)[1] == 0xff);
  CHECK((*d)[2] == 0x10);
  CHECK((*d)[3] == 0xa9);
  CHECK(crypto::sha256_ref(*d) == "sha256:" + hex);
  for (std::string bad :
       {"sha256:" + hex.substr(1), "sha256:" + hex + "0", "sha512:" + hex, hex + "1234567",
        "sha256:" + hex.substr(0, 63) + "g", "sha256:" + hex.substr(0, 63) + "F",
        "sha256:" + hex.substr(0, 63) + std::string(1, '\0'), "sha256:" + hex.substr(0, 63) + "\xb0"}) {
    INFO(bad);
    CHECK_FALSE(crypto::parse_sha256_ref(bad).has_value());
    CHECK(crypto::is_sha256_ref(bad) == false);
  }
}
