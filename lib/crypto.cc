#include "lib/crypto.h"

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/hmac_drbg.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "lib/fsutil.h"
#include "lib/p256_table.h"

namespace gx::crypto {
namespace {

// RAII for mbedtls_pk_context.
struct Pk {
  mbedtls_pk_context ctx;
  Pk() { mbedtls_pk_init(&ctx); }
  ~Pk() { mbedtls_pk_free(&ctx); }
  Pk(const Pk&) = delete;
  Pk& operator=(const Pk&) = delete;
};

// mbedTLS wants an RNG callback; getrandom(2) is the kernel CSPRNG.
int rng(void*, unsigned char* out, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = getrandom(out + done, len - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return MBEDTLS_ERR_ECP_RANDOM_FAILED;
    }
    done += static_cast<size_t>(n);
  }
  return 0;
}

// The pinned algorithm: an EC key on P-256, nothing else.
bool is_p256(const mbedtls_pk_context& pk) {
  if (mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY) return false;
  return mbedtls_pk_ec(pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

// RAII for mbedtls_mpi.
struct Mpi {
  mbedtls_mpi v;
  Mpi() { mbedtls_mpi_init(&v); }
  ~Mpi() { mbedtls_mpi_free(&v); }
  Mpi(const Mpi&) = delete;
  Mpi& operator=(const Mpi&) = delete;
};

// One P-256 group per thread, loaded once. mbedTLS caches the comb table for
// the generator in the group it is given (MBEDTLS_ECP_FIXED_POINT_OPTIM);
// the group starts with that table already in place (p256_table.h: the
// same points from constants, instead of ~4.8 M instructions of
// precomputation on the first multiplication of every process). mbedTLS
// writes into a group during multiplication (the table when it is missing),
// hence one group per thread rather than one shared (receipt verification
// runs on several threads).
struct P256Group {
  mbedtls_ecp_group grp;
  mbedtls_mpi half_n;  // floor(n / 2): the largest low S
  bool ok = false;
  P256Group() {
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&half_n);
    ok = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 && mbedtls_mpi_copy(&half_n, &grp.N) == 0 &&
         mbedtls_mpi_shift_r(&half_n, 1) == 0;
    // Best effort: without it mbedTLS builds the same table on first use.
    if (ok) (void)install_p256_generator_table(&grp);
  }
  ~P256Group() {
    mbedtls_mpi_free(&half_n);
    mbedtls_ecp_group_free(&grp);
  }
  P256Group(const P256Group&) = delete;
  P256Group& operator=(const P256Group&) = delete;
};

P256Group* p256() {
  thread_local P256Group g;
  return g.ok ? &g : nullptr;
}

constexpr size_t kScalarBytes = 32;

// Strict DER ECDSA-Sig-Value: SEQUENCE { INTEGER r, INTEGER s }. Every length
// is short form (a P-256 signature is at most 72 bytes, so DER never needs
// the long form), each INTEGER is positive and minimal (a leading 0x00 only
// before a byte with its top bit set), at most 32 significant bytes, and
// nothing follows. Writes r and s as 32-byte big-endian.
bool parse_strict_der(std::string_view sig, uint8_t r[kScalarBytes], uint8_t s[kScalarBytes]) {
  auto p = reinterpret_cast<const uint8_t*>(sig.data());
  size_t n = sig.size();
  if (n < 2 || p[0] != 0x30 || p[1] >= 0x80 || p[1] != n - 2) return false;
  size_t i = 2;
  for (uint8_t* out : {r, s}) {
    if (i + 2 > n || p[i] != 0x02 || p[i + 1] >= 0x80) return false;
    size_t len = p[i + 1];
    i += 2;
    if (len == 0 || i + len > n) return false;
    const uint8_t* v = p + i;
    if (v[0] & 0x80) return false;                             // negative
    if (len > 1 && v[0] == 0 && !(v[1] & 0x80)) return false;  // non-minimal
    if (v[0] == 0) {                                           // the sign byte carries no value
      ++v;
      --len;
    }
    if (len > kScalarBytes) return false;
    std::memset(out, 0, kScalarBytes);
    std::memcpy(out + kScalarBytes - len, v, len);
    i += static_cast<size_t>(v - (p + i)) + len;
  }
  return i == n;
}

void der_integer(std::string& out, const uint8_t be[kScalarBytes]) {
  size_t skip = 0;
  while (skip + 1 < kScalarBytes && be[skip] == 0) ++skip;
  bool pad = (be[skip] & 0x80) != 0;
  out += '\x02';
  out += static_cast<char>(kScalarBytes - skip + (pad ? 1 : 0));
  if (pad) out += '\0';
  out.append(reinterpret_cast<const char*>(be + skip), kScalarBytes - skip);
}

// The one DER spelling of (r, s), both in [1, n-1].
Result<std::string> encode_der(const mbedtls_mpi& r, const mbedtls_mpi& s) {
  uint8_t rb[kScalarBytes], sb[kScalarBytes];
  if (mbedtls_mpi_write_binary(&r, rb, sizeof rb) != 0 || mbedtls_mpi_write_binary(&s, sb, sizeof sb) != 0)
    return Decision::deny(DenyReason::IoError, "signature value does not fit P-256");
  std::string body;
  der_integer(body, rb);
  der_integer(body, sb);
  std::string out = "\x30";
  out += static_cast<char>(body.size());
  return out + body;
}

// The fault check of PrivateKey::sign (see crypto.h): is `sig` (strict DER)
// the RFC 6979 signature of digest `h` by `d`, up to the low-S twin?
// Recomputed apart from mbedtls_ecdsa_sign_det_ext's own computation: the
// nonce k from a fresh HMAC_DRBG seeded exactly as mbedtls seeds it
// (int2octets(d) || bits2octets(h): ecdsa.c, ecdsa_sign_det_restartable),
// R = k*G by a second, differently blinded multiplication, then
// r == x(R) mod n and s*k == +-(e + r*d) mod n. One fixed-base
// multiplication (cached comb table) instead of a verification's two
// (Q's table is built every time): ~4 M instructions instead of ~13 M.
bool det_signature_consistent(P256Group& g, const mbedtls_mpi& d, const Digest& h, std::string_view sig) {
  uint8_t rb[kScalarBytes], sb[kScalarBytes];
  if (!parse_strict_der(sig, rb, sb)) return false;
  const mbedtls_md_info_t* md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  if (md == nullptr) return false;
  Mpi r, s, e, k, x, lhs, rhs;
  mbedtls_ecp_point R;
  mbedtls_ecp_point_init(&R);
  mbedtls_hmac_drbg_context drbg;
  mbedtls_hmac_drbg_init(&drbg);
  unsigned char seed[2 * kScalarBytes];
  bool ok = false;
  do {
    if (mbedtls_mpi_read_binary(&r.v, rb, sizeof rb) != 0 || mbedtls_mpi_read_binary(&s.v, sb, sizeof sb) != 0) break;
    // e = h mod n (a 256-bit digest on a 256-bit group: at most one subtraction).
    if (mbedtls_mpi_read_binary(&e.v, h.data(), h.size()) != 0) break;
    if (mbedtls_mpi_cmp_mpi(&e.v, &g.grp.N) >= 0 && mbedtls_mpi_sub_mpi(&e.v, &e.v, &g.grp.N) != 0) break;
    if (mbedtls_mpi_write_binary(&d, seed, kScalarBytes) != 0 ||
        mbedtls_mpi_write_binary(&e.v, seed + kScalarBytes, kScalarBytes) != 0)
      break;
    if (mbedtls_hmac_drbg_seed_buf(&drbg, md, seed, sizeof seed) != 0) break;
    if (mbedtls_ecp_gen_privkey(&g.grp, &k.v, mbedtls_hmac_drbg_random, &drbg) != 0) break;
    if (mbedtls_ecp_mul(&g.grp, &R, &k.v, &g.grp.G, rng, nullptr) != 0) break;
    if (mbedtls_mpi_mod_mpi(&x.v, &R.X, &g.grp.N) != 0 || mbedtls_mpi_cmp_mpi(&x.v, &r.v) != 0) break;
    // lhs = s*k mod n, rhs = e + r*d mod n; the low-S twin gives lhs = n - rhs.
    if (mbedtls_mpi_mul_mpi(&lhs.v, &s.v, &k.v) != 0 || mbedtls_mpi_mod_mpi(&lhs.v, &lhs.v, &g.grp.N) != 0) break;
    if (mbedtls_mpi_mul_mpi(&rhs.v, &r.v, &d) != 0 || mbedtls_mpi_add_mpi(&rhs.v, &rhs.v, &e.v) != 0 ||
        mbedtls_mpi_mod_mpi(&rhs.v, &rhs.v, &g.grp.N) != 0)
      break;
    if (mbedtls_mpi_cmp_int(&rhs.v, 0) == 0) break;
    if (mbedtls_mpi_cmp_mpi(&lhs.v, &rhs.v) == 0) {
      ok = true;
      break;
    }
    if (mbedtls_mpi_sub_mpi(&rhs.v, &g.grp.N, &rhs.v) != 0) break;
    ok = mbedtls_mpi_cmp_mpi(&lhs.v, &rhs.v) == 0;
  } while (false);
  mbedtls_platform_zeroize(seed, sizeof seed);
  mbedtls_hmac_drbg_free(&drbg);
  mbedtls_ecp_point_free(&R);
  return ok;
}

Result<std::string> spki_der(mbedtls_pk_context& pk) {
  unsigned char buf[512];
  int n = mbedtls_pk_write_pubkey_der(&pk, buf, sizeof buf);
  if (n <= 0) return Decision::deny(DenyReason::InvalidValue, "cannot encode public key");
  // mbedtls writes DER at the end of the buffer.
  return std::string(reinterpret_cast<char*>(buf + sizeof buf - n), static_cast<size_t>(n));
}

}  // namespace

struct Sha256::State {
  mbedtls_sha256_context ctx;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  mbedtls_sha256_init(&state_->ctx);
  mbedtls_sha256_starts_ret(&state_->ctx, 0);
}
Sha256::~Sha256() {
  if (state_) mbedtls_sha256_free(&state_->ctx);
}
Sha256::Sha256(const Sha256& other) : state_(std::make_unique<State>()) {
  mbedtls_sha256_init(&state_->ctx);
  mbedtls_sha256_clone(&state_->ctx, &other.state_->ctx);
}
Sha256& Sha256::operator=(const Sha256& other) {
  if (this != &other) mbedtls_sha256_clone(&state_->ctx, &other.state_->ctx);
  return *this;
}
void Sha256::update(std::string_view data) {
  mbedtls_sha256_update_ret(&state_->ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}
Digest Sha256::finish() {
  Digest out{};
  mbedtls_sha256_finish_ret(&state_->ctx, out.data());
  return out;
}

Digest sha256(std::string_view data) {
  Digest out{};
  mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), 0);
  return out;
}

