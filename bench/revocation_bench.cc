// Revocation list cost versus size: load (read + verify + parse + index) and
// lookup of a 1,000-entry and a 1,000,000-entry signed list.
//
//   cmake --build build -j2 --target revocation_bench && build/bench/revocation_bench
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/fsutil.h"
#include "lib/revocation.h"

using Clock = std::chrono::steady_clock;

namespace {

std::string ref(const char* tag, uint64_t i) { return "sha256:" + gx::crypto::sha256_hex(tag + std::to_string(i)); }

// CPU time of this process: the machine may be shared, and wall time then
// measures the neighbours as much as gx.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

long peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

}  // namespace

int main() {
  const char* tmp = getenv("TMPDIR");
  std::string base = std::string(tmp && *tmp ? tmp : "/tmp") + "/gx-rev-bench.XXXXXX";
  if (!mkdtemp(base.data())) return 1;
  auto key = gx::crypto::PrivateKey::generate();
  if (!key) return 1;
  gx::TrustStore trust;
  trust.keys.push_back(gx::TrustedKey{"bench", key->public_key(), key->public_key().key_id(), {}, {}, false});
  const gx::UnixTime now = 1'800'000'000;

  const uint64_t sizes[2] = {1'000, 1'000'000};
  double lookup_ns[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    uint64_t n = sizes[k];
    std::vector<gx::RevocationEntry> entries;
    entries.reserve(n);
    for (uint64_t i = 0; i < n; ++i)  // one key entry per 1000 artifacts
      entries.push_back(i % 1000 == 999
                            ? gx::RevocationEntry{gx::RevocationKind::Key, ref("key", i), "bench", now}
                            : gx::RevocationEntry{gx::RevocationKind::Artifact, ref("art", i), "bench", now});
    auto list = gx::RevocationList{}.successor(entries, now);
    if (!list || !list->add_signature(*key)) return 1;
    std::string path = base + "/revocations-" + std::to_string(n) + ".toml";
    std::string text = list->file_text();
    if (!gx::fs::write_file_atomic(path, text, 0644, gx::fs::Overwrite::Yes)) return 1;
    std::string state = base + "/state-" + std::to_string(n);

    auto t0 = Clock::now();
    double c0 = cpu_seconds();
    auto loaded = gx::RevocationList::load(path, trust, state, now);
    double load_cpu = cpu_seconds() - c0;
    double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!loaded) {
      std::fprintf(stderr, "load: %s\n", loaded.error().detail.c_str());
      return 1;
    }
    // Lookups: half present, half absent, as a verifier's mix would be.
    const int kLookups = 4'000'000;
    std::vector<std::string> probes;
    for (int i = 0; i < 4096; ++i)
      probes.push_back(i % 2 ? ref("art", static_cast<uint64_t>(i) * 7919 % n) : ref("absent", static_cast<uint64_t>(i)));
    size_t hits = 0;
    c0 = cpu_seconds();
    for (int i = 0; i < kLookups; ++i) hits += loaded->artifact_revoked(probes[static_cast<size_t>(i) & 4095]);
    lookup_ns[k] = (cpu_seconds() - c0) * 1e9 / kLookups;
    std::printf("%8llu entries: file %7.1f MB, load %7.3f s CPU (%7.3f s wall; read+verify+parse+index), "
                "lookup %6.1f ns CPU, hits %zu, peak RSS %ld MB\n",
                static_cast<unsigned long long>(n), static_cast<double>(text.size()) / 1e6, load_cpu, load_s,
                lookup_ns[k], hits, peak_rss_mb());
  }
  std::printf("lookup ratio 1M/1k = %.2f\n", lookup_ns[1] / lookup_ns[0]);
  std::filesystem::remove_all(base);
  return 0;
}
