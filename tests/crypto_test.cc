#include "lib/crypto.h"

#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "lib/p256_table.h"

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

TEST_CASE("is_canonical_base64 is base64_decode's verdict") {
  // Every string of up to 4 symbols from an alphabet with each kind of
  // symbol (high and low bits, padding, outsiders), and random longer ones.
  const std::string symbols = "AQgw/+9z=-_ \n!";
  size_t accepted = 0;
  std::vector<std::string> all = {""};
  for (size_t len = 1; len <= 4; ++len) {
    std::vector<std::string> longer;
    for (const auto& s : all)
      if (s.size() == len - 1)
        for (char c : symbols) longer.push_back(s + c);
    all.insert(all.end(), longer.begin(), longer.end());
  }
  for (const auto& s : all) {
    INFO(s);
    const bool ok = crypto::base64_decode(s).ok();
    CHECK(crypto::is_canonical_base64(s) == ok);
    accepted += ok;
  }
  CHECK(accepted > 100);
  uint32_t x = 12345;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    const size_t len = 4 * (1 + i % 24) - (i % 7 == 0 ? 1 : 0);
    for (size_t k = 0; k < len; ++k) {
      x = x * 1103515245 + 12345;
      s += symbols[(x >> 16) % (i % 3 == 0 ? symbols.size() : 6)];
    }
    if (i % 2 == 0) s = crypto::base64_encode(s.substr(0, len / 2));
    if (i % 5 == 0 && !s.empty()) s[(x >> 8) % s.size()] = symbols[(x >> 20) % symbols.size()];
    INFO(s);
    CHECK(crypto::is_canonical_base64(s) == crypto::base64_decode(s).ok());
  }
}

