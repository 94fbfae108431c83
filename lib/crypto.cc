#include "lib/crypto.h"

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "lib/fsutil.h"

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

Result<std::string> spki_der(mbedtls_pk_context& pk) {
  unsigned char buf[512];
  int n = mbedtls_pk_write_pubkey_der(&pk, buf, sizeof buf);
  if (n <= 0) return Decision::deny(DenyReason::InvalidValue, "cannot encode public key");
  // mbedtls writes DER at the end of the buffer.
  return std::string(reinterpret_cast<char*>(buf + sizeof buf - n), static_cast<size_t>(n));
}

}  // namespace

Digest sha256(std::string_view data) {
  Digest out{};
  mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), 0);
  return out;
}

std::string sha256_hex(std::string_view data) { return hex(sha256(data)); }

Result<std::string> sha256_fd_hex(int fd) {
  mbedtls_sha256_context ctx;
  mbedtls_sha256_init(&ctx);
  mbedtls_sha256_starts_ret(&ctx, 0);
  std::vector<unsigned char> buf(1 << 16);
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      mbedtls_sha256_free(&ctx);
      return Decision::deny(DenyReason::IoError, "cannot read file to digest: " + fs::errno_text(err));
    }
    if (n == 0) break;
    mbedtls_sha256_update_ret(&ctx, buf.data(), static_cast<size_t>(n));
  }
  Digest out{};
  mbedtls_sha256_finish_ret(&ctx, out.data());
  mbedtls_sha256_free(&ctx);
  return hex(out);
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

bool is_hex_sha256(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
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

std::string pae(std::string_view type, std::string_view body) {
  std::string out = "DSSEv1 ";
  out += std::to_string(type.size());
  out += ' ';
  out += type;
  out += ' ';
  out += std::to_string(body.size());
  out += ' ';
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

// ---- PublicKey ----

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  Pk pk;
  std::string buf(pem);  // mbedtls needs the terminating NUL counted for PEM
  if (mbedtls_pk_parse_public_key(&pk.ctx, reinterpret_cast<const unsigned char*>(buf.c_str()),
                                  buf.size() + 1) != 0)
    return Decision::deny(DenyReason::InvalidValue, "not a SubjectPublicKeyInfo PEM public key");
  if (!is_p256(pk.ctx))
    return Decision::deny(DenyReason::UnsupportedAlgorithm, "public key is not ECDSA P-256");
  auto der = spki_der(pk.ctx);
  if (!der) return der.error();
  PublicKey k;
  k.der_ = der.take();
  return k;
}

Result<PublicKey> PublicKey::from_der(std::string_view der) {
  Pk pk;
  if (mbedtls_pk_parse_public_key(&pk.ctx, reinterpret_cast<const unsigned char*>(der.data()),
                                  der.size()) != 0)
    return Decision::deny(DenyReason::InvalidValue, "not a DER public key");
  if (!is_p256(pk.ctx))
    return Decision::deny(DenyReason::UnsupportedAlgorithm, "public key is not ECDSA P-256");
  auto canon = spki_der(pk.ctx);
  if (!canon) return canon.error();
  if (*canon != der) return Decision::deny(DenyReason::InvalidValue, "non-canonical DER public key");
  PublicKey k;
  k.der_ = canon.take();
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

bool PublicKey::verify(std::string_view type, std::string_view body, std::string_view signature) const {
  Pk pk;
  if (der_.empty() ||
      mbedtls_pk_parse_public_key(&pk.ctx, reinterpret_cast<const unsigned char*>(der_.data()), der_.size()) != 0 ||
      !is_p256(pk.ctx))
    return false;
  Digest h = sha256(pae(type, body));
  // mbedtls_pk_verify rejects r or s outside [1, n-1] (no r = s = 0 forgery).
  return mbedtls_pk_verify(&pk.ctx, MBEDTLS_MD_SHA256, h.data(), h.size(),
                           reinterpret_cast<const unsigned char*>(signature.data()), signature.size()) == 0;
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
  if (mbedtls_pk_parse_key(&impl->pk.ctx, reinterpret_cast<const unsigned char*>(buf.c_str()),
                           buf.size() + 1, nullptr, 0) != 0)
    return Decision::deny(DenyReason::InvalidValue, "not a PEM private key (encrypted keys are not supported)");
  if (!is_p256(impl->pk.ctx))
    return Decision::deny(DenyReason::UnsupportedAlgorithm, "private key is not ECDSA P-256");
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
  Digest h = sha256(pae(type, body));
  unsigned char sig[MBEDTLS_ECDSA_MAX_LEN];
  size_t len = 0;
  if (mbedtls_pk_sign(&impl_->pk.ctx, MBEDTLS_MD_SHA256, h.data(), h.size(), sig, &len, rng, nullptr) != 0)
    return Decision::deny(DenyReason::IoError, "signing failed");
  std::string out(reinterpret_cast<char*>(sig), len);
  // Verify our own signature before anyone relies on it (minisign does the same).
  if (!public_.verify(type, body, out))
    return Decision::deny(DenyReason::InvalidSignature, "self-check of the new signature failed");
  return out;
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
