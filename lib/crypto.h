// Crypto: SHA-256, ECDSA P-256 keys and signatures with domain separation.
//
// The algorithm is pinned: ECDSA over NIST P-256 with SHA-256
// ("ecdsa-p256-sha256"). Nothing in an input chooses it. Keys of any other
// type or curve are rejected on load.
//
// Every signature gx makes is over PAE(type, body) (DSSE's pre-authentication
// encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body), with a type
// string per kind of object (kArtifactType, ...), so a signature over one
// kind of gx object can never verify as another.
//
// Signature encoding is strict, so one signature has exactly one accepted
// spelling: DER `SEQUENCE { INTEGER r, INTEGER s }` with short-form lengths,
// minimal positive integers and no trailing bytes (no BER), 1 <= r <= n-1
// and 1 <= s <= n/2 ("low S", as Bitcoin's BIP 62 and libsecp256k1 do). The
// high-S twin (r, n-s) of a valid signature, which plain ECDSA accepts, is
// refused (SigStatus::HighS); gx signs only low S. `openssl dgst -sha256
// -verify` accepts gx signatures; signatures made by `openssl dgst -sign` are
// high S half of the time and must be normalised (s = n - s) before gx
// accepts them. Even so, never identify anything by signature bytes — use
// the digest of the signed body.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "lib/decision.h"

namespace gx::crypto {

inline constexpr std::string_view kAlgorithm = "ecdsa-p256-sha256";
inline constexpr std::string_view kArtifactType = "application/vnd.gx.artifact.v1+toml";
inline constexpr std::string_view kReceiptType = "application/vnd.gx.receipt.v1+json";
inline constexpr std::string_view kCheckpointType = "application/vnd.gx.checkpoint.v1";
inline constexpr std::string_view kRevocationsType = "application/vnd.gx.revocations.v1+toml";

using Digest = std::array<uint8_t, 32>;

Digest sha256(std::string_view data);
std::string sha256_hex(std::string_view data);
// SHA-256 of everything readable from fd, from its current offset to EOF.
Result<std::string> sha256_fd_hex(int fd);
std::string hex(const uint8_t* data, size_t len);
inline std::string hex(const Digest& d) { return hex(d.data(), d.size()); }
bool is_hex_sha256(std::string_view s);  // 64 lowercase hex digits
// A digest or key id as gx writes it: "sha256:" + 64 lowercase hex digits.
bool is_sha256_ref(std::string_view s);
// The digest a "sha256:<64 lowercase hex>" names, or nullopt when `s` is not
// one (is_sha256_ref). One table lookup per digit: lists of a million refs.
std::optional<Digest> parse_sha256_ref(std::string_view s);
std::string sha256_ref(const Digest& d);  // "sha256:" + hex(d)
// "sha256:<hex>" or bare hex -> "sha256:<hex>"; empty when neither.
std::string normalize_sha256_ref(std::string_view s);

// Incremental SHA-256, for data that arrives in pieces (a file read in
// blocks, PAE's prefix and then a body that is not copied). Copies continue
// independently from the same state.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256& other);
  Sha256& operator=(const Sha256& other);
  void update(std::string_view data);
  // The digest of everything updated so far; the object may not be updated after.
  Digest finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string base64_encode(std::string_view data);
// Only the canonical spelling (what base64_encode writes) decodes.
Result<std::string> base64_decode(std::string_view text);
// base64_decode(text).ok(), without decoding: for a reader that needs only
// the verdict (gx log verify's chain mode, on every receipt's signature).
bool is_canonical_base64(std::string_view text);

// DSSE pre-authentication encoding.
std::string pae(std::string_view type, std::string_view body);
// SHA-256(pae(type, body)) without building the PAE string (no copy of body).
Digest pae_sha256(std::string_view type, std::string_view body);

// Cryptographically secure random bytes (getrandom(2)); hex-encoded helper.
Result<std::string> random_bytes(size_t n);
Result<std::string> random_hex(size_t n_bytes);

// Why a signature was accepted or refused (check order: encoding, range,
// low S, then the curve equation).
enum class SigStatus {
  Ok,
  BadEncoding,  // not strict DER (BER length, non-minimal/negative integer, trailing bytes, ...)
  OutOfRange,   // r or s is 0 or >= n
  HighS,        // s > n/2: the malleable twin of a low-S signature
  Mismatch,     // well-formed, but not a signature by this key over these bytes
  NoKey,        // this PublicKey holds no key (default-constructed)
};
std::string_view sig_status_text(SigStatus s);

class PublicKey {
 public:
  // Accepts a SubjectPublicKeyInfo PEM of a P-256 key only.
  static Result<PublicKey> from_pem(std::string_view pem);
  static Result<PublicKey> from_der(std::string_view der);
  const std::string& der() const { return der_; }
  std::string pem() const;
  // "sha256:<hex of SHA-256 over the DER SubjectPublicKeyInfo>"
  std::string key_id() const;
  // Verifies a strict-DER, low-S signature over PAE(type, body).
  bool verify(std::string_view type, std::string_view body, std::string_view signature) const {
    return check(type, body, signature) == SigStatus::Ok;
  }
  SigStatus check(std::string_view type, std::string_view body, std::string_view signature) const;
  // The same rules over a SHA-256 digest the caller computed: no PAE, so no
  // domain separation. For known-answer tests (Wycheproof) and for
  // PrivateKey's fault check only; gx objects are verified with verify().
  SigStatus check_digest(const Digest& digest, std::string_view signature) const;
  bool operator==(const PublicKey& o) const { return der_ == o.der_; }

