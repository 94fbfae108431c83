// Small fixtures shared by the unit tests.
#pragma once

#include <sched.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "lib/artifact.h"
#include "lib/crypto.h"
#include "lib/trust_store.h"

namespace gx::test {

// An artifact with only its header filled in: id, issuer, the window
// [from, until] (issued at `from`) and a nonce of 32 `nonce` characters.
inline Artifact artifact_header(std::string id, std::string issuer, UnixTime from, UnixTime until, char nonce) {
  Artifact a;
  a.id = std::move(id);
  a.issuer = std::move(issuer);
  a.issued_at = from;
  a.not_before = from;
  a.not_after = until;
  a.nonce = std::string(32, nonce);
  return a;
}

// The trust store's entry for `key`, under `name`.
inline TrustedKey trusted(const crypto::PublicKey& key, std::string name) {
  TrustedKey tk;
  tk.name = std::move(name);
  tk.key = key;
  tk.key_id = key.key_id();
  return tk;
}

// Three fresh keys, k0, k1, k2, all trusted (threshold: the store's default).
struct ThreeTrustedKeys {
  std::vector<crypto::PrivateKey> keys;
  TrustStore trust;
  ThreeTrustedKeys() {
    // Names not built as "k" + to_string(i): GCC 12 at -O3 flags that with a
    // false -Wrestrict (bug 105329).
    static const char* const kNames[] = {"k0", "k1", "k2"};
    for (const char* name : kNames) {
      auto k = crypto::PrivateKey::generate();
      REQUIRE(k);
      keys.push_back(k.take());
      trust.keys.push_back(trusted(keys.back().public_key(), name));
    }
  }
};

// A fresh directory under /tmp, removed with everything in it at scope exit.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag = "unit") {
    std::string t = "/tmp/gx-" + tag + "-test.XXXXXX";
    REQUIRE(mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// Restricts the calling thread to the CPU it is on, for the scope (what a
// process confined to one CPU sees: lib/side_task.h has no other CPU).
class OneCpu {
 public:
  OneCpu() {
    CPU_ZERO(&saved_);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    ok_ = sched_getaffinity(0, sizeof saved_, &saved_) == 0 && sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~OneCpu() {
    if (ok_) sched_setaffinity(0, sizeof saved_, &saved_);
  }
  OneCpu(const OneCpu&) = delete;
  OneCpu& operator=(const OneCpu&) = delete;
  bool ok() const { return ok_; }

 private:
  cpu_set_t saved_;
  bool ok_ = false;
};

// How many CPUs the calling thread may run on.
inline int allowed_cpus() {
  cpu_set_t s;
  CPU_ZERO(&s);
  return sched_getaffinity(0, sizeof s, &s) == 0 ? CPU_COUNT(&s) : 0;
}

}  // namespace gx::test