std::string sha256_hex(std::string_view data) { return hex(sha256(data)); }

Result<std::string> sha256_fd_hex(int fd) {
  Sha256 h;
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Decision::deny(DenyReason::IoError, "cannot read file to digest: " + fs::errno_text(errno));
    }
    if (n == 0) break;
    h.update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  return hex(h.finish());
}

std::string hex(const uint8_t* data, size_t len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

namespace {

// Lowercase hex digit values; 0xff for every other byte.
constexpr std::array<uint8_t, 256> kHexValue = [] {
  std::array<uint8_t, 256> t{};
  t.fill(0xff);
  for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[static_cast<size_t>(c)] = static_cast<uint8_t>(c - 'a' + 10);
  return t;
}();

uint8_t hex_value(char c) { return kHexValue[static_cast<unsigned char>(c)]; }

}  // namespace

bool is_hex_sha256(std::string_view s) {
  if (s.size() != 64) return false;
  uint8_t bad = 0;
  for (char c : s) bad |= hex_value(c);  // 0xff has the high bit, no digit does
  return (bad & 0x80) == 0;
}

bool is_sha256_ref(std::string_view s) { return s.starts_with("sha256:") && is_hex_sha256(s.substr(7)); }

std::optional<Digest> parse_sha256_ref(std::string_view s) {
  if (s.size() != 71 || !s.starts_with("sha256:")) return std::nullopt;
  Digest d;
  uint8_t bad = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    uint8_t hi = hex_value(s[7 + 2 * i]), lo = hex_value(s[8 + 2 * i]);
    bad |= hi | lo;
    d[i] = static_cast<uint8_t>((hi << 4) | (lo & 0x0f));
  }
  if ((bad & 0x80) != 0) return std::nullopt;
  return d;
}

