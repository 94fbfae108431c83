// Revocation list cost versus size, 1,000 vs 1,000,000 entries, same run:
//   - cold: load() with no index (read + verify + parse + validate + record +
//     index rebuild), and the index build alone;
//   - warm: what one run pays with the index in place — load() served from
//     <state>/revocations.db plus the lookups a verification makes — measured
//     in-process (interleaved, medians) and in a fresh process (exec of this
//     binary: CPU and peak RSS of one whole run);
//   - re-hash: load() when the index's file stamp is unknown (SHA-256 of the
//     whole file, then served from the index);
//   - lookups on a loaded list: in memory (after a full load) and from the index;
//   - gx revoke (add_revocation, which indexes the list it writes) and the
//     first load after it.
//
//   cmake --build build -j2 --target revocation_bench && build/bench/revocation_bench [--rounds N]
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/fsutil.h"
#include "lib/revocation.h"
#include "lib/revocation_index.h"
#include "lib/revoke.h"

using Clock = std::chrono::steady_clock;

namespace {

const gx::UnixTime kNow = 1'800'000'000;

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

// VmHWM of this address space (unlike ru_maxrss, it starts afresh at exec).
long vm_hwm_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// What one `gx run` asks of the list: load it, then check the artifact and
// its signer (the verifier calls key_revoked per signature, check once).
bool one_run(const std::string& path, const gx::TrustStore& trust, const std::string& state, const std::string& probe,
             const std::string& signer, bool* from_index) {
  auto l = gx::RevocationList::load(path, trust, state, kNow);
  if (!l) {
    std::fprintf(stderr, "load: %s\n", l.error().detail.c_str());
    return false;
  }
  *from_index = l->from_index();
  volatile bool sink = l->key_revoked(signer);
  sink = l->check(probe, {signer}).allowed();
  (void)sink;
  return true;
}

// Child mode: one warm run in a fresh process, then its CPU time and peak RSS.
int child_run(const char* path, const char* trust_path, const char* state, const char* probe, const char* signer) {
  double c0 = cpu_seconds();
  auto t0 = Clock::now();
  auto trust = gx::TrustStore::load(trust_path);
  if (!trust) return 1;
  bool from_index = false;
  if (!one_run(path, *trust, state, probe, signer, &from_index)) return 1;
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("%.3f ms CPU, %.3f ms wall, peak RSS %ld kB (whole process), served from index: %s\n",
              (cpu_seconds() - c0) * 1e3, wall * 1e3, vm_hwm_kb(), from_index ? "yes" : "NO");
  return from_index ? 0 : 1;
}

struct Size {
  uint64_t n;
  std::string path, state;
  size_t file_bytes = 0;
  double cold_cpu = 0, cold_wall = 0, build_wall = 0, rehash_cpu = 0;
  std::vector<double> warm_cpu, warm_wall;
  double mem_lookup_ns = 0, idx_lookup_ns = 0;
  std::vector<std::string> probes;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc == 7 && std::strcmp(argv[1], "--child") == 0) return child_run(argv[2], argv[3], argv[4], argv[5], argv[6]);
  int rounds = 300;
  if (argc == 3 && std::strcmp(argv[1], "--rounds") == 0) rounds = std::max(1, std::atoi(argv[2]));

  const char* tmp = getenv("TMPDIR");
  std::string base = std::string(tmp && *tmp ? tmp : "/var/tmp") + "/gx-rev-bench.XXXXXX";
  if (!mkdtemp(base.data())) return 1;
  auto key = gx::crypto::PrivateKey::generate();
  if (!key) return 1;
  gx::TrustStore trust;
  trust.keys.push_back(gx::TrustedKey{"bench", key->public_key(), key->public_key().key_id(), {}, {}, false});
  std::string trust_path = base + "/trust.toml";
  if (!trust.save(trust_path)) return 1;
  const std::string signer = key->public_key().key_id();

