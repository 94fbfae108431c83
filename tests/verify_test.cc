#include "lib/verify.h"

#include <catch2/catch.hpp>

#include "lib/artifact.h"
#include "lib/crypto.h"
#include "lib/envelope.h"
#include "lib/trust_store.h"
#include "tests/test_util.h"

using namespace gx;

namespace {

constexpr UnixTime kNow = 1'800'000'000;

std::string body() {
  Artifact a = gx::test::artifact_header("t1", "test", kNow, kNow + 600, 'n');
  a.scope.path = "/bin/true";
  a.scope.sha256 = std::string(64, 'a');
  a.scope.argv = {{"true", false}};
  // Not `cwd = "/"`: at -O3 GCC 12 inlines that into memcpy calls it then
  // wrongly flags as overlapping (-Wrestrict, GCC bug 105329). Constructing
  // the string first avoids the inlined path.
  a.scope.cwd = std::string(1, '/');
  a.bindings.uid = 1234;
  a.bindings.hostname = "host-a";
  return render_artifact_body(a);
}

struct Fixture : gx::test::ThreeTrustedKeys {
  std::string sign(std::string bytes, std::initializer_list<int> who) {
    for (int i : who) bytes = *append_signature(bytes, crypto::kArtifactType, keys[i]);
    return bytes;
  }
  Verification verify(const std::string& bytes, UnixTime now = kNow) {
    VerifyOptions o;
    o.now = now;
    o.trust = &trust;
    return verify_artifact_bytes(bytes, o);
  }
};

}  // namespace

TEST_CASE("threshold counts distinct trusted keys") {
  Fixture f;
  f.trust.threshold = 2;
  CHECK(f.verify(f.sign(body(), {0})).decision.reason == DenyReason::ThresholdNotMet);
  CHECK(f.verify(f.sign(body(), {0, 1})).decision.allowed());
  // The same signature pasted twice counts once.
  std::string one = f.sign(body(), {0});
  std::string sig = one.substr(one.find("\n[[signature]]\n") + 1);
  CHECK(f.verify(one + sig).decision.reason == DenyReason::ThresholdNotMet);
  // Reordering signatures changes nothing.
  std::string two = f.sign(body(), {0, 1});
  auto parts = *split_artifact(two);
  auto sigs = *parse_signatures(parts.signature_block);
  std::string swapped = parts.body + render_signature(sigs[1]) + render_signature(sigs[0]);
  auto v = f.verify(swapped);
  CHECK(v.decision.allowed());
  CHECK(v.digest == f.verify(two).digest);
}

TEST_CASE("untrusted, revoked and out-of-validity keys count for nothing") {
  Fixture f;
  auto stranger = *crypto::PrivateKey::generate();
  std::string s = *append_signature(body(), crypto::kArtifactType, stranger);
  CHECK(f.verify(s).decision.reason == DenyReason::UntrustedKey);
  // A trusted co-signature makes the stranger's irrelevant.
  CHECK(f.verify(*append_signature(s, crypto::kArtifactType, f.keys[0])).decision.allowed());
  f.trust.keys[0].revoked = true;
  CHECK(f.verify(f.sign(body(), {0})).decision.reason == DenyReason::KeyRevoked);
  f.trust.keys[0].revoked = false;
  f.trust.keys[0].not_after = kNow - 3600;
  CHECK(f.verify(f.sign(body(), {0})).decision.reason == DenyReason::KeyExpired);
}

TEST_CASE("a trusted key's bad signature denies even when the threshold is met otherwise") {
  Fixture f;
  std::string s = f.sign(body(), {0, 1});
  // Corrupt the second signature's value (flip one base64 char).
  auto pos = s.rfind("value = \"") + 12;
  s[pos] = s[pos] == 'A' ? 'B' : 'A';
  CHECK(f.verify(s).decision.reason == DenyReason::InvalidSignature);
}

TEST_CASE("every body byte is covered") {
  Fixture f;
  const std::string s = f.sign(body(), {0});
  const size_t body_len = s.find("\n[[signature]]\n") + 1;
  for (size_t i = 0; i < body_len; ++i) {
    std::string t = s;
    t[i] = static_cast<char>(t[i] ^ 0x01);
    auto v = f.verify(t);
    INFO("byte " << i);
    CHECK_FALSE(v.decision.allowed());
  }
}

TEST_CASE("time window with skew, against the caller's clock only") {
  Fixture f;
  const std::string s = f.sign(body(), {0});
  CHECK(f.verify(s, kNow - 60).decision.allowed());
  CHECK(f.verify(s, kNow - 61).decision.reason == DenyReason::NotYetValid);
  CHECK(f.verify(s, kNow + 660).decision.allowed());
  CHECK(f.verify(s, kNow + 661).decision.reason == DenyReason::Expired);
}