std::string sha256_ref(const Digest& d) { return "sha256:" + hex(d); }

std::string normalize_sha256_ref(std::string_view s) {
  std::string_view hex_part = s.starts_with("sha256:") ? s.substr(7) : s;
  return is_hex_sha256(hex_part) ? "sha256:" + std::string(hex_part) : std::string();
}

std::string base64_encode(std::string_view data) {
  size_t olen = 0;
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &olen,
                        reinterpret_cast<const unsigned char*>(data.data()), data.size());
  out.resize(olen);
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  size_t olen = 0;
  std::string out(text.size(), '\0');
  if (mbedtls_base64_decode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &olen,
                            reinterpret_cast<const unsigned char*>(text.data()), text.size()) != 0)
    return Decision::deny(DenyReason::InvalidValue, "not valid base64");
  out.resize(olen);
  // Only the canonical encoding is accepted, so one signature has one spelling.
  if (base64_encode(out) != text) return Decision::deny(DenyReason::InvalidValue, "non-canonical base64");
  return out;
}

bool is_canonical_base64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return false;
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  const size_t symbols = text.size() - pad;
  for (size_t i = 0; i < symbols; ++i)
    if (value(text[i]) < 0) return false;
  // The last symbol's bits past the data are zero in the one spelling that
  // base64_encode writes: 4 of them before "==", 2 before "=".
  if (pad == 0) return true;
  const int last = value(text[symbols - 1]);
  return (last & (pad == 2 ? 0x0f : 0x03)) == 0;
}