TEST_CASE("base64 round trip is canonical only") {
  auto enc = crypto::base64_encode(std::string("\x00\x01\xfe\xff", 4));
  auto dec = crypto::base64_decode(enc);
  REQUIRE(dec);
  CHECK(*dec == std::string("\x00\x01\xfe\xff", 4));
  CHECK_FALSE(crypto::base64_decode("AAE+/w"));      // missing padding
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

// ---- strict signature encoding (issue #9 item 20) ----

namespace {

using Scalar = std::array<uint8_t, 32>;

// The order n of P-256, big-endian.
const Scalar kN = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                   0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

Scalar half_n() {
  Scalar h{};
  int carry = 0;
  for (size_t i = 0; i < 32; ++i) {
    h[i] = static_cast<uint8_t>((kN[i] >> 1) | (carry ? 0x80 : 0));
    carry = kN[i] & 1;
  }
  return h;
}

Scalar negate(const Scalar& s) {  // n - s
  Scalar out{};
  int borrow = 0;
  for (size_t i = 32; i-- > 0;) {
    int d = kN[i] - s[i] - borrow;
    borrow = d < 0 ? 1 : 0;
    out[i] = static_cast<uint8_t>(d + (borrow ? 256 : 0));
  }
  return out;
}

// Lenient reader of a well-formed DER signature (test side, independent of
// lib/crypto.cc): r and s as 32-byte big-endian.
std::pair<Scalar, Scalar> read_rs(const std::string& der) {
  auto p = reinterpret_cast<const uint8_t*>(der.data());
  REQUIRE(der.size() >= 8);
  REQUIRE(p[0] == 0x30);
  size_t i = 2;
  Scalar v[2]{};
  for (auto& out : v) {
    REQUIRE(p[i] == 0x02);
    size_t len = p[i + 1];
    i += 2;
    size_t skip = 0;
    while (skip < len && p[i + skip] == 0) ++skip;
    REQUIRE(len - skip <= 32);
    std::memcpy(out.data() + 32 - (len - skip), p + i + skip, len - skip);
    i += len;
  }
  return {v[0], v[1]};
}

std::string der_int(const Scalar& v, int extra_zeros = 0) {
  size_t skip = 0;
  while (skip < 31 && v[skip] == 0) ++skip;
  int zeros = ((v[skip] & 0x80) ? 1 : 0) + extra_zeros;
  std::string out = "\x02";
  out += static_cast<char>(32 - skip + static_cast<size_t>(zeros));
  out.append(static_cast<size_t>(zeros), '\0');
  out.append(reinterpret_cast<const char*>(v.data() + skip), 32 - skip);
  return out;
}

std::string der_sig(const Scalar& r, const Scalar& s) {
  std::string body = der_int(r) + der_int(s);
  return std::string("\x30", 1) + static_cast<char>(body.size()) + body;
}

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

}  // namespace

TEST_CASE("gx signs only strict DER with low S, and its signatures verify") {
  auto key = crypto::PrivateKey::generate();
  REQUIRE(key);
  const Scalar half = half_n();
  for (int i = 0; i < 64; ++i) {
    const std::string body = "body " + std::to_string(i);
    auto sig = key->sign(crypto::kArtifactType, body);
    REQUIRE(sig);
    auto [r, s] = read_rs(*sig);
    CHECK(s <= half);              // low S
    CHECK(*sig == der_sig(r, s));  // the one DER spelling
    CHECK(key->public_key().check(crypto::kArtifactType, body, *sig) == crypto::SigStatus::Ok);
  }
}

TEST_CASE("every other spelling of a valid signature is refused, each for its reason") {
  auto key = crypto::PrivateKey::generate();
  REQUIRE(key);
  const auto& pub = key->public_key();
  auto sig = key->sign(crypto::kArtifactType, "hello");
  REQUIRE(sig);
  auto [r, s] = read_rs(*sig);
  auto check = [&](const std::string& variant) { return pub.check(crypto::kArtifactType, "hello", variant); };
  REQUIRE(check(*sig) == crypto::SigStatus::Ok);
  // The malleable twin (r, n - s): plain ECDSA accepts it; gx does not.
  CHECK(check(der_sig(r, negate(s))) == crypto::SigStatus::HighS);
  // BER: long-form sequence length, non-minimal integers, trailing bytes, indefinite length.
  std::string body = der_int(r) + der_int(s);
  CHECK(check(std::string("\x30\x81", 2) + static_cast<char>(body.size()) + body) == crypto::SigStatus::BadEncoding);
  CHECK(check(std::string("\x30\x80", 2) + body + std::string(2, '\0')) == crypto::SigStatus::BadEncoding);
  std::string padded = der_int(r, 1) + der_int(s);
  CHECK(check(std::string("\x30", 1) + static_cast<char>(padded.size()) + padded) == crypto::SigStatus::BadEncoding);
  CHECK(check(*sig + std::string(1, '\0')) == crypto::SigStatus::BadEncoding);
  CHECK(check(sig->substr(0, sig->size() - 1)) == crypto::SigStatus::BadEncoding);
  // A long-form INTEGER length inside the sequence.
  std::string ri = der_int(r);
  std::string long_r = std::string("\x02\x81", 2) + ri.substr(1);
  std::string lbody = long_r + der_int(s);
  CHECK(check(std::string("\x30", 1) + static_cast<char>(lbody.size()) + lbody) == crypto::SigStatus::BadEncoding);
  // Negative r (sign bit set without the 0x00 byte) is not r.
  Scalar high_r = r;
  high_r[0] |= 0x80;
  std::string neg =
      std::string("\x02\x20", 2) + std::string(reinterpret_cast<const char*>(high_r.data()), 32) + der_int(s);
  CHECK(check(std::string("\x30", 1) + static_cast<char>(neg.size()) + neg) == crypto::SigStatus::BadEncoding);
  // Out of range: 0, n, n + r (IntegerOverflow class).
  Scalar zero{};
  CHECK(check(der_sig(zero, s)) == crypto::SigStatus::OutOfRange);
  CHECK(check(der_sig(r, zero)) == crypto::SigStatus::OutOfRange);
  CHECK(check(der_sig(kN, s)) == crypto::SigStatus::OutOfRange);
  CHECK(check(der_sig(r, kN)) == crypto::SigStatus::OutOfRange);
  // Swapped r and s, a changed body, another key: well-formed but wrong.
  CHECK(pub.check(crypto::kArtifactType, "hellO", *sig) == crypto::SigStatus::Mismatch);
  auto other = crypto::PrivateKey::generate();
  REQUIRE(other);
  CHECK(other->public_key().check(crypto::kArtifactType, "hello", *sig) == crypto::SigStatus::Mismatch);
  // A key-less PublicKey never verifies.
  CHECK(crypto::PublicKey().check(crypto::kArtifactType, "hello", *sig) == crypto::SigStatus::NoKey);
}

TEST_CASE("the signing fault check accepts exactly the deterministic signature (and its twin)") {
  auto key = crypto::PrivateKey::generate();
  REQUIRE(key);
  auto sig = key->sign(crypto::kReceiptType, "body");
  REQUIRE(sig);
  CHECK(key->is_deterministic_signature(crypto::kReceiptType, "body", *sig));
  auto [r, s] = read_rs(*sig);
  CHECK(key->is_deterministic_signature(crypto::kReceiptType, "body", der_sig(r, negate(s))));
  // A wrong s (as a fault in its computation would give), another message's
  // signature, another type's, another key's: refused.
  Scalar s1 = s;
  s1[31] ^= 1;
  CHECK_FALSE(key->is_deterministic_signature(crypto::kReceiptType, "body", der_sig(r, s1)));
  Scalar r1 = r;
  r1[31] ^= 1;
  CHECK_FALSE(key->is_deterministic_signature(crypto::kReceiptType, "body", der_sig(r1, s)));
  auto other_body = key->sign(crypto::kReceiptType, "bodY");
  REQUIRE(other_body);
  CHECK_FALSE(key->is_deterministic_signature(crypto::kReceiptType, "body", *other_body));
  CHECK_FALSE(key->is_deterministic_signature(crypto::kArtifactType, "body", *sig));
  auto other = crypto::PrivateKey::generate();
  REQUIRE(other);
  CHECK_FALSE(other->is_deterministic_signature(crypto::kReceiptType, "body", *sig));
  CHECK_FALSE(key->is_deterministic_signature(crypto::kReceiptType, "body", sig->substr(1)));
  // Signing is deterministic: the same body gives the same bytes.
  auto again = key->sign(crypto::kReceiptType, "body");
  REQUIRE(again);
  CHECK(*again == *sig);
}

TEST_CASE("a loaded key verifies on many threads at once, and copies share it") {
  auto key = crypto::PrivateKey::generate();
  REQUIRE(key);
  auto sig = key->sign(crypto::kReceiptType, "r");
  REQUIRE(sig);
  const crypto::PublicKey copy = key->public_key();
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 8; ++i)
        if (copy.verify(crypto::kReceiptType, "r", *sig) && !copy.verify(crypto::kReceiptType, "s", *sig)) ++good;
    });
  for (auto& th : threads) th.join();
  CHECK(good == 32);
}

