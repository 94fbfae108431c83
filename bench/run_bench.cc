// `gx run` benchmark (docs/performance.md, "gx run").
//
//   run_bench [--dir DIR] [--reps N] [--big N] [--gx PATH]
//
// Times whole `gx run` processes (posix_spawn of gx, wait4) of a trivial
// command, /bin/true, against state directories of different sizes, and
// peers measured in the same run, interleaved in a shuffled order each
// repetition so that drift and background load hit every peer alike:
//
//   /bin/true directly (posix_spawn from this process, as gx itself is run)
//   gx --version                 process start-up (dynamic linking, CLI)
//   gx verify ART                trust store + artifact signature check
//   gx run --dry-run ART         verify + match + sandbox plan + use lookup
//   gx run ART, four states      + reserve a use, 2 signed receipts, confine, exec
//   ECDSA sign (in process)      what each receipt costs in signing
//   write + fdatasync (in process) what each durable step costs on this disk
//   bwrap / firejail /bin/true   only when installed (never required)
//
// States (DIR/state-*), built once and cached (DIR/states.ok), reused by
// later runs (each run adds ~2 receipts per `gx run`, negligible; delete DIR
// to rebuild them):
//   small: 1,000 receipts + 1,000 use-store entries
//   big:   N (default 1,000,000) receipts + N entries
//   r-big: N receipts + 1,000 entries;   u-big: 1,000 receipts + N entries
// The logs are written with the fast path of bench/receipt_bench.cc (the
// library's serialisation and leaf hashes, one dummy signature: append never
// re-checks old signatures); the stores are bulk-loaded as in
// bench/use_store_bench.cc. Prints medians of wall and CPU time, the
// ratios big/small (target <= 1.10) and the max RSS of gx (through
// /usr/bin/time). Exit 0 when the wall-time ratio of `gx run` big/small is
// <= 1.10, 2 otherwise, 1 on errors.
#include <fcntl.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_fill.h"
#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/receipt.h"
#include "lib/receipt_log.h"
#include "lib/use_store.h"

using namespace gx;
extern char** environ;

using Clock = std::chrono::steady_clock;
namespace stdfs = std::filesystem;