  Size sizes[2];
  sizes[0].n = 1'000;
  sizes[1].n = 1'000'000;
  for (Size& s : sizes) {
    std::vector<gx::RevocationEntry> entries;
    entries.reserve(s.n);
    for (uint64_t i = 0; i < s.n; ++i)  // one key entry per 1000 artifacts
      entries.push_back(i % 1000 == 999
                            ? gx::RevocationEntry{gx::RevocationKind::Key, ref("key", i), "bench", kNow}
                            : gx::RevocationEntry{gx::RevocationKind::Artifact, ref("art", i), "bench", kNow});
    auto list = gx::RevocationList{}.successor(entries, kNow);
    if (!list || !list->add_signature(*key)) return 1;
    s.path = base + "/revocations-" + std::to_string(s.n) + ".toml";
    s.state = base + "/state-" + std::to_string(s.n);
    std::string text = list->file_text();
    s.file_bytes = text.size();
    if (!gx::fs::write_file_atomic(s.path, text, 0644, gx::fs::Overwrite::Yes)) return 1;
    // Half present, half absent, as a verifier's mix would be.
    for (uint64_t i = 0; i < 4096; ++i)
      s.probes.push_back(i % 2 ? ref("art", i * 7919 % s.n / 1000 * 1000 + i % 999) : ref("absent", i));
  }
  // A file written less than 2 s before load() reads it gets no stamp (racy):
  // real lists are older than that by the time runs use them.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));

