// Spent-use store cost versus size: reserve() and lookup() on a 1,000-entry
// and a 1,000,000-entry store, in the same run, interleaved.
//
//   cmake --build build -j2 --target use_store_bench && build/bench/use_store_bench [DIR]
//
// DIR (default: a fresh directory under $TMPDIR or /tmp) must be on the
// filesystem you care about: reserve() is dominated by its fsync.
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_fill.h"
#include "lib/crypto.h"
#include "lib/use_store.h"

using Clock = std::chrono::steady_clock;

namespace {

std::string digest_of(const std::string& tag, uint64_t i) {
  return "sha256:" + gx::crypto::sha256_hex(tag + std::to_string(i));
}

// Bulk load through the store's own schema, in one transaction, keys in
// sorted order with a large page cache (random-order inserts into a B-tree
// bigger than the cache spill pages to the WAL over and over: minutes instead
// of seconds). reserve() one row at a time would take an fsync per row.
bool fill(const std::string& dir, uint64_t n) { return gx::bench::fill_uses_fast(dir, n); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string base;
  if (argc > 1) {
    base = argv[1];
  } else {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/gx-use-bench.XXXXXX";
    if (!mkdtemp(tmpl.data())) return 1;
    base = tmpl;
  }
  const uint64_t sizes[2] = {1'000, 1'000'000};
  std::vector<gx::UseStore> stores;
  for (uint64_t n : sizes) {
    const std::string dir = base + "/n" + std::to_string(n);
    auto s = gx::UseStore::open(dir);
    if (!s) {
      std::fprintf(stderr, "open: %s\n", s.error().detail.c_str());
      return 1;
    }
    auto t0 = Clock::now();
    if (!fill(dir, n)) {
      std::fprintf(stderr, "fill failed\n");
      return 1;
    }
    std::printf("filled %8llu entries in %.2f s\n", static_cast<unsigned long long>(n),
                std::chrono::duration<double>(Clock::now() - t0).count());
    stores.push_back(s.take());
  }

  const int kRounds = 300;
  std::vector<double> reserve_us[2], lookup_us[2], run_us[2];
  const std::string dirs[2] = {base + "/n" + std::to_string(sizes[0]), base + "/n" + std::to_string(sizes[1])};
  for (int r = 0; r < kRounds; ++r) {
    for (int k = 0; k < 2; ++k) {  // interleaved, so drift hits both alike
      // A new artifact (the common case: insert) ...
      std::string fresh = digest_of("run", static_cast<uint64_t>(r));
      auto t0 = Clock::now();
      auto res = stores[k].reserve(fresh, 3, 2000000000);
      auto t1 = Clock::now();
      if (!res) {
        std::fprintf(stderr, "reserve: %s\n", res.error().detail.c_str());
        return 1;
      }
      reserve_us[k].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      // ... and a lookup of an existing row, without the fsync.
      std::string old = digest_of("fill", static_cast<uint64_t>(r) * 2477 % sizes[k]);
      t0 = Clock::now();
      auto rec = stores[k].lookup(old);
      t1 = Clock::now();
      if (!rec || !*rec) {
        std::fprintf(stderr, "lookup failed\n");
        return 1;
      }
      lookup_us[k].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      // What one `gx run` pays apart from the fsync: open a fresh connection
      // (cold SQLite cache) and look the artifact up.
      std::string other = digest_of("fill", (static_cast<uint64_t>(r) * 7919 + 13) % sizes[k]);
      t0 = Clock::now();
      {
        auto fresh_store = gx::UseStore::open(dirs[k]);
        if (!fresh_store || !fresh_store->lookup(other).ok()) return 1;
      }
      t1 = Clock::now();
      run_us[k].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
  }
  double r0 = median(reserve_us[0]), r1 = median(reserve_us[1]);
  double l0 = median(lookup_us[0]), l1 = median(lookup_us[1]);
  std::printf("reserve() median: %9.1f us at 1k, %9.1f us at 1M, ratio 1M/1k = %.2f (committed + fsync'd)\n", r0, r1,
              r1 / r0);
  std::printf("lookup()  median: %9.1f us at 1k, %9.1f us at 1M, ratio 1M/1k = %.2f (warm connection, no fsync)\n", l0,
              l1, l1 / l0);
  double o0 = median(run_us[0]), o1 = median(run_us[1]);
  std::printf("open()+lookup() median: %9.1f us at 1k, %9.1f us at 1M, ratio 1M/1k = %.2f (fresh connection)\n", o0, o1,
              o1 / o0);
  std::printf("store files under %s\n", base.c_str());
  if (argc <= 1) std::filesystem::remove_all(base);
  return 0;
}