namespace {

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// --- state fixtures (same approach as receipt_bench / use_store_bench) ---

Receipt typical_receipt() {
  Receipt r = make_authorized(receipt_for_this_process());
  r.artifact_id = "5f0c2a9e7b1d4c3a8e6f";
  r.artifact_digest = "sha256:" + std::string(64, 'a');
  r.signers = {"sha256:" + std::string(64, 'b')};
  r.issuer = "ops@example.org";
  r.argv = {"/usr/bin/rsync", "-a", "/srv/data/", "backup:/data/x"};
  r.exe_path = "/usr/bin/rsync";
  r.exe_digest = std::string(64, 'c');
  r.sandbox = {{"landlock_abi", 7}, {"seccomp", {"default", "network"}}, {"net", "tcp"}};
  return r;
}

// n chained receipts written directly, with correct seq and hash chain.
bool write_receipts_fast(const std::string& state, uint64_t n, const crypto::PublicKey& key) {
  return gx::bench::write_receipts_fast(state, n, key, typical_receipt());
}

// n spent-use rows through the store's own schema: one transaction, sorted
// keys, big cache, then back to the settings UseStore::open() uses.
bool fill_uses(const std::string& state, uint64_t n) {
  auto store = UseStore::open(state);
  return store && gx::bench::fill_uses_fast(state, n);
}

// A state directory with the receipt key and a log of n receipts.
bool make_log(const std::string& state, uint64_t n) {
  auto log = ReceiptLog::open(state);
  return log && write_receipts_fast(state, n, log->public_key());
}

bool copy_files(const std::string& from, const std::string& to, const std::vector<std::string>& names) {
  if (!ensure_state_dir(to)) return false;
  std::error_code ec;
  for (const auto& name : names) {
    stdfs::copy_file(from + "/" + name, to + "/" + name, stdfs::copy_options::overwrite_existing, ec);
    if (ec) return false;
  }
  return true;
}

struct States {
  std::string small, big, r_big, u_big;
};

// Builds the four states, or reuses them when DIR/states.ok says they were
// built for the same big size.
bool prepare_states(const std::string& dir, uint64_t big, States& s) {
  s = {dir + "/state-small", dir + "/state-big", dir + "/state-rbig", dir + "/state-ubig"};
  const std::string marker = dir + "/states.ok", want = "big=" + std::to_string(big) + "\n";
  if (auto have = fs::read_file(marker, 1024); have && *have == want) {
    std::printf("reusing cached states in %s\n", dir.c_str());
    return true;
  }
  std::error_code ec;
  for (const auto* d : {&s.small, &s.big, &s.r_big, &s.u_big}) stdfs::remove_all(*d, ec);
  // A log travels with its head (a log without one is refused as
  // truncated), a use store with its WAL.
  const std::vector<std::string> log_files = {std::string(kReceiptLogFile), std::string(kReceiptHeadFile),
                                              "receipt.key", "receipt.pub"};
  const std::vector<std::string> use_files = {"uses.db", "uses.db-wal"};
  auto t0 = Clock::now();
  if (!make_log(s.small, 1000) || !fill_uses(s.small, 1000)) return false;
  if (!make_log(s.big, big)) return false;
  std::printf("  receipt log of %llu: %.1f s\n", static_cast<unsigned long long>(big), ms_since(t0) / 1000);
  auto t1 = Clock::now();
  if (!fill_uses(s.big, big)) return false;
  std::printf("  use store of %llu: %.1f s\n", static_cast<unsigned long long>(big), ms_since(t1) / 1000);
  // The mixed states are copies: the big log and the big store are built once.
  if (!copy_files(s.big, s.r_big, log_files) || !copy_files(s.small, s.r_big, use_files)) return false;
  if (!copy_files(s.small, s.u_big, log_files) || !copy_files(s.big, s.u_big, use_files)) return false;
  std::printf("built states in %.1f s\n", ms_since(t0) / 1000);
  return static_cast<bool>(fs::write_file_atomic(marker, want, 0600, fs::Overwrite::Yes));
}

uint64_t receipts_in(const std::string& state) {
  auto head = fs::read_file(state + "/" + std::string(kReceiptHeadFile), 4096);
  if (!head) return 0;
  auto j = nlohmann::json::parse(*head, nullptr, false);
  return j.is_object() && j.contains("count") && j["count"].is_number_unsigned() ? j["count"].get<uint64_t>() : 0;
}

uint64_t uses_in(const std::string& state) {
  auto store = UseStore::open(state);
  if (!store) return 0;
  auto st = store->stats();
  return st ? st->entries : 0;
}

// --- processes ---

struct ProcResult {
  int status = -1;
  double ms = 0;      // wall time, spawn to reaped
  double cpu_ms = 0;  // user + system time of the process and its children
};

double tv_ms(const timeval& tv) { return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3; }

// posix_spawn (vfork + exec: the child's max RSS is its own, not a copy of
// ours) + wait4; stdin and stdout /dev/null, stderr to err_path.
ProcResult spawn(const std::vector<std::string>& args, const std::string& err_path) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ProcResult r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  auto t0 = Clock::now();
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return r;
  struct rusage ru {};
  if (wait4(pid, &r.status, 0, &ru) != pid) return r;
  r.ms = ms_since(t0);
  r.cpu_ms = tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
  return r;
}

bool ok_status(const ProcResult& r) { return WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0; }

std::string slurp(const std::string& path) {
  auto t = fs::read_file(path, 1 << 16);
  return t ? *t : "";
}

// --- statistics ---

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}
double median(const std::vector<double>& v) { return quantile(v, 0.5); }

