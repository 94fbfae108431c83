#include <catch2/catch.hpp>

#include "lib/crypto.h"

using namespace gx;

TEST_CASE("sha256 known answer") {
  CHECK(crypto::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(crypto::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("PAE is the DSSE encoding") {
  CHECK(crypto::pae("t", "body") == "DSSEv1 1 t 4 body");
  // Lengths make the boundary unambiguous: moving bytes between type and body changes the encoding.
  CHECK(crypto::pae("ab", "c") != crypto::pae("a", "bc"));
}

TEST_CASE("base64 round trip is canonical only") {
  auto enc = crypto::base64_encode(std::string("\x00\x01\xfe\xff", 4));
  auto dec = crypto::base64_decode(enc);
  REQUIRE(dec);
  CHECK(*dec == std::string("\x00\x01\xfe\xff", 4));
  CHECK_FALSE(crypto::base64_decode("AAE+/w"));     // missing padding
  CHECK_FALSE(crypto::base64_decode("AAE+/w==\n"));  // trailing newline: another spelling
  CHECK_FALSE(crypto::base64_decode("!!!!"));
}

TEST_CASE("sign and verify with domain separation") {
  auto key = crypto::PrivateKey::generate();
  REQUIRE(key);
  auto sig = key->sign(crypto::kArtifactType, "hello");
  REQUIRE(sig);
  const auto& pub = key->public_key();
  CHECK(pub.verify(crypto::kArtifactType, "hello", *sig));
  CHECK_FALSE(pub.verify(crypto::kArtifactType, "hellO", *sig));
  // The same bytes signed as an artifact never verify as a receipt or revocation list.
  CHECK_FALSE(pub.verify(crypto::kReceiptType, "hello", *sig));
  CHECK_FALSE(pub.verify(crypto::kRevocationsType, "hello", *sig));
  auto other = crypto::PrivateKey::generate();
  REQUIRE(other);
  CHECK_FALSE(other->public_key().verify(crypto::kArtifactType, "hello", *sig));
  // r = s = 0 (CVE-2022-21449 style) and garbage are refused.
  const std::string zero_sig("\x30\x06\x02\x01\x00\x02\x01\x00", 8);
  CHECK_FALSE(pub.verify(crypto::kArtifactType, "hello", zero_sig));
  CHECK_FALSE(pub.verify(crypto::kArtifactType, "hello", ""));
}

TEST_CASE("keys round-trip through PEM; key id is sha256 of the DER SPKI") {
  auto key = crypto::PrivateKey::generate();
  REQUIRE(key);
  auto again = crypto::PrivateKey::from_pem(key->pem());
  REQUIRE(again);
  CHECK(again->public_key() == key->public_key());
  auto pub = crypto::PublicKey::from_pem(key->public_key().pem());
  REQUIRE(pub);
  CHECK(pub->key_id() == "sha256:" + crypto::sha256_hex(pub->der()));
  CHECK(pub->key_id().size() == 7 + 64);
}

TEST_CASE("only P-256 keys are accepted") {
  // A P-384 public key (generated with openssl ecparam -name secp384r1).
  const char* p384 =
      "-----BEGIN PUBLIC KEY-----\n"
      "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEuNh6ebx0QkC+bb2TBVLqmCITDnvi6Y3d\n"
      "kH5ryzE6Mk7TDdZuYs3p0K9Zn6tFXMgPf1eKhT0jB3qq4aM0gHzKIqXjqN3tG/vT\n"
      "iCDqLmdhhK7cXJqvI7sNnU6vIHnK8ZQG\n"
      "-----END PUBLIC KEY-----\n";
  auto k = crypto::PublicKey::from_pem(p384);
  REQUIRE_FALSE(k);
  CHECK((k.error().reason == DenyReason::UnsupportedAlgorithm || k.error().reason == DenyReason::InvalidValue));
  CHECK_FALSE(crypto::PublicKey::from_pem("not a key"));
  CHECK_FALSE(crypto::PrivateKey::from_pem("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"));
}
