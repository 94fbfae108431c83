// SignatureCache: remembers, per state directory, which (public key, type,
// body, signature) combinations have already passed a full ECDSA
// verification, so that `gx run` of an unchanged artifact does not pay for
// the same verification on every run (issue #14: ~19 M of a run's
// instructions).
//
// What is cached is only the mathematical fact "this signature by this key
// over PAE(type, body) verifies" -- bound to the exact bytes of the key
// (DER), the body (SHA-256), the type and the signature. Everything else is
// decided afresh on every run, exactly as without the cache: whether the key
// is in the trust store now, its validity and revocation (trust store and
// revocation list), the threshold, the artifact's time window, its
// revocation and bindings. So changing the trust store or revoking a key or
// the artifact takes effect on the next run; a changed artifact byte is a
// different body digest and is verified in full.
//
// Storage, in the private state directory (fs::open_private_dir rules:
// owned by the caller, 0700, no ancestor writable by others):
//   signatures.key    32 random bytes (0600), made on first use
//   signatures.cache  a sequence of 32-byte tags, HMAC-SHA256 under that
//                     secret of (key DER, type, SHA-256(body), signature)
// A tag can only be made by someone who can read signatures.key: a governed
// child cannot (Landlock: the state directory is never writable by it, and
// signatures.key is in its no-access list, lib/authority.cc own_files), and
// bytes written into the cache by anyone without the secret match no tag.
// Files are opened with open_in_dir (no symlink, regular files only); a
// secret of the wrong size, owner or mode disables the cache.
//
// Caveat: whoever can read the state directory outside gx (the caller, root)
// can forge tags: such a party can equally reset the use store or rewrite
// the receipt log (lib/use_store.h, lib/receipt_log.h), so the cache adds no
// new power. Every failure (missing, unreadable, odd-sized file) means "not
// cached": a full verification, never an acceptance. The cache holds at most
// kMaxEntries tags; past that it starts over (a cache miss costs one verify).
//
// A process that keeps a cache open (a broker worker) also remembers, in its
// own memory, the tags it found in or wrote to the files (at most
// kMemoEntries; then it starts over): a fact seen once is not read from the
// disk again. As sound as the files: every fact is either a mathematical
// truth (a signature verifies) or bound to what it was computed from (a
// file's stamp, a blob's content digest), and nothing outside this process
// can write its memory. A file emptied or reset by the state's owner may
// still be answered from the memo; that party could as well re-add the tags.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "lib/crypto.h"
#include "lib/fsutil.h"

namespace gx {

inline constexpr std::string_view kSignatureCacheFile = "signatures.cache";
inline constexpr std::string_view kSignatureCacheKeyFile = "signatures.key";

class SignatureCache {
 public:
  static constexpr size_t kTagBytes = 32;
  static constexpr size_t kMaxEntries = 1024;
  static constexpr size_t kMemoEntries = 256;

  // A cache on `state_dir`. With `may_create`, the directory and the secret
  // are created when missing (gx run); without (--dry-run), a missing
  // secret gives a cache that knows nothing and records nothing. Never fails:
  // an unusable cache is a disabled one.
  static SignatureCache open(const std::string& state_dir, bool may_create);

  bool enabled() const { return dir_.has_value(); }
  // Was this combination recorded as verified?
  bool known(const crypto::PublicKey& key, std::string_view type, std::string_view body,
             std::string_view signature) const;
  // Records a combination the caller has just verified in full. Best effort.
  void remember(const crypto::PublicKey& key, std::string_view type, std::string_view body,
                std::string_view signature) const;

  // The same tag store for another kind of fact (lib/digest_cache.h): tags
  // HMAC(secret, fact) kept in `file` (a name in the state directory, at
  // most kMaxEntries tags, same rules as signatures.cache). The fact must
  // start with its own domain string.
  bool known_fact(std::string_view file, std::string_view fact) const;
  void remember_fact(std::string_view file, std::string_view fact) const;

  // Content kept in the state directory (lib/filter_cache.h): a file
  // `name` (made by the caller from what the content was computed from; a
  // plain file name), trusted only while the fact
  //   `domain` || name || SHA-256(content)
  // has a tag in `tags_file`. Bytes written by anyone without the secret,
  // altered, truncated, or copied in from another state directory are not
  // returned (nullopt, a miss). write_blob writes through a temporary file
  // and rename(2), then records the tag; once kMaxBlobs files start with
  // `prefix` (the caller's naming scheme), they are all removed first.
  // Best effort, like the rest.
  static constexpr size_t kMaxBlobs = 256;
  std::optional<std::string> read_blob(std::string_view tags_file, std::string_view domain, std::string_view name,
                                       size_t max_bytes) const;
  void write_blob(std::string_view tags_file, std::string_view domain, std::string_view prefix, std::string_view name,
                  std::string_view content) const;

 private:
  std::string signature_fact(const crypto::PublicKey& key, std::string_view type, std::string_view body,
                             std::string_view signature) const;
  std::string tag(std::string_view fact) const;
  // The tags this process found or wrote, by file ("file\0tag"); shared by
  // copies of this cache. Thread-safe.
  struct Memo {
    std::mutex lock;
    std::set<std::string> seen;
  };
  bool memo_has(std::string_view file, const std::string& tag) const;
  void memo_add(std::string_view file, const std::string& tag) const;
  std::optional<fs::OpenDir> dir_;
  std::string secret_;
  std::shared_ptr<Memo> memo_ = std::make_shared<Memo>();
};

}  // namespace gx