namespace {
std::string pae_prefix(std::string_view type, size_t body_size) {
  return "DSSEv1 " + std::to_string(type.size()) + " " + std::string(type) + " " + std::to_string(body_size) + " ";
}
}  // namespace

Digest pae_sha256(std::string_view type, std::string_view body) {
  Sha256 h;
  h.update(pae_prefix(type, body.size()));
  h.update(body);
  return h.finish();
}

std::string pae(std::string_view type, std::string_view body) {
  std::string out = pae_prefix(type, body.size());
  out += body;
  return out;
}

Result<std::string> random_bytes(size_t n) {
  std::string out(n, '\0');
  if (rng(nullptr, reinterpret_cast<unsigned char*>(out.data()), n) != 0)
    return Decision::deny(DenyReason::IoError, "getrandom failed");
  return out;
}

Result<std::string> random_hex(size_t n_bytes) {
  auto r = random_bytes(n_bytes);
  if (!r) return r.error();
  return hex(reinterpret_cast<const uint8_t*>(r->data()), r->size());
}

std::string_view sig_status_text(SigStatus s) {
  switch (s) {
    case SigStatus::Ok: return "valid";
    case SigStatus::BadEncoding: return "not a strict DER ECDSA signature";
    case SigStatus::OutOfRange: return "r or s outside [1, n-1]";
    case SigStatus::HighS: return "high S value (only low-S signatures are accepted)";
    case SigStatus::Mismatch: return "does not verify";
    case SigStatus::NoKey: return "no public key";
  }
  return "invalid";
}

// ---- PublicKey ----

struct PublicKey::Point {
  mbedtls_ecp_point q;
  Point() { mbedtls_ecp_point_init(&q); }
  ~Point() { mbedtls_ecp_point_free(&q); }
  Point(const Point&) = delete;
  Point& operator=(const Point&) = delete;
};

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  Pk pk;
  std::string buf(pem);  // mbedtls needs the terminating NUL counted for PEM
  if (mbedtls_pk_parse_public_key(&pk.ctx, reinterpret_cast<const unsigned char*>(buf.c_str()), buf.size() + 1) != 0)
    return Decision::deny(DenyReason::InvalidValue, "not a SubjectPublicKeyInfo PEM public key");
  if (!is_p256(pk.ctx)) return Decision::deny(DenyReason::UnsupportedAlgorithm, "public key is not ECDSA P-256");
  auto der = spki_der(pk.ctx);
  if (!der) return der.error();
  return from_der(*der);
}

Result<PublicKey> PublicKey::from_der(std::string_view der) {
  Pk pk;
  if (mbedtls_pk_parse_public_key(&pk.ctx, reinterpret_cast<const unsigned char*>(der.data()), der.size()) != 0)
    return Decision::deny(DenyReason::InvalidValue, "not a DER public key");
  if (!is_p256(pk.ctx)) return Decision::deny(DenyReason::UnsupportedAlgorithm, "public key is not ECDSA P-256");
  auto canon = spki_der(pk.ctx);
  if (!canon) return canon.error();
  if (*canon != der) return Decision::deny(DenyReason::InvalidValue, "non-canonical DER public key");
  // mbedtls_pk_parse_public_key has checked the point is on the curve.
  auto q = std::make_shared<Point>();
  if (mbedtls_ecp_copy(&q->q, &mbedtls_pk_ec(pk.ctx)->Q) != 0)
    return Decision::deny(DenyReason::IoError, "cannot copy public key point");
  PublicKey k;
  k.der_ = canon.take();
  k.q_ = std::move(q);
  return k;
}

