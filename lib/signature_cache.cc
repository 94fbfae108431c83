#include "lib/signature_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace gx {
namespace {

// The secret must be ours alone: a regular 0600 (or stricter) file of the
// caller holding exactly 32 bytes.
std::optional<std::string> read_secret(const fs::OpenDir& dir) {
  auto fd = fs::open_in_dir(dir, kSignatureCacheKeyFile, O_RDONLY);
  if (!fd) return std::nullopt;
  struct stat st {};
  if (fstat(fd->get(), &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0 ||
      st.st_size != static_cast<off_t>(SignatureCache::kTagBytes))
    return std::nullopt;
  std::string s(SignatureCache::kTagBytes, '\0');
  if (pread(fd->get(), s.data(), s.size(), 0) != static_cast<ssize_t>(s.size())) return std::nullopt;
  return s;
}

std::optional<std::string> create_secret(const fs::OpenDir& dir) {
  auto bytes = crypto::random_bytes(SignatureCache::kTagBytes);
  if (!bytes) return std::nullopt;
  // Written under a private name, then linked into place: a reader never
  // sees a half-written secret, and of two racing creators one wins.
  const std::string tmp = std::string(kSignatureCacheKeyFile) + ".tmp." + std::to_string(getpid());
  int fd = openat(dir.fd.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return std::nullopt;
  bool ok = write(fd, bytes->data(), bytes->size()) == static_cast<ssize_t>(bytes->size());
  close(fd);
  if (ok) linkat(dir.fd.get(), tmp.c_str(), dir.fd.get(), std::string(kSignatureCacheKeyFile).c_str(), 0);
  unlinkat(dir.fd.get(), tmp.c_str(), 0);
  mbedtls_platform_zeroize(bytes->data(), bytes->size());
  return read_secret(dir);  // whichever creator won
}

void append_len(std::string& out, std::string_view part) {
  uint64_t n = part.size();
  for (int i = 7; i >= 0; --i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  out += part;
}

}  // namespace

SignatureCache SignatureCache::open(const std::string& state_dir, bool may_create) {
  SignatureCache c;
  auto dir = fs::open_private_dir(state_dir, may_create);
  if (!dir) return c;
  auto secret = read_secret(*dir);
  if (!secret && may_create) {
    struct stat st {};
    if (fstatat(dir->fd.get(), std::string(kSignatureCacheKeyFile).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 &&
        errno == ENOENT)
      secret = create_secret(*dir);
  }
  if (!secret) return c;
  c.secret_ = std::move(*secret);
  c.dir_.emplace(dir.take());
  return c;
}

std::string SignatureCache::signature_fact(const crypto::PublicKey& key, std::string_view type, std::string_view body,
                                           std::string_view signature) const {
  std::string msg = "gx signature cache v1";
  append_len(msg, key.der());
  append_len(msg, type);
  const crypto::Digest h = crypto::sha256(body);
  append_len(msg, std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
  append_len(msg, signature);
  return msg;
}

std::string SignatureCache::tag(std::string_view fact) const {
  std::string out(kTagBytes, '\0');
  if (mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                      reinterpret_cast<const unsigned char*>(secret_.data()), secret_.size(),
                      reinterpret_cast<const unsigned char*>(fact.data()), fact.size(),
                      reinterpret_cast<unsigned char*>(out.data())) != 0)
    return {};
  return out;
}

bool SignatureCache::known(const crypto::PublicKey& key, std::string_view type, std::string_view body,
                           std::string_view signature) const {
  return dir_ && known_fact(kSignatureCacheFile, signature_fact(key, type, body, signature));
}

void SignatureCache::remember(const crypto::PublicKey& key, std::string_view type, std::string_view body,
                              std::string_view signature) const {
  if (dir_) remember_fact(kSignatureCacheFile, signature_fact(key, type, body, signature));
}

namespace {
std::string memo_key(std::string_view file, const std::string& tag) {
  std::string key(file);
  key += '\0';
  key += tag;
  return key;
}
}  // namespace

bool SignatureCache::memo_has(std::string_view file, const std::string& t) const {
  if (!memo_) return false;  // moved from
  std::string key = memo_key(file, t);
  std::lock_guard<std::mutex> held(memo_->lock);
  return memo_->seen.count(key) != 0;
}

void SignatureCache::memo_add(std::string_view file, const std::string& t) const {
  if (!memo_) return;  // moved from
  std::string key = memo_key(file, t);
  std::lock_guard<std::mutex> held(memo_->lock);
  if (memo_->seen.size() >= kMemoEntries) memo_->seen.clear();
  memo_->seen.insert(std::move(key));
}

bool SignatureCache::known_fact(std::string_view file, std::string_view fact) const {
  if (!dir_) return false;
  const std::string t = tag(fact);
  if (t.size() != kTagBytes) return false;
  if (memo_has(file, t)) return true;
  auto content = fs::read_in_dir(*dir_, file, kMaxEntries * kTagBytes);
  if (!content || !*content) return false;
  const std::string& s = **content;
  if (s.size() % kTagBytes != 0) return false;  // torn or foreign: trust none of it
  for (size_t off = 0; off < s.size(); off += kTagBytes)
    if (std::memcmp(s.data() + off, t.data(), kTagBytes) == 0) {
      memo_add(file, t);
      return true;
    }
  return false;
}

void SignatureCache::remember_fact(std::string_view file, std::string_view fact) const {
  if (!dir_) return;
  const std::string t = tag(fact);
  if (t.size() != kTagBytes) return;
  memo_add(file, t);  // just verified by the caller: known to this process whatever the write does
  auto fd = fs::open_in_dir(*dir_, file, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (!fd) return;
  struct stat st {};
  if (fstat(fd->get(), &st) != 0 || st.st_uid != geteuid()) return;
  // Full, or not a whole number of tags: start over (a miss costs one verify).
  if (st.st_size >= static_cast<off_t>(kMaxEntries * kTagBytes) || st.st_size % kTagBytes != 0)
    if (ftruncate(fd->get(), 0) != 0) return;
  // One write(2) with O_APPEND: concurrent runs never interleave a tag.
  (void)!write(fd->get(), t.data(), t.size());
}

namespace {

std::string blob_fact(std::string_view domain, std::string_view name, std::string_view content) {
  std::string msg(domain);
  append_len(msg, name);
  const crypto::Digest h = crypto::sha256(content);
  append_len(msg, std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
  return msg;
}

// Names that start with `prefix` in `dir` (one readdir pass).
std::vector<std::string> names_with_prefix(const fs::OpenDir& dir, std::string_view prefix) {
  std::vector<std::string> out;
  int fd = openat(dir.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return out;
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return out;
  }
  while (dirent* e = readdir(d))
    if (std::string_view(e->d_name).substr(0, prefix.size()) == prefix) out.emplace_back(e->d_name);
  closedir(d);
  return out;
}

}  // namespace

std::optional<std::string> SignatureCache::read_blob(std::string_view tags_file, std::string_view domain,
                                                     std::string_view name, size_t max_bytes) const {
  if (!dir_) return std::nullopt;
  auto content = fs::read_in_dir(*dir_, name, max_bytes);
  if (!content || !*content) return std::nullopt;
  if (!known_fact(tags_file, blob_fact(domain, name, **content))) return std::nullopt;
  return std::move(**content);
}

void SignatureCache::write_blob(std::string_view tags_file, std::string_view domain, std::string_view prefix,
                                std::string_view name, std::string_view content) const {
  if (!dir_ || name.substr(0, prefix.size()) != prefix) return;
  auto existing = names_with_prefix(*dir_, prefix);
  if (existing.size() >= kMaxBlobs)
    for (const auto& n : existing) (void)unlinkat(dir_->fd.get(), n.c_str(), 0);
  const std::string tmp = std::string(name) + ".tmp." + std::to_string(getpid());
  {
    auto fd = fs::open_in_dir(*dir_, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (!fd) return;
    size_t done = 0;
    while (done < content.size()) {
      ssize_t n = write(fd->get(), content.data() + done, content.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        (void)unlinkat(dir_->fd.get(), tmp.c_str(), 0);
        return;
      }
      done += static_cast<size_t>(n);
    }
  }
  if (renameat(dir_->fd.get(), tmp.c_str(), dir_->fd.get(), std::string(name).c_str()) != 0) {
    (void)unlinkat(dir_->fd.get(), tmp.c_str(), 0);
    return;
  }
  remember_fact(tags_file, blob_fact(domain, name, content));
}

}  // namespace gx