 private:
  struct Point;
  std::string der_;
  // The decoded point, parsed and validated once when the key is loaded;
  // read-only afterwards, so copies and threads share it.
  std::shared_ptr<const Point> q_;
};

// The expensive half of one ECDSA signature, made before its message is
// known (PrivateKey::prepare_nonce): a fresh nonce k and r = x(k*G) mod n.
// A broker's spare makes a request's two while it waits for the
// connection, so that signing a receipt on the caller's time costs a few
// modular multiplications instead of two scalar multiplications (issue
// #14, docs/performance.md: ~1 ms per brokered run). A standalone gx run
// makes both on a thread started on another CPU while it authorizes
// (lib/side_task.h; an unpinned thread gained nothing on a 2-core VM: it
// waited on its creator's CPU); with one CPU, the finished receipt's nonce
// while the child runs.
//
// Single use, enforced: PrivateKey::sign_prepared consumes it and k is
// zeroized. It is bound to the process that made it: used in any other
// process (a fork of the maker, which would otherwise sign a second message
// with the same k and give away the private key) it is refused. Move-only.
//
// Short-lived, enforced: older than kMaxAgeNs (CLOCK_BOOTTIME) it is refused,
// and callers fall back to sign_hedged. Why: k is fixed before the message
// is known, so a machine snapshot taken while a nonce is held and restored
// twice would sign two different messages with one k -- the private key
// follows. sign_hedged mixes the message into k and has no such window.
// The age limit bounds the window (a snapshot must fall within kMaxAgeNs of
// the nonce's making, and both restored copies must sign within what is
// left of it); it does not close it. docs/security.md, "Receipt signing".
class PreparedNonce {
 public:
  static constexpr int64_t kMaxAgeNs = 1'000'000'000;  // 1 s
  PreparedNonce();
  ~PreparedNonce();
  PreparedNonce(PreparedNonce&&) noexcept;
  PreparedNonce& operator=(PreparedNonce&&) noexcept;
  PreparedNonce(const PreparedNonce&) = delete;
  PreparedNonce& operator=(const PreparedNonce&) = delete;
  bool usable() const;  // made in this process, not yet used, at most kMaxAgeNs old