TEST_CASE("Wycheproof ECDSA P-256/SHA-256 vectors: invalid refused, valid accepted unless high S") {
  std::ifstream in(std::string(GX_SOURCE_DIR) + "/tests/data/wycheproof/ecdsa_secp256r1_sha256_test.json");
  REQUIRE(in);
  auto doc = nlohmann::json::parse(in);
  const Scalar half = half_n();
  int total = 0, valid_ok = 0, valid_high_s = 0, invalid = 0, key_refused = 0;
  std::map<crypto::SigStatus, int> why;
  for (const auto& group : doc.at("testGroups")) {
    auto key = crypto::PublicKey::from_der(unhex(group.at("publicKeyDer").get<std::string>()));
    for (const auto& t : group.at("tests")) {
      ++total;
      const std::string result = t.at("result");
      const std::string sig = unhex(t.at("sig").get<std::string>());
      const auto digest = crypto::sha256(unhex(t.at("msg").get<std::string>()));
      INFO("tcId " << t.at("tcId").get<int>() << ": " << t.at("comment").get<std::string>());
      if (result == "valid") {
        REQUIRE(key);
        bool high = read_rs(sig).second > half;
        auto st = key->check_digest(digest, sig);
        if (high) {
          CHECK(st == crypto::SigStatus::HighS);
          ++valid_high_s;
        } else {
          CHECK(st == crypto::SigStatus::Ok);
          ++valid_ok;
        }
      } else {
        REQUIRE(result == "invalid");  // this file has no "acceptable" vectors
        ++invalid;
        // A group whose key gx refuses to load rejects its vectors anyway.
        if (!key) {
          ++key_refused;
          continue;
        }
        auto st = key->check_digest(digest, sig);
        CHECK(st != crypto::SigStatus::Ok);
        ++why[st];
      }
    }
  }
  CHECK(total == doc.at("numberOfTests").get<int>());
  CHECK(total == 484);
  CHECK(valid_ok + valid_high_s == 174);
  CHECK(invalid == 310);
  CHECK(valid_high_s > 0);
  std::printf(
      "wycheproof: %d vectors: %d valid accepted, %d valid refused as high S, %d invalid refused "
      "(key refused %d, bad encoding %d, out of range %d, high S %d, mismatch %d)\n",
      total, valid_ok, valid_high_s, invalid, key_refused, why[crypto::SigStatus::BadEncoding],
      why[crypto::SigStatus::OutOfRange], why[crypto::SigStatus::HighS], why[crypto::SigStatus::Mismatch]);
}