  // ---- cold: no index ----
  for (Size& s : sizes) {
    auto t0 = Clock::now();
    double c0 = cpu_seconds();
    auto l = gx::RevocationList::load(s.path, trust, s.state, kNow);
    s.cold_cpu = cpu_seconds() - c0;
    s.cold_wall = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!l || l->from_index()) return 1;
    const int kLookups = 1'000'000;
    size_t hits = 0;
    c0 = cpu_seconds();
    for (int i = 0; i < kLookups; ++i) hits += l->artifact_revoked(s.probes[static_cast<size_t>(i) & 4095]);
    s.mem_lookup_ns = (cpu_seconds() - c0) * 1e9 / kLookups;
    if (hits != kLookups / 2) std::fprintf(stderr, "warning: %zu hits\n", hits);
    // The index build alone, for the same entries.
    auto idx = gx::RevocationIndex::open(s.state);
    if (!idx) return 1;
    std::string out = base + "/build-only.db";
    auto set = gx::MemoryRevocationSet::make(l->entries());
    if (!set) return 1;
    t0 = Clock::now();
    if (!gx::RevocationIndex::build(out, idx->meta(), **set)) return 1;
    s.build_wall = std::chrono::duration<double>(Clock::now() - t0).count();
    std::filesystem::remove(out);
    std::printf(
        "%8llu entries: file %6.1f MB, cold load %7.3f s CPU (%7.3f s wall; incl. index build %6.3f s wall), "
        "index %6.1f MB, in-memory lookup %6.1f ns, peak RSS so far %ld MB\n",
        static_cast<unsigned long long>(s.n), static_cast<double>(s.file_bytes) / 1e6, s.cold_cpu, s.cold_wall,
        s.build_wall, static_cast<double>(std::filesystem::file_size(gx::revocations_index_path(s.state))) / 1e6,
        s.mem_lookup_ns, peak_rss_mb());
    std::fflush(stdout);
  }

  // ---- warm: one run = load() from the index + lookups; interleaved ----
  for (int r = 0; r < rounds; ++r)
    for (Size& s : sizes) {
      bool from_index = false;
      const std::string& probe = s.probes[static_cast<size_t>(r) * 13 % s.probes.size()];
      auto t0 = Clock::now();
      double c0 = cpu_seconds();
      if (!one_run(s.path, trust, s.state, probe, signer, &from_index) || !from_index) return 1;
      s.warm_cpu.push_back((cpu_seconds() - c0) * 1e6);
      s.warm_wall.push_back(std::chrono::duration<double>(Clock::now() - t0).count() * 1e6);
    }

  // ---- re-hash: the index's stamp unknown (as after a touch or a copy) ----
  for (Size& s : sizes) {
    std::vector<double> cpu;
    for (int r = 0; r < 3; ++r) {
      auto idx = gx::RevocationIndex::open(s.state);
      if (!idx || !idx->restamp(gx::FileStamp{})) return 1;
      idx.reset();
      double c0 = cpu_seconds();
      auto l = gx::RevocationList::load(s.path, trust, s.state, kNow);
      cpu.push_back(cpu_seconds() - c0);
      if (!l || !l->from_index()) return 1;
    }
    s.rehash_cpu = median(cpu);
    // Lookups from the index on one loaded list (what repeated checks cost).
    auto l = gx::RevocationList::load(s.path, trust, s.state, kNow);
    if (!l || !l->from_index()) return 1;
    const int kLookups = 200'000;
    size_t hits = 0;
    double c0 = cpu_seconds();
    for (int i = 0; i < kLookups; ++i) hits += l->artifact_revoked(s.probes[static_cast<size_t>(i) & 4095]);
    s.idx_lookup_ns = (cpu_seconds() - c0) * 1e9 / kLookups;
    if (hits != kLookups / 2) std::fprintf(stderr, "warning: %zu index hits\n", hits);
  }

  std::printf("\nwarm run (load() served from the index + key_revoked + check), %d interleaved rounds, medians:\n",
              rounds);
  for (Size& s : sizes)
    std::printf("%8llu entries: %7.1f us CPU, %7.1f us wall; index lookup %6.2f us; re-hash load %6.3f s CPU\n",
                static_cast<unsigned long long>(s.n), median(s.warm_cpu), median(s.warm_wall), s.idx_lookup_ns / 1e3,
                s.rehash_cpu);
  std::printf("warm run ratio 1M/1k: %.2f CPU, %.2f wall (target <= 1.10)\n",
              median(sizes[1].warm_cpu) / median(sizes[0].warm_cpu),
              median(sizes[1].warm_wall) / median(sizes[0].warm_wall));
  std::printf("cold/warm at 1M: %.0fx CPU\n", sizes[1].cold_cpu * 1e6 / median(sizes[1].warm_cpu));
  std::fflush(stdout);

  // ---- one warm run in a fresh process (exec): whole-process CPU and RSS ----
  for (Size& s : sizes) {
    std::printf("%8llu entries, fresh process: ", static_cast<unsigned long long>(s.n));
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      execl("/proc/self/exe", argv[0], "--child", s.path.c_str(), trust_path.c_str(), s.state.c_str(),
            s.probes[1].c_str(), signer.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::printf("child failed\n");
  }
  // ---- gx revoke, then the first load of the list it wrote ----
  for (Size& s : sizes) {
    std::vector<gx::crypto::PrivateKey> keys{*key};
    double c0 = cpu_seconds();
    auto done =
        gx::add_revocation(s.path, trust, s.state, keys,
                           gx::RevocationEntry{gx::RevocationKind::Artifact, ref("new", s.n), "bench", kNow}, kNow);
    double revoke_cpu = cpu_seconds() - c0;
    if (!done || done->already_revoked) return 1;
    c0 = cpu_seconds();
    auto first = gx::RevocationList::load(s.path, trust, s.state, kNow);
    double first_cpu = cpu_seconds() - c0;
    if (!first) return 1;
    std::printf(
        "%8llu entries: gx revoke (add_revocation) %7.3f s CPU; first load after it %7.3f s CPU, served "
        "from index: %s\n",
        static_cast<unsigned long long>(s.n), revoke_cpu, first_cpu, first->from_index() ? "yes" : "NO");
  }
  std::fflush(stdout);

  std::filesystem::remove_all(base);
  return 0;
}