std::string PublicKey::pem() const {
  Pk pk;
  mbedtls_pk_parse_public_key(&pk.ctx, reinterpret_cast<const unsigned char*>(der_.data()), der_.size());
  unsigned char buf[1024] = {};
  mbedtls_pk_write_pubkey_pem(&pk.ctx, buf, sizeof buf);
  return reinterpret_cast<char*>(buf);
}

std::string PublicKey::key_id() const { return "sha256:" + sha256_hex(der_); }

SigStatus PublicKey::check(std::string_view type, std::string_view body, std::string_view signature) const {
  return check_digest(pae_sha256(type, body), signature);
}

SigStatus PublicKey::check_digest(const Digest& digest, std::string_view signature) const {
  // Our own parser: mbedtls_pk_verify / mbedtls_ecdsa_read_signature accept
  // BER spellings, and any second spelling of a signature is malleability.
  uint8_t rb[kScalarBytes], sb[kScalarBytes];
  if (!parse_strict_der(signature, rb, sb)) return SigStatus::BadEncoding;
  if (!q_) return SigStatus::NoKey;
  P256Group* g = p256();
  if (!g) return SigStatus::Mismatch;  // fail closed
  Mpi r, s;
  if (mbedtls_mpi_read_binary(&r.v, rb, sizeof rb) != 0 || mbedtls_mpi_read_binary(&s.v, sb, sizeof sb) != 0)
    return SigStatus::BadEncoding;
  // Explicit range checks (CVE-2022-21449 accepted r = s = 0), before the
  // low-S rule so that s >= n is reported as out of range.
  if (mbedtls_mpi_cmp_int(&r.v, 1) < 0 || mbedtls_mpi_cmp_mpi(&r.v, &g->grp.N) >= 0 ||
      mbedtls_mpi_cmp_int(&s.v, 1) < 0 || mbedtls_mpi_cmp_mpi(&s.v, &g->grp.N) >= 0)
    return SigStatus::OutOfRange;
  if (mbedtls_mpi_cmp_mpi(&s.v, &g->half_n) > 0) return SigStatus::HighS;
  return mbedtls_ecdsa_verify(&g->grp, digest.data(), digest.size(), &q_->q, &r.v, &s.v) == 0 ? SigStatus::Ok
                                                                                              : SigStatus::Mismatch;
}

// ---- PrivateKey ----

struct PrivateKey::Impl {
  Pk pk;
};

Result<PrivateKey> PrivateKey::from_impl(std::shared_ptr<Impl> impl) {
  auto der = spki_der(impl->pk.ctx);
  if (!der) return der.error();
  auto pub = PublicKey::from_der(*der);
  if (!pub) return pub.error();
  PrivateKey k;
  k.impl_ = std::move(impl);
  k.public_ = pub.take();
  return k;
}

Result<PrivateKey> PrivateKey::generate() {
  auto impl = std::make_shared<Impl>();
  if (mbedtls_pk_setup(&impl->pk.ctx, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(impl->pk.ctx), rng, nullptr) != 0)
    return Decision::deny(DenyReason::IoError, "key generation failed");
  return from_impl(std::move(impl));
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  auto impl = std::make_shared<Impl>();
  std::string buf(pem);
  if (mbedtls_pk_parse_key(&impl->pk.ctx, reinterpret_cast<const unsigned char*>(buf.c_str()), buf.size() + 1, nullptr,
                           0) != 0)
    return Decision::deny(DenyReason::InvalidValue, "not a PEM private key (encrypted keys are not supported)");
  if (!is_p256(impl->pk.ctx)) return Decision::deny(DenyReason::UnsupportedAlgorithm, "private key is not ECDSA P-256");
  if (mbedtls_ecp_check_privkey(&mbedtls_pk_ec(impl->pk.ctx)->grp, &mbedtls_pk_ec(impl->pk.ctx)->d) != 0)
    return Decision::deny(DenyReason::InvalidValue, "private key is not valid for P-256");
  return from_impl(std::move(impl));
}