// ---- The P-256 generator table (lib/p256_table.h) ----

namespace {

struct TestGroup {
  mbedtls_ecp_group g;
  TestGroup() {
    mbedtls_ecp_group_init(&g);
    REQUIRE(mbedtls_ecp_group_load(&g, MBEDTLS_ECP_DP_SECP256R1) == 0);
  }
  ~TestGroup() { mbedtls_ecp_group_free(&g); }
};

struct TestPoint {
  mbedtls_ecp_point p;
  TestPoint() { mbedtls_ecp_point_init(&p); }
  ~TestPoint() { mbedtls_ecp_point_free(&p); }
};

struct TestMpi {
  mbedtls_mpi v;
  TestMpi() { mbedtls_mpi_init(&v); }
  explicit TestMpi(const std::string& hex_digits) {
    mbedtls_mpi_init(&v);
    REQUIRE(mbedtls_mpi_read_string(&v, 16, hex_digits.c_str()) == 0);
  }
  ~TestMpi() { mbedtls_mpi_free(&v); }
};

int test_rng(void*, unsigned char* out, size_t len) {
  auto b = crypto::random_bytes(len);
  if (!b) return -1;
  std::memcpy(out, b->data(), len);
  return 0;
}

}  // namespace

TEST_CASE("the built-in P-256 generator table is exactly the one mbedTLS computes") {
  // mbedTLS's own: built by its first multiplication by G.
  TestGroup computed;
  TestPoint r;
  TestMpi k("2");
  REQUIRE(mbedtls_ecp_mul(&computed.g, &r.p, &k.v, &computed.g.G, test_rng, nullptr) == 0);
  REQUIRE(computed.g.T != nullptr);
  REQUIRE(computed.g.T_size == crypto::kP256GeneratorTableSize);

  TestGroup installed;
  REQUIRE(crypto::install_p256_generator_table(&installed.g));
  REQUIRE(installed.g.T_size == computed.g.T_size);
  for (size_t i = 0; i < computed.g.T_size; ++i) {
    INFO("T[" << i << "]");
    CHECK(mbedtls_mpi_cmp_mpi(&installed.g.T[i].X, &computed.g.T[i].X) == 0);
    CHECK(mbedtls_mpi_cmp_mpi(&installed.g.T[i].Y, &computed.g.T[i].Y) == 0);
    CHECK(mbedtls_mpi_cmp_mpi(&installed.g.T[i].Z, &computed.g.T[i].Z) == 0);
  }
  // A group that has a table already, or another curve, is left alone.
  CHECK_FALSE(crypto::install_p256_generator_table(&installed.g));
  CHECK_FALSE(crypto::install_p256_generator_table(nullptr));
  mbedtls_ecp_group p384;
  mbedtls_ecp_group_init(&p384);
  REQUIRE(mbedtls_ecp_group_load(&p384, MBEDTLS_ECP_DP_SECP384R1) == 0);
  CHECK_FALSE(crypto::install_p256_generator_table(&p384));
  CHECK(p384.T == nullptr);
  mbedtls_ecp_group_free(&p384);
}