TEST_CASE("revocation hooks and bindings") {
  Fixture f;
  const std::string s = f.sign(body(), {0});
  VerifyOptions o;
  o.now = kNow;
  o.trust = &f.trust;
  o.artifact_revoked = [](const std::string&) { return true; };
  CHECK(verify_artifact_bytes(s, o).decision.reason == DenyReason::Revoked);
  o.artifact_revoked = nullptr;
  o.key_revoked = [&](const std::string& k) { return k == f.keys[0].public_key().key_id(); };
  CHECK(verify_artifact_bytes(s, o).decision.reason == DenyReason::Revoked);
  o.key_revoked = nullptr;
  HostIdentity host{"host-a", "", 1234, true, ""};
  o.host = &host;
  CHECK(verify_artifact_bytes(s, o).decision.allowed());
  host.uid = 1235;
  auto v = verify_artifact_bytes(s, o);
  CHECK(v.decision.reason == DenyReason::RuntimeIdentity);
  CHECK(v.decision.field == "bindings.uid");
  host = {"host-b", "", 1234, true, ""};
  CHECK(verify_artifact_bytes(s, o).decision.field == "bindings.hostname");
  // The caller's own user namespace: the same matching facts prove nothing.
  host = {"host-a", "", 1234, false, "uid_map '0 1000 1'"};
  auto ns = verify_artifact_bytes(s, o);
  CHECK(ns.decision.reason == DenyReason::RuntimeIdentity);
  CHECK(ns.decision.field == "bindings.hostname");
  CHECK(ns.decision.detail.find("user namespace") != std::string::npos);
}

TEST_CASE("only the initial user namespace's uid_map counts as the host's") {
  CHECK(is_initial_uid_map("         0          0 4294967295\n"));
  CHECK(is_initial_uid_map("0 0 4294967295"));
  CHECK_FALSE(is_initial_uid_map("         0       1000          1\n"));
  CHECK_FALSE(is_initial_uid_map("0 0 4294967294\n"));
  CHECK_FALSE(is_initial_uid_map("0 0 4294967295\n1 1 1\n"));
  CHECK_FALSE(is_initial_uid_map(""));
  CHECK_FALSE(is_initial_uid_map("0 0 99999999999\n"));
}

TEST_CASE("a revoked parent revokes its child") {
  Fixture f;
  const std::string parent = "sha256:" + std::string(64, 'f');
  std::string b = body() + "[lineage]\nparent = \"" + parent + "\"\n";
  const std::string s = f.sign(b, {0});
  VerifyOptions o;
  o.now = kNow;
  o.trust = &f.trust;
  o.artifact_revoked = [&](const std::string& d) { return d == parent; };
  auto v = verify_artifact_bytes(s, o);
  CHECK(v.decision.reason == DenyReason::Revoked);
  CHECK(v.decision.field == "lineage.parent");
  o.artifact_revoked = [](const std::string&) { return false; };
  CHECK(verify_artifact_bytes(s, o).decision.allowed());
}

TEST_CASE("sign refuses the same key twice and freezes the body") {
  Fixture f;
  std::string s = f.sign(body(), {0});
  auto again = append_signature(s, crypto::kArtifactType, f.keys[0]);
  REQUIRE_FALSE(again);
  CHECK(again.error().reason == DenyReason::DuplicateField);
  std::string two = *append_signature(s, crypto::kArtifactType, f.keys[1]);
  CHECK(split_artifact(two)->body == split_artifact(s)->body);
}

TEST_CASE("a signing key's validity window is widened by the trust store's skew, boundaries included") {
  Fixture f;
  const std::string s = f.sign(body(), {0});
  f.trust.skew_seconds = 60;
  f.trust.keys[0].not_after = kNow - 60;
  CHECK(f.verify(s).decision.allowed());
  f.trust.keys[0].not_after = kNow - 61;
  CHECK(f.verify(s).decision.reason == DenyReason::KeyExpired);
  f.trust.keys[0].not_after.reset();
  f.trust.keys[0].not_before = kNow + 60;
  CHECK(f.verify(s).decision.allowed());
  f.trust.keys[0].not_before = kNow + 61;
  CHECK(f.verify(s).decision.reason == DenyReason::KeyExpired);
  // The skew is the trust store's, for the key and the artifact alike.
  f.trust.skew_seconds = 0;
  f.trust.keys[0].not_before = kNow + 1;
  CHECK(f.verify(s).decision.reason == DenyReason::KeyExpired);
  f.trust.keys[0].not_before.reset();
  CHECK(f.verify(s, kNow - 1).decision.reason == DenyReason::NotYetValid);
}