std::string PrivateKey::pem() const {
  unsigned char buf[2048] = {};
  mbedtls_pk_write_key_pem(&impl_->pk.ctx, buf, sizeof buf);
  std::string out(reinterpret_cast<char*>(buf));
  mbedtls_platform_zeroize(buf, sizeof buf);
  return out;
}

Result<std::string> PrivateKey::sign(std::string_view type, std::string_view body) const {
  Digest h = pae_sha256(type, body);
  P256Group* g = p256();
  if (!g) return Decision::deny(DenyReason::IoError, "cannot load the P-256 group");
  Mpi r, s;
  if (mbedtls_ecdsa_sign_det_ext(&g->grp, &r.v, &s.v, &mbedtls_pk_ec(impl_->pk.ctx)->d, h.data(), h.size(),
                                 MBEDTLS_MD_SHA256, rng, nullptr) != 0)
    return Decision::deny(DenyReason::IoError, "signing failed");
  // Low S only: (r, n - s) is the same signature, and gx accepts one spelling.
  if (mbedtls_mpi_cmp_mpi(&s.v, &g->half_n) > 0 && mbedtls_mpi_sub_mpi(&s.v, &g->grp.N, &s.v) != 0)
    return Decision::deny(DenyReason::IoError, "signing failed");
  auto out = encode_der(r.v, s.v);
  if (!out) return out.error();
  // Fault check before anyone relies on the signature: with a deterministic
  // nonce, a fault-corrupted signature can leak the private key, so a bad one
  // must never leave this function (crypto.h says why recomputing is enough).
  if (!det_signature_consistent(*g, mbedtls_pk_ec(impl_->pk.ctx)->d, h, *out))
    return Decision::deny(DenyReason::InvalidSignature, "self-check of the new signature failed");
  return out;
}

bool PrivateKey::is_deterministic_signature(std::string_view type, std::string_view body,
                                            std::string_view signature) const {
  P256Group* g = p256();
  return g && det_signature_consistent(*g, mbedtls_pk_ec(impl_->pk.ctx)->d, pae_sha256(type, body), signature);
}

namespace {
// -1 when the clock cannot be read: a nonce made or checked then is never
// usable (an age that cannot be measured is not within the limit).
int64_t boottime_ns() {
  timespec t{};
  if (clock_gettime(CLOCK_BOOTTIME, &t) != 0) return -1;
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}
}  // namespace

struct PreparedNonce::Impl {
  // b: a random blinding factor; kbinv = (k b)^-1 mod n, inverted when the
  // nonce is made (the inversion is most of a signature's cost).
  Mpi k, r, b, kbinv;
  pid_t pid = 0;
  int64_t made_ns = 0;
  bool used = false;
  ~Impl() {
    // k is as secret as the key: whoever learns it and the signature can
    // solve for d.
    mbedtls_mpi_lset(&k.v, 0);
    mbedtls_mpi_lset(&b.v, 0);
    mbedtls_mpi_lset(&kbinv.v, 0);
  }
};

PreparedNonce::PreparedNonce() = default;
PreparedNonce::~PreparedNonce() = default;
PreparedNonce::PreparedNonce(PreparedNonce&&) noexcept = default;
PreparedNonce& PreparedNonce::operator=(PreparedNonce&&) noexcept = default;
bool PreparedNonce::usable() const {
  if (!impl_ || impl_->used || impl_->pid != getpid()) return false;
  const int64_t now = boottime_ns();
  if (now < 0 || impl_->made_ns < 0) return false;
  const int64_t age = now - impl_->made_ns;
  return age >= 0 && age <= kMaxAgeNs;
}