TEST_CASE("multiplications by G agree with and without the built-in table") {
  TestGroup plain;  // builds its own table on first use
  TestGroup installed;
  REQUIRE(crypto::install_p256_generator_table(&installed.g));
  for (int i = 0; i < 32; ++i) {
    TestMpi k;
    REQUIRE(mbedtls_ecp_gen_privkey(&plain.g, &k.v, test_rng, nullptr) == 0);
    TestPoint a, b;
    REQUIRE(mbedtls_ecp_mul(&plain.g, &a.p, &k.v, &plain.g.G, test_rng, nullptr) == 0);
    REQUIRE(mbedtls_ecp_mul(&installed.g, &b.p, &k.v, &installed.g.G, test_rng, nullptr) == 0);
    CHECK(mbedtls_ecp_point_cmp(&a.p, &b.p) == 0);
    CHECK(mbedtls_ecp_check_pubkey(&installed.g, &b.p) == 0);
  }
}

TEST_CASE("RFC 6979 A.2.5 (P-256, SHA-256) signatures with the built-in table") {
  TestGroup installed;
  REQUIRE(crypto::install_p256_generator_table(&installed.g));
  TestMpi d("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721");
  struct Vector {
    const char* msg;
    const char* r;
    const char* s;
  };
  for (const Vector& v : {Vector{"sample", "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
                                 "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"},
                          Vector{"test", "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367",
                                 "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"}}) {
    INFO(v.msg);
    crypto::Digest h = crypto::sha256(v.msg);
    TestMpi r, s, want_r(v.r), want_s(v.s);
    REQUIRE(mbedtls_ecdsa_sign_det_ext(&installed.g, &r.v, &s.v, &d.v, h.data(), h.size(), MBEDTLS_MD_SHA256, test_rng,
                                       nullptr) == 0);
    CHECK(mbedtls_mpi_cmp_mpi(&r.v, &want_r.v) == 0);
    CHECK(mbedtls_mpi_cmp_mpi(&s.v, &want_s.v) == 0);
  }
}

TEST_CASE("gx signatures are mbedTLS's RFC 6979 signatures made without the built-in table") {
  auto key = crypto::PrivateKey::generate();
  REQUIRE(key);
  // The private scalar, read back through mbedTLS from the PEM.
  std::string pem = key->pem();
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  REQUIRE(mbedtls_pk_parse_key(&pk, reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1, nullptr, 0) ==
          0);
  TestGroup plain;  // no installed table: mbedTLS computes its own
  TestMpi half_n;
  REQUIRE(mbedtls_mpi_copy(&half_n.v, &plain.g.N) == 0);
  REQUIRE(mbedtls_mpi_shift_r(&half_n.v, 1) == 0);
  for (int i = 0; i < 16; ++i) {
    const std::string body = "receipt " + std::to_string(i);
    auto sig = key->sign(crypto::kReceiptType, body);
    REQUIRE(sig);
    crypto::Digest h = crypto::pae_sha256(crypto::kReceiptType, body);
    TestMpi r, s;
    REQUIRE(mbedtls_ecdsa_sign_det_ext(&plain.g, &r.v, &s.v, &mbedtls_pk_ec(pk)->d, h.data(), h.size(),
                                       MBEDTLS_MD_SHA256, test_rng, nullptr) == 0);
    if (mbedtls_mpi_cmp_mpi(&s.v, &half_n.v) > 0) REQUIRE(mbedtls_mpi_sub_mpi(&s.v, &plain.g.N, &s.v) == 0);
    Scalar rb{}, sb{};
    REQUIRE(mbedtls_mpi_write_binary(&r.v, rb.data(), rb.size()) == 0);
    REQUIRE(mbedtls_mpi_write_binary(&s.v, sb.data(), sb.size()) == 0);
    CHECK(*sig == der_sig(rb, sb));
    CHECK(key->public_key().check(crypto::kReceiptType, body, *sig) == crypto::SigStatus::Ok);
    // The fault check still refuses a corrupted s.
    Scalar bad = sb;
    bad[17] ^= 0x40;
    CHECK_FALSE(key->is_deterministic_signature(crypto::kReceiptType, body, der_sig(rb, bad)));
  }
  mbedtls_pk_free(&pk);
}

