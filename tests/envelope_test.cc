// The signed envelope and the one quorum rule (lib/envelope.h), and key
// usability (TrustedKey::usable_at) at its boundaries.
#include "lib/envelope.h"

#include <catch2/catch.hpp>

#include "lib/crypto.h"
#include "lib/trust_store.h"
#include "tests/test_util.h"

using namespace gx;

namespace {

constexpr UnixTime kNow = 1'800'000'000;
constexpr std::string_view kType = "application/vnd.gx.test+toml";
const std::string kBody = "a = 1\n";

struct Fixture : gx::test::ThreeTrustedKeys {
  Signature sig(int i, std::string_view type = kType, const std::string& b = kBody) const {
    return Signature{keys[static_cast<size_t>(i)].public_key().key_id(), std::string(crypto::kAlgorithm),
                     *keys[static_cast<size_t>(i)].sign(type, b)};
  }
  Quorum q(const std::vector<Signature>& sigs, UnixTime now = kNow, const QuorumOptions& o = {}) const {
    return verify_quorum(kType, kBody, sigs, trust, now, o);
  }
};

}  // namespace

TEST_CASE("usable_at: revoked, and the validity window widened by skew on both ends") {
  TrustedKey k;
  k.name = "k";
  k.key_id = "sha256:" + std::string(64, 'a');
  CHECK(k.usable_at(kNow, 0).allowed());
  k.not_before = kNow + 60;
  CHECK(k.usable_at(kNow, 60).allowed());  // now + skew == not_before
  CHECK(k.usable_at(kNow, 59).reason == DenyReason::KeyExpired);
  k.not_before.reset();
  k.not_after = kNow - 60;
  CHECK(k.usable_at(kNow, 60).allowed());  // now - skew == not_after
  CHECK(k.usable_at(kNow, 59).reason == DenyReason::KeyExpired);
  CHECK(k.usable_at(kNow, 59).detail.find("not after") != std::string::npos);
  k.revoked = true;
  CHECK(k.usable_at(kNow, 3600).reason == DenyReason::KeyRevoked);
}

TEST_CASE("verify_quorum counts distinct trusted keys against max(threshold, 1)") {
  Fixture f;
  CHECK(f.q({f.sig(0)}).decision.allowed());
  CHECK(f.q({f.sig(0)}).signers.size() == 1);
  f.trust.threshold = 2;
  CHECK(f.q({f.sig(0)}).decision.reason == DenyReason::ThresholdNotMet);
  CHECK(f.q({f.sig(0), f.sig(0)}).decision.reason == DenyReason::ThresholdNotMet);  // the same key twice
  CHECK(f.q({f.sig(0), f.sig(0)}).ignored.size() == 1);
  CHECK(f.q({f.sig(0), f.sig(1)}).decision.allowed());
  // A threshold of 0 (never parsed, but constructible) still needs one signature.
  f.trust.threshold = 0;
  CHECK_FALSE(f.q({}).decision.allowed());
}

TEST_CASE("verify_quorum: unknown keys count for nothing; a bad trusted signature denies") {
  Fixture f;
  auto stranger = *crypto::PrivateKey::generate();
  Signature s{stranger.public_key().key_id(), std::string(crypto::kAlgorithm), *stranger.sign(kType, kBody)};
  Quorum only = f.q({s});
  CHECK(only.decision.reason == DenyReason::UntrustedKey);
  CHECK(f.q({s, f.sig(0)}).decision.allowed());
  // Signed for another type (domain separation) or another body: invalid, whatever else holds.
  CHECK(f.q({f.sig(0), f.sig(1, "application/vnd.gx.other")}).decision.reason == DenyReason::InvalidSignature);
  CHECK(f.q({f.sig(1, kType, "a = 2\n"), f.sig(0)}).decision.reason == DenyReason::InvalidSignature);
  // Even from a key that would not count (expired): the body changed after it signed.
  f.trust.keys[1].not_after = kNow - 3600;
  CHECK(f.q({f.sig(0), f.sig(1, kType, "a = 2\n")}).decision.reason == DenyReason::InvalidSignature);
}

TEST_CASE("verify_quorum: revoked and out-of-window keys do not count, with the trust store's skew") {
  Fixture f;
  f.trust.skew_seconds = 30;
  f.trust.keys[0].not_after = kNow - 30;
  CHECK(f.q({f.sig(0)}).decision.allowed());
  CHECK(f.q({f.sig(0)}, kNow + 1).decision.reason == DenyReason::KeyExpired);
  f.trust.keys[0].not_after.reset();
  f.trust.keys[0].revoked = true;
  CHECK(f.q({f.sig(0)}).decision.reason == DenyReason::KeyRevoked);
  CHECK(f.q({f.sig(0)}).verified.size() == 1);  // checked, then not counted
  f.trust.keys[0].revoked = false;
  QuorumOptions o;
  o.key_revoked = [&](const std::string& id) { return id == f.trust.keys[0].key_id; };
  CHECK(f.q({f.sig(0)}, kNow, o).decision.reason == DenyReason::Revoked);
  CHECK(f.q({f.sig(0), f.sig(1)}, kNow, o).signers.size() == 1);
}

TEST_CASE("verify_quorum with preverified signers does no crypto and trusts only those ids") {
  Fixture f;
  std::vector<std::string> pre{f.trust.keys[0].key_id};
  QuorumOptions o;
  o.preverified = &pre;
  Signature garbage{f.trust.keys[0].key_id, std::string(crypto::kAlgorithm), "not a signature"};
  CHECK(f.q({garbage}, kNow, o).decision.allowed());  // stands in for the earlier verification
  CHECK(f.q({f.sig(1)}, kNow, o).decision.reason == DenyReason::InvalidSignature);  // never verified
}

TEST_CASE("envelope: split at the first exact [[signature]] line; append freezes the body") {
  auto p = split_artifact("a = 1\n[[signature]]\nkey_id = \"x\"\n");
  REQUIRE(p.ok());
  CHECK(p->body == "a = 1\n");
  CHECK(p->signature_block.rfind("[[signature]]\n", 0) == 0);
  CHECK(split_artifact("a = 1\n [[signature]]\n")->signature_block.empty());
  Fixture f;
  auto one = append_signature("a = 1", kType, f.keys[0]);
  REQUIRE(one.ok());
  CHECK(split_artifact(*one)->body == "a = 1\n");
  auto sigs = parse_signatures(split_artifact(*one)->signature_block);
  REQUIRE(sigs.ok());
  CHECK(verify_quorum(kType, "a = 1\n", *sigs, f.trust, kNow).decision.allowed());
  CHECK(append_signature(*one, kType, f.keys[0]).error().reason == DenyReason::DuplicateField);
  auto two = append_signature(*one, kType, f.keys[1]);
  REQUIRE(two.ok());
  CHECK(split_artifact(*two)->body == "a = 1\n");
  CHECK(render_signature((*sigs)[0]).rfind("[[signature]]\nkey_id = ", 0) == 0);
}