// k from an HMAC_DRBG seeded with d, 32 fresh bytes of getrandom and
// `extra` (the message digest, or for a prepared nonce a digest of who and
// when: see prepare_nonce); R = k*G, one multiplication (crypto.h says why
// one is enough for a nonce that signs once).
Result<PreparedNonce> PrivateKey::make_nonce(std::string_view extra) const {
  P256Group* g = p256();
  if (!g) return Decision::deny(DenyReason::IoError, "cannot load the P-256 group");
  const mbedtls_md_info_t* md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  if (md == nullptr) return Decision::deny(DenyReason::IoError, "no SHA-256");
  if (extra.size() > kScalarBytes) return Decision::deny(DenyReason::IoError, "nonce seed too long");
  auto impl = std::make_unique<PreparedNonce::Impl>();
  mbedtls_ecp_point R;
  mbedtls_ecp_point_init(&R);
  mbedtls_hmac_drbg_context drbg;
  mbedtls_hmac_drbg_init(&drbg);
  unsigned char seed[3 * kScalarBytes];
  const size_t seed_len = 2 * kScalarBytes + extra.size();
  bool ok = false;
  do {
    if (mbedtls_mpi_write_binary(&mbedtls_pk_ec(impl_->pk.ctx)->d, seed, kScalarBytes) != 0) break;
    if (rng(nullptr, seed + kScalarBytes, kScalarBytes) != 0) break;
    if (!extra.empty()) std::memcpy(seed + 2 * kScalarBytes, extra.data(), extra.size());
    if (mbedtls_hmac_drbg_seed_buf(&drbg, md, seed, seed_len) != 0) break;
    if (mbedtls_ecp_gen_privkey(&g->grp, &impl->k.v, mbedtls_hmac_drbg_random, &drbg) != 0) break;
    if (mbedtls_ecp_mul(&g->grp, &R, &impl->k.v, &g->grp.G, rng, nullptr) != 0) break;
    if (mbedtls_mpi_mod_mpi(&impl->r.v, &R.X, &g->grp.N) != 0 || mbedtls_mpi_cmp_int(&impl->r.v, 0) == 0) break;
    // (k b)^-1 for a fresh random b, here rather than at signing. mbedTLS's
    // inversion and reduction are not constant-time: they see k only
    // blinded, and sign_with reduces e + r d only multiplied by b.
    if (mbedtls_ecp_gen_privkey(&g->grp, &impl->b.v, rng, nullptr) != 0) break;
    if (mbedtls_mpi_mul_mpi(&impl->kbinv.v, &impl->k.v, &impl->b.v) != 0 ||
        mbedtls_mpi_mod_mpi(&impl->kbinv.v, &impl->kbinv.v, &g->grp.N) != 0 ||
        mbedtls_mpi_inv_mod(&impl->kbinv.v, &impl->kbinv.v, &g->grp.N) != 0)
      break;
    ok = true;
  } while (false);
  mbedtls_platform_zeroize(seed, sizeof seed);
  mbedtls_hmac_drbg_free(&drbg);
  mbedtls_ecp_point_free(&R);
  if (!ok) return Decision::deny(DenyReason::IoError, "cannot prepare a signing nonce");
  impl->pid = getpid();
  impl->made_ns = boottime_ns();
  PreparedNonce n;
  n.impl_ = std::move(impl);
  return n;
}