 private:
  friend class PrivateKey;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class PrivateKey {
 public:
  static Result<PrivateKey> generate();
  static Result<PrivateKey> from_pem(std::string_view pem);
  std::string pem() const;  // SEC 1 "EC PRIVATE KEY" PEM (what openssl ecparam -genkey writes)
  const PublicKey& public_key() const { return public_; }
  // Strict-DER, low-S ECDSA signature over PAE(type, body): deterministic
  // nonce (RFC 6979) with a blinded scalar multiplication.
  //
  // Fault check (a faulty signature from a deterministic signer can leak the
  // private key: two signatures of one message, one with a fault in R or s,
  // share k and solve for d). Before returning, sign() recomputes the
  // signature's ingredients apart from mbedTLS's signing call: k from a fresh
  // RFC 6979 HMAC_DRBG, R = k*G by a second, differently blinded fixed-base
  // multiplication, and requires r == x(R) mod n and s*k == +-(e + r*d)
  // mod n on the encoded output. A transient fault in k, R, r, s, d, e or the
  // encoding makes one side differ, and the signature is refused. Chosen over
  // a full verification against the public key (what gx did before, and
  // minisign does) because it costs one multiplication with the cached table
  // of G (~4 M instructions) instead of two, one of them building a table for
  // Q (~13 M), and it catches the same faults. Not caught, as before: a
  // persistent corruption of G's cached table (a verification uses that table
  // too; lib/p256_table.h installs it from constants, which tests compare
  // with mbedTLS's own), and a private key corrupted in memory before signing; the latter
  // gives a signature that does not verify (gx log verify reports it), not
  // a leak, because k is derived from the same corrupted d.
  Result<std::string> sign(std::string_view type, std::string_view body) const;
  // That fault check on its own: is `signature` exactly what sign() makes
  // for PAE(type, body) with this key (or its high-S twin)? For tests.
  bool is_deterministic_signature(std::string_view type, std::string_view body, std::string_view signature) const;

  // A nonce for sign_prepared (see PreparedNonce): k from an HMAC_DRBG
  // seeded with the private key, 32 fresh bytes of getrandom and a digest
  // of this process's pid, the time and a count (hedged: unpredictable even
  // if the randomness is weak, and different in two processes whose
  // getrandom repeated), R = k*G by one blinded multiplication, a fresh
  // random blinding factor b and (k b)^-1 (mbedTLS's inversion is not
  // constant-time: it sees k only blinded, as in mbedTLS's own signing).
  // Thread-safe. Signatures made from it are ordinary randomized
  // ECDSA (not RFC 6979): with a nonce used once, a fault in R or s gives no second equation in the same k, so no key
  // leak and no need to compute R twice (as for sign_hedged); sign_prepared still checks s. A fault in R gives a
  // receipt whose signature does not verify: found by gx log verify --all-signatures, not when signing.
  Result<PreparedNonce> prepare_nonce() const;
  // The signature sign() would make, with `nonce` instead of a
  // deterministic one: strict DER, low S. Consumes the nonce; refuses one
  // that is used, empty or from another process. s = (k b)^-1 b (e + r d),
  // e + r d reduced only multiplied by b, with the nonce's b and (k b)^-1
  // (no inversion here: ~10 us instead of ~40). Before returning, checks s*k == +-(e + r*d) mod n by a computation
  // apart from the one that made s.
  Result<std::string> sign_prepared(PreparedNonce& nonce, std::string_view type, std::string_view body) const;
  // Hedged ECDSA (what receipts use when no prepared nonce is left): k from
  // an HMAC_DRBG seeded with the private key, the message digest and 32
  // fresh random bytes, so k is new for every signature while the RNG works
  // and still differs per message if it failed. One scalar multiplication:
  // with a nonce that never signs twice a fault in R or s gives no second
  // equation in the same k (the attack sign()'s fault check exists for), so
  // R is not recomputed; s is checked as in sign_prepared. About half of
  // sign()'s cost (issue #14).
  Result<std::string> sign_hedged(std::string_view type, std::string_view body) const;

 private:
  struct Impl;
  // Derives and checks the public half of a loaded or generated key.
  static Result<PrivateKey> from_impl(std::shared_ptr<Impl> impl);
  Result<PreparedNonce> make_nonce(std::string_view extra) const;
  // sign_prepared without the age limit (sign_hedged's nonce is made for
  // its message: no window to bound); still single use and this process's.
  Result<std::string> sign_with(PreparedNonce& nonce, std::string_view type, std::string_view body) const;
  std::shared_ptr<Impl> impl_;
  PublicKey public_;
};

// Reading key files (at most 16 KiB of PEM). A private key is checked to lie
// on P-256 and its public half is derived; creating key files is gx
// keygen's business (cmd/keygen.cc).
Result<PrivateKey> load_private_key(const std::string& path);
Result<PublicKey> load_public_key(const std::string& path);

}  // namespace gx::crypto
