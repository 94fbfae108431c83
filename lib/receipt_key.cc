#include "lib/receipt_key.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "lib/fsutil.h"

namespace gx {
namespace {

Decision unavailable(const Decision& cause, const std::string& what) {
  return Decision::deny(DenyReason::LogUnavailable, what + ": " + cause.explain());
}

// A private key must be a regular file (no symlink), owned by us, private.
Decision check_private_key_file(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0)
    return Decision::deny(DenyReason::LogUnavailable, "cannot stat receipt key " + path + ": " + fs::errno_text(errno),
                          "receipt-key", path);
  if (!S_ISREG(st.st_mode))
    return Decision::deny(DenyReason::LogUnavailable, "receipt key " + path + " is not a regular file", "receipt-key",
                          path);
  if ((st.st_mode & 077) != 0)
    return Decision::deny(DenyReason::LogUnavailable,
                          "receipt key " + path + " is accessible by group or others (chmod 600 it)", "receipt-key",
                          path);
  if (st.st_uid != geteuid())
    return Decision::deny(DenyReason::LogUnavailable, "receipt key " + path + " is owned by another user",
                          "receipt-key", path);
  return Decision::allow();
}

Result<crypto::PrivateKey> load_checked(const std::string& path) {
  if (Decision d = check_private_key_file(path); !d) return d;
  auto key = crypto::load_private_key(path);
  if (!key) return unavailable(key.error(), "cannot load receipt key");
  return key;
}

// A state-directory file must be a regular file, not a link: a FIFO would
// block the read that follows (issue #9 item 14).
Decision check_regular_no_link(const std::string& path, DenyReason reason) {
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    return Decision::deny(reason, path + " is " + fs::file_kind(st.st_mode) + ", not a regular file", "file", path);
  return Decision::allow();
}

// receipt.pub must describe receipt.key; write it when missing.
Decision ensure_public_file(const std::string& pub_path, const crypto::PrivateKey& key) {
  const std::string pem = key.public_key().pem();
  if (Decision d = check_regular_no_link(pub_path, DenyReason::LogUnavailable); !d) return d;
  if (!fs::exists(pub_path)) {
    Decision w = fs::write_file_atomic(pub_path, pem, 0644, fs::Overwrite::No);
    // Losing a race to another first user is fine: it wrote the same key.
    if (w || fs::exists(pub_path)) return Decision::allow();
    return unavailable(w, "cannot write receipt public key");
  }
  auto existing = crypto::load_public_key(pub_path);
  if (!existing) return unavailable(existing.error(), "cannot read receipt public key");
  if (!(*existing == key.public_key()))
    return Decision::deny(DenyReason::LogUnavailable,
                          pub_path + " does not match the receipt key (was one of them replaced?)", "receipt-pub",
                          pub_path);
  return Decision::allow();
}

}  // namespace

Result<crypto::PrivateKey> load_or_create_receipt_key(const std::string& state_dir, const std::string& key_path) {
  if (!key_path.empty()) return load_checked(key_path);
  const std::string path = state_dir + "/" + std::string(kReceiptKeyFile);
  const std::string pub = state_dir + "/" + std::string(kReceiptPubFile);
  if (!fs::exists(path)) {
    auto fresh = crypto::PrivateKey::generate();
    if (!fresh) return unavailable(fresh.error(), "cannot generate receipt key");
    // Overwrite::No links the new file into place: with concurrent first
    // users exactly one key is created and the others load it below.
    Decision w = fs::write_file_atomic(path, fresh->pem(), 0600, fs::Overwrite::No);
    if (!w && !fs::exists(path)) return unavailable(w, "cannot create receipt key");
  }
  auto key = load_checked(path);
  if (!key) return key;
  if (Decision d = ensure_public_file(pub, *key); !d) return d;
  return key;
}

Result<crypto::PublicKey> load_receipt_public_key(const std::string& state_dir, const std::string& pub_path) {
  const std::string path = pub_path.empty() ? state_dir + "/" + std::string(kReceiptPubFile) : pub_path;
  if (pub_path.empty())
    if (Decision d = check_regular_no_link(path, DenyReason::IoError); !d) return d;
  auto key = crypto::load_public_key(path);
  if (!key)
    return Decision::deny(DenyReason::IoError, "cannot load receipt public key: " + key.error().explain(),
                          "receipt-pubkey", path);
  return key;
}

}  // namespace gx