struct Peer {
  std::string name;
  std::function<bool(ProcResult&)> once;  // false on failure
  std::vector<std::string> args = {};     // a process peer's command, for the RSS pass
  std::vector<double> ms = {}, cpu_ms = {}, rss_kb = {};
};

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/gx-bench", gx = GX_BENCH_GX_BINARY;
  uint64_t big = 1000000;
  int reps = 40;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    else if (a == "--reps") reps = std::atoi(argv[i + 1]);
    else if (a == "--big") big = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--gx") gx = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: run_bench [--dir DIR] [--reps N] [--big N] [--gx PATH]\n");
      return 1;
    }
  }
  if (reps < 3) reps = 3;
  dir = fs::absolute(dir);
  std::printf("load average at start: %s (%ld CPUs online)\n", load_average().c_str(), sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("gx: %s\ndir: %s\n", gx.c_str(), dir.c_str());
  if (!ensure_state_dir(dir)) {
    std::fprintf(stderr, "cannot use %s (must be ours and not group/other-writable)\n", dir.c_str());
    return 1;
  }
  States st;
  if (!prepare_states(dir, big, st)) {
    std::fprintf(stderr, "building the states failed\n");
    return 1;
  }

  // A fresh key, trust store and artifact for /bin/true, every run (the
  // artifact's validity is short). cwd is part of the match: stay in auth.
  const std::string auth = dir + "/auth", err = dir + "/stderr.txt";
  std::error_code ec;
  stdfs::remove_all(auth, ec);
  if (!fs::make_dirs(auth, 0700) || chdir(auth.c_str()) != 0) return 1;
  const std::string trust = auth + "/trust.toml", art = auth + "/true.toml";
  const std::vector<std::vector<std::string>> setup = {
      {gx, "keygen", "-o", auth + "/bench"},
      {gx, "trust", "add", auth + "/bench.pub", "--name", "bench", "--trust", trust},
      {gx, "init", "--max-uses", "1000000", "--ttl", "1d", "-f", "-o", art, "--", "/bin/true"},
      {gx, "sign", "-k", auth + "/bench.key", art}};
  for (const auto& cmd : setup) {
    if (!ok_status(spawn(cmd, err))) {
      std::fprintf(stderr, "setup failed: %s %s\n%s", cmd[0].c_str(), cmd[1].c_str(), slurp(err).c_str());
      return 1;
    }
  }

  auto proc = [&](std::vector<std::string> args) {
    return [args, &err](ProcResult& r) {
      r = spawn(args, err);
      return ok_status(r);
    };
  };
  // In-process peers: one receipt's signature, one durable append.
  auto in_process = [](std::function<bool()> f) {
    return [f](ProcResult& r) {
      auto t0 = Clock::now();
      double c0 = process_cpu_ms();
      bool good = f();
      r.cpu_ms = process_cpu_ms() - c0;
      r.ms = ms_since(t0);
      return good;
    };
  };
  auto key = crypto::PrivateKey::generate();
  if (!key) return 1;
  const std::string body = typical_receipt().signed_body();
  const std::string sync_file = dir + "/fdatasync-probe";
  auto sign_once = in_process([&] { return key->sign(crypto::kReceiptType, body).ok(); });
  auto sync_once = in_process([&] {
    int fd = open(sync_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    bool good =
        fd >= 0 && write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()) && fdatasync(fd) == 0;
    if (fd >= 0) close(fd);
    return good;
  });

  auto run_args = [&](const std::string& state, bool dry) {
    std::vector<std::string> a = {gx, "run", "--trust", trust, "--state", state};
    if (dry) a.push_back("--dry-run");
    for (const char* s : {art.c_str(), "--", "/bin/true"}) a.emplace_back(s);
    return a;
  };
  const std::string big_s = std::to_string(big);
  std::vector<std::vector<std::string>> commands = {
      {"/bin/true"},
      {gx, "--version"},
      {gx, "verify", "--trust", trust, art},
      run_args(st.small, true),
      run_args(st.big, true),
      run_args(st.small, false),
      run_args(st.big, false),
      run_args(st.r_big, false),
      run_args(st.u_big, false),
  };
  std::vector<Peer> peers = {
      {"/bin/true directly (posix_spawn)", nullptr},
      {"gx --version (start-up)", nullptr},
      {"gx verify ART", nullptr},
      {"gx run --dry-run, small state", nullptr},
      {"gx run --dry-run, big state", nullptr},
      {"gx run, small (1k receipts, 1k uses)", nullptr},
      {"gx run, big (" + big_s + " receipts, " + big_s + " uses)", nullptr},
      {"gx run, " + big_s + " receipts + 1k uses", nullptr},
      {"gx run, 1k receipts + " + big_s + " uses", nullptr},
      {"ECDSA P-256 sign, in process", sign_once},
      {"write 1 receipt + fdatasync, in process", sync_once},
  };
  // Sandboxing peers, when installed (never required): /bin/true in a
  // namespace sandbox, for scale against gx's Landlock + seccomp confinement.
  std::vector<std::string> absent;
  const std::vector<std::pair<std::string, std::vector<std::string>>> optional = {
      {"bwrap (bubblewrap) /bin/true",
       {"/usr/bin/bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
        "--die-with-parent", "/bin/true"}},
      {"firejail /bin/true", {"/usr/bin/firejail", "--quiet", "--noprofile", "/bin/true"}}};
  for (const auto& [name, cmd] : optional) {
    if (access(cmd[0].c_str(), X_OK) != 0) {
      absent.push_back(name.substr(0, name.find(' ')));
      continue;
    }
    peers.push_back({name, proc(cmd), cmd});
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    peers[i].once = proc(commands[i]);
    peers[i].args = commands[i];
  }
  enum { kDirect, kVersion, kVerify, kDrySmall, kDryBig, kRunSmall, kRunBig, kRunRBig, kRunUBig, kSign, kSync };

  // Warm-up (page cache, receipts.head), and a check that every peer works.
  for (auto& p : peers) {
    ProcResult r;
    if (!p.once(r)) {
      std::fprintf(stderr, "peer failed: %s\n%s", p.name.c_str(), slurp(err).c_str());
      return 1;
    }
  }
  for (const auto* s : {&st.small, &st.big, &st.r_big, &st.u_big})
    std::printf("state %-12s %10llu receipts, %10llu use entries\n", stdfs::path(*s).filename().c_str(),
                static_cast<unsigned long long>(receipts_in(*s)), static_cast<unsigned long long>(uses_in(*s)));

  std::mt19937 rng(12345);
  std::vector<size_t> order(peers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto t0 = Clock::now();
  for (int rep = 0; rep < reps; ++rep) {
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i : order) {
      ProcResult r;
      if (!peers[i].once(r)) {
        std::fprintf(stderr, "peer failed: %s\n%s", peers[i].name.c_str(), slurp(err).c_str());
        return 1;
      }
      peers[i].ms.push_back(r.ms);
      peers[i].cpu_ms.push_back(r.cpu_ms);
    }
  }
  // Peak memory, in a separate pass: wait4's ru_maxrss of a child we spawn
  // includes our own RSS (the kernel carries the pre-exec high-water mark
  // over exec), so it is read through /usr/bin/time, which forks from a
  // small process: its %M is the command's own peak.
  const bool have_time = access("/usr/bin/time", X_OK) == 0;
  const std::string rss_file = dir + "/rss.txt";
  for (auto& p : peers) {
    p.rss_kb.clear();
    if (!have_time || p.args.empty()) continue;
    for (int k = 0; k < 5; ++k) {
      std::vector<std::string> a = {"/usr/bin/time", "-f", "%M", "-o", rss_file};
      a.insert(a.end(), p.args.begin(), p.args.end());
      if (!ok_status(spawn(a, err))) {
        std::fprintf(stderr, "peer failed under /usr/bin/time: %s\n%s", p.name.c_str(), slurp(err).c_str());
        return 1;
      }
      p.rss_kb.push_back(std::strtod(slurp(rss_file).c_str(), nullptr));
    }
  }
  if (!have_time) std::printf("/usr/bin/time not installed (Debian package time): no max RSS\n");
  std::printf("\n%d repetitions, shuffled order, in %.1f s; load average at end: %s\n\n", reps, ms_since(t0) / 1000,
              load_average().c_str());
  std::printf("wall time (median, p25, p75, mean), CPU time user+sys (median), max RSS (largest of 5 runs)\n");
  std::printf("%-44s %9s %9s %9s %9s %9s %9s\n", "peer", "median", "p25", "p75", "mean", "CPU", "max RSS");
  for (const auto& p : peers) {
    double sum = 0;
    for (double x : p.ms) sum += x;
    double rss = quantile(p.rss_kb, 1.0);
    std::printf("%-44s %7.2fms %7.2fms %7.2fms %7.2fms %7.2fms ", p.name.c_str(), median(p.ms), quantile(p.ms, 0.25),
                quantile(p.ms, 0.75), sum / static_cast<double>(p.ms.size()), median(p.cpu_ms));
    if (rss > 0) std::printf("%6.1f MB\n", rss / 1024);
    else std::printf("%9s\n", "-");
  }
  for (const auto& name : absent) std::printf("%s: not installed\n", name.c_str());

  auto m = [&](int i) { return median(peers[static_cast<size_t>(i)].ms); };
  auto cpu = [&](int i) { return median(peers[static_cast<size_t>(i)].cpu_ms); };
  auto rss = [&](int i) { return quantile(peers[static_cast<size_t>(i)].rss_kb, 1.0) / 1024; };
  const double ratio = m(kRunBig) / m(kRunSmall);
  std::printf("\nratios of medians, big/small (wall; CPU):\n");
  std::printf("  gx run, receipts + uses:  %.3f; %.3f   (target <= 1.10, on wall time)\n", ratio,
              cpu(kRunBig) / cpu(kRunSmall));
  std::printf("  gx run, receipts only:    %.3f; %.3f\n", m(kRunRBig) / m(kRunSmall), cpu(kRunRBig) / cpu(kRunSmall));
  std::printf("  gx run, uses only:        %.3f; %.3f\n", m(kRunUBig) / m(kRunSmall), cpu(kRunUBig) / cpu(kRunSmall));
  std::printf("  gx run --dry-run:         %.3f; %.3f\n", m(kDryBig) / m(kDrySmall), cpu(kDryBig) / cpu(kDrySmall));
  std::printf("  max RSS of gx run:        %.1f MB / %.1f MB = %.3f\n", rss(kRunBig), rss(kRunSmall),
              rss(kRunBig) / rss(kRunSmall));
  std::printf("\nwhere the time of `gx run` (small state) goes, differences of medians (wall; CPU):\n");
  auto step = [&](const char* what, int hi, int lo) {
    std::printf("  %-58s %6.2f ms; %6.2f ms\n", what, m(hi) - m(lo), cpu(hi) - cpu(lo));
  };
  step("process start-up (gx --version - /bin/true)", kVersion, kDirect);
  step("trust store + artifact verify (gx verify - gx --version)", kVerify, kVersion);
  step("match + sandbox plan + use lookup (dry-run - verify)", kDrySmall, kVerify);
  step("use + 2 receipts + confine + exec (run - dry-run)", kRunSmall, kDrySmall);
  // 2 = what strace shows per run: the use store's WAL and the receipt log,
  // both before exec (lib/run_record.h); the finished receipt is not synced.
  std::printf("    in process, for comparison: 2 ECDSA signs %.2f ms; %.2f ms (each signs, then verifies)\n",
              2 * m(kSign), 2 * cpu(kSign));
  std::printf("    in process, for comparison: 2 write+fdatasync %.2f ms; %.2f ms\n", 2 * m(kSync), 2 * cpu(kSync));
  std::printf("  gx run / direct: %.1fx wall, %.1fx CPU\n", m(kRunSmall) / m(kDirect), cpu(kRunSmall) / cpu(kDirect));
  std::remove(sync_file.c_str());
  return ratio <= 1.10 ? 0 : 2;
}