TEST_CASE("prepared nonces: signatures verify, are low-S strict DER, differ, and a nonce signs once") {
  auto key = crypto::PrivateKey::generate();
  REQUIRE(key.ok());
  std::set<std::string> seen;
  for (int i = 0; i < 64; ++i) {
    auto nonce = key->prepare_nonce();
    REQUIRE(nonce.ok());
    CHECK(nonce->usable());
    std::string body = "receipt " + std::to_string(i);
    auto sig = key->sign_prepared(*nonce, crypto::kReceiptType, body);
    REQUIRE(sig.ok());
    // check() refuses high S and any non-strict encoding: Ok means both hold.
    CHECK(key->public_key().check(crypto::kReceiptType, body, *sig) == crypto::SigStatus::Ok);
    CHECK_FALSE(key->public_key().verify(crypto::kReceiptType, body + "x", *sig));
    CHECK_FALSE(key->public_key().verify(crypto::kArtifactType, body, *sig));
    seen.insert(*sig);
    // Used: never again, whatever the message.
    CHECK_FALSE(nonce->usable());
    CHECK_FALSE(key->sign_prepared(*nonce, crypto::kReceiptType, body).ok());
    CHECK_FALSE(key->sign_prepared(*nonce, crypto::kReceiptType, "other").ok());
  }
  CHECK(seen.size() == 64);
  // The same message twice: two different nonces, two different signatures, both valid.
  auto n1 = key->prepare_nonce(), n2 = key->prepare_nonce();
  REQUIRE((n1.ok() && n2.ok()));
  auto s1 = key->sign_prepared(*n1, crypto::kReceiptType, "same"),
       s2 = key->sign_prepared(*n2, crypto::kReceiptType, "same");
  REQUIRE((s1.ok() && s2.ok()));
  CHECK(*s1 != *s2);
  // Moved from, or default: unusable.
  auto n3 = key->prepare_nonce();
  REQUIRE(n3.ok());
  crypto::PreparedNonce moved = std::move(*n3);
  CHECK(moved.usable());
  CHECK_FALSE(n3->usable());
  CHECK_FALSE(key->sign_prepared(*n3, crypto::kReceiptType, "x").ok());
  crypto::PreparedNonce empty;
  CHECK_FALSE(key->sign_prepared(empty, crypto::kReceiptType, "x").ok());
  // A nonce made by one key signs nothing valid for another? It is the key's
  // own d that enters s: the signature is still the other key's (the nonce
  // carries no key), and it verifies only under that key.
  auto other = crypto::PrivateKey::generate();
  REQUIRE(other.ok());
  auto n4 = key->prepare_nonce();
  REQUIRE(n4.ok());
  auto s4 = other->sign_prepared(*n4, crypto::kReceiptType, "cross");
  REQUIRE(s4.ok());
  CHECK(other->public_key().verify(crypto::kReceiptType, "cross", *s4));
  CHECK_FALSE(key->public_key().verify(crypto::kReceiptType, "cross", *s4));
}

TEST_CASE("prepared nonces: a fork of the process that made a nonce cannot use it") {
  auto key = crypto::PrivateKey::generate();
  REQUIRE(key.ok());
  auto nonce = key->prepare_nonce();
  REQUIRE(nonce.ok());
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Would sign a second message with the parent's k: must be refused.
    bool refused = !nonce->usable() && !key->sign_prepared(*nonce, crypto::kReceiptType, "child").ok();
    _exit(refused ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // The maker still can, once.
  auto sig = key->sign_prepared(*nonce, crypto::kReceiptType, "parent");
  REQUIRE(sig.ok());
  CHECK(key->public_key().verify(crypto::kReceiptType, "parent", *sig));
}

TEST_CASE("hedged signatures verify, are low-S strict DER, and differ for the same message") {
  auto key = crypto::PrivateKey::generate();
  REQUIRE(key.ok());
  std::set<std::string> seen;
  for (int i = 0; i < 64; ++i) {
    auto sig = key->sign_hedged(crypto::kReceiptType, "same body");
    REQUIRE(sig.ok());
    CHECK(key->public_key().check(crypto::kReceiptType, "same body", *sig) == crypto::SigStatus::Ok);
    CHECK_FALSE(key->public_key().verify(crypto::kReceiptType, "same bodY", *sig));
    CHECK_FALSE(key->is_deterministic_signature(crypto::kReceiptType, "same body", *sig));
    seen.insert(*sig);
  }
  CHECK(seen.size() == 64);  // a fresh k every time
}