Result<PreparedNonce> PrivateKey::prepare_nonce() const {
  // No message yet: this process, the time and a per-process count stand in
  // for it, so that two processes whose getrandom repeated (a VM restored
  // twice from one snapshot) still draw different k.
  static std::atomic<uint64_t> made{0};
  struct {
    pid_t pid;
    uint64_t count;
    timespec real, mono;
  } who;
  std::memset(&who, 0, sizeof who);  // padding too: all of it is hashed
  who.pid = getpid();
  who.count = made.fetch_add(1);
  clock_gettime(CLOCK_REALTIME, &who.real);
  clock_gettime(CLOCK_MONOTONIC, &who.mono);
  const Digest d = sha256(std::string_view(reinterpret_cast<const char*>(&who), sizeof who));
  return make_nonce(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

Result<std::string> PrivateKey::sign_hedged(std::string_view type, std::string_view body) const {
  const Digest h = pae_sha256(type, body);
  auto nonce = make_nonce(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
  if (!nonce) return nonce.error();
  return sign_with(*nonce, type, body);
}

Result<std::string> PrivateKey::sign_prepared(PreparedNonce& nonce, std::string_view type,
                                              std::string_view body) const {
  if (!nonce.usable())
    return Decision::deny(DenyReason::IoError, "signing nonce is used, expired or not this process's");
  return sign_with(nonce, type, body);
}

Result<std::string> PrivateKey::sign_with(PreparedNonce& nonce, std::string_view type, std::string_view body) const {
  if (!nonce.impl_ || nonce.impl_->used || nonce.impl_->pid != getpid())
    return Decision::deny(DenyReason::IoError, "signing nonce is used or not this process's");
  // Used from here on, whatever happens below: a nonce never signs twice.
  nonce.impl_->used = true;
  const mbedtls_mpi& k = nonce.impl_->k.v;
  const mbedtls_mpi& r = nonce.impl_->r.v;
  const mbedtls_mpi& d = mbedtls_pk_ec(impl_->pk.ctx)->d;
  P256Group* g = p256();
  if (!g) return Decision::deny(DenyReason::IoError, "cannot load the P-256 group");
  const mbedtls_mpi& blind = nonce.impl_->b.v;
  const mbedtls_mpi& kbinv = nonce.impl_->kbinv.v;
  const Digest h = pae_sha256(type, body);
  Mpi e, s, t, lhs, rhs;
  bool ok = false;
  do {
    // e = h mod n (a 256-bit digest on a 256-bit group: at most one subtraction).
    if (mbedtls_mpi_read_binary(&e.v, h.data(), h.size()) != 0) break;
    if (mbedtls_mpi_cmp_mpi(&e.v, &g->grp.N) >= 0 && mbedtls_mpi_sub_mpi(&e.v, &e.v, &g->grp.N) != 0) break;
    // s = k^-1 (e + r d) = b (e + r d) / (k b) mod n, as mbedTLS computes
    // it, with the nonce's b and (k b)^-1 (make_nonce): no inversion here.
    if (mbedtls_mpi_mul_mpi(&t.v, &r, &d) != 0 || mbedtls_mpi_add_mpi(&t.v, &t.v, &e.v) != 0 ||
        mbedtls_mpi_mul_mpi(&t.v, &t.v, &blind) != 0 || mbedtls_mpi_mod_mpi(&t.v, &t.v, &g->grp.N) != 0)
      break;
    if (mbedtls_mpi_mul_mpi(&s.v, &kbinv, &t.v) != 0 || mbedtls_mpi_mod_mpi(&s.v, &s.v, &g->grp.N) != 0) break;
    if (mbedtls_mpi_cmp_int(&s.v, 0) == 0) break;
    // Low S only: (r, n - s) is the same signature, and gx accepts one spelling.
    if (mbedtls_mpi_cmp_mpi(&s.v, &g->half_n) > 0 && mbedtls_mpi_sub_mpi(&s.v, &g->grp.N, &s.v) != 0) break;
    // The check, without k^-1: s*k == +-(e + r*d) mod n, recomputed.
    if (mbedtls_mpi_mul_mpi(&lhs.v, &s.v, &k) != 0 || mbedtls_mpi_mod_mpi(&lhs.v, &lhs.v, &g->grp.N) != 0) break;
    if (mbedtls_mpi_mul_mpi(&rhs.v, &d, &r) != 0 || mbedtls_mpi_add_mpi(&rhs.v, &e.v, &rhs.v) != 0 ||
        mbedtls_mpi_mod_mpi(&rhs.v, &rhs.v, &g->grp.N) != 0)
      break;
    if (mbedtls_mpi_cmp_mpi(&lhs.v, &rhs.v) != 0) {
      if (mbedtls_mpi_sub_mpi(&rhs.v, &g->grp.N, &rhs.v) != 0 || mbedtls_mpi_cmp_mpi(&lhs.v, &rhs.v) != 0) break;
    }
    ok = true;
  } while (false);
  std::optional<Result<std::string>> out;
  if (ok) out.emplace(encode_der(r, s.v));
  mbedtls_mpi_lset(&t.v, 0);
  nonce.impl_.reset();  // r, k, b and (k b)^-1 go with it
  if (!out) return Decision::deny(DenyReason::InvalidSignature, "signing with a prepared nonce failed its check");
  return std::move(*out);
}

Result<PrivateKey> load_private_key(const std::string& path) {
  auto pem = fs::read_file(path, 16 * 1024);
  if (!pem) return pem.error();
  auto key = PrivateKey::from_pem(*pem);
  mbedtls_platform_zeroize(pem->data(), pem->size());
  if (!key) {
    Decision d = key.error();
    d.detail = path + ": " + d.detail;
    return d;
  }
  return key;
}

Result<PublicKey> load_public_key(const std::string& path) {
  auto pem = fs::read_file(path, 16 * 1024);
  if (!pem) return pem.error();
  auto key = PublicKey::from_pem(*pem);
  if (!key) {
    Decision d = key.error();
    d.detail = path + ": " + d.detail;
    return d;
  }
  return key;
}

}  // namespace gx::crypto
