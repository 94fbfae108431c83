// Receipt log benchmark (docs/performance.md, "Receipt log").
//
//   receipt_bench [--big N] [--appends M] [--verify-records K] [--dir DIR]
//
// 1. Builds two logs, of 1,000 and N (default 1,000,000) receipts, with a
//    fast path: records are made with the library's own serialisation and
//    leaf hash, so seq and the hash chain are exactly what append expects,
//    but they all carry one dummy signature (real signing costs ~milliseconds
//    per record). append() never checks old signatures, so its cost is the
//    same as on a real log of that size.
// 2. Times M real appends (sign, write, fdatasync) alternating between the
//    two logs and prints median/mean per append and the big/small ratio
//    (target <= 1.10: the append cost must not grow with the log).
// 3. Times `gx log verify`'s default chain mode over the big log (target >=
//    50,000 receipts/s wall) and an incremental verify after 100 more.
// 4. Builds a fully signed log of K receipts with real appends and times
//    verify_receipt_log with every signature: records per second.
// Exits 2 when a target is missed.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_fill.h"
#include "lib/crypto.h"
#include "lib/receipt.h"
#include "lib/receipt_log.h"

using namespace gx;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

constexpr const char* kRealSandbox =
    R"J({"exec_guard":true,"exec_in_place":true,"implicit_exec":["/lib64/ld-linux-x86-64.so.2","/bin/tru)J"
    R"J(e"],"landlock":{"downgraded":[],"fs_handled":["execute","write_file","read_file","read_dir","rem)J"
    R"J(ove_dir","remove_file","make_char","make_dir","make_reg","make_sock","make_fifo","make_block","m)J"
    R"J(ake_sym","refer","truncate","ioctl_dev"],"landlock_abi":7,"net_handled":["bind_tcp","connect_tcp)J"
    R"J("],"notes":[],"scoped":["abstract_unix_socket","signal"],"skipped_paths":[]},"new_session":true,)J"
    R"J("no_new_privs":true,"run_as":{"capabilities":[],"gid":0,"groups":[],"source":"peer","switched":t)J"
    R"J(rue,"uid":0},"seccomp":{"allowed_count":158,"allowed_dangerous":[],"architectures":["x86_64"],"a)J"
    R"J(rgument_checks":["ioctl: request TIOCSTI or TIOCLINUX (low 32 bits) -> EPERM","ioctl: request no)J"
    R"J(t in the allowlist (23 requests) -> errno(EPERM)","socket: every domain (AF_UNIX too: unix_socke)J"
    R"J(ts is false) -> EPERM","prlimit64, sched_setaffinity, sched_setscheduler, sched_setparam, sched_)J"
    R"J(setattr, migrate_pages, move_pages: pid other than 0 (the caller) -> EPERM","setpriority, ioprio)J"
    R"J(_set: anything but (PRIO_PROCESS / IOPRIO_WHO_PROCESS, 0) -> EPERM","socketpair: domain other th)J"
    R"J(an AF_UNIX -> EPERM","sendto/sendmsg/sendmmsg: MSG_FASTOPEN -> EPERM; setsockopt TCP_FASTOPEN_CO)J"
    R"J(NNECT -> EPERM","clone: namespace flags -> EPERM"],"default_action":"errno(EPERM)","denied":[],")J"
    R"J(enosys":["clone3","io_uring_enter","io_uring_register","io_uring_setup"],"groups":["default"],"i)J"
    R"J(nstructions":315,"ioctl_groups":["default"],"ioctls_count":23,"killed_abis":["i386","x32","other)J"
    R"J("],"log_denials":false,"network":"none","unix_sockets":false}})J";

Receipt typical(const std::string& arg) {
  Receipt r = make_authorized(receipt_for_this_process());
  r.artifact_id = "5f0c2a9e7b1d4c3a8e6f";
  r.artifact_digest = "sha256:" + std::string(64, 'a');
  r.signers = {"sha256:" + std::string(64, 'b')};
  r.issuer = "ops@example.org";
  r.argv = {"/usr/bin/rsync", "-a", "/srv/data/", "backup:/data/" + arg};
  r.exe_path = "/usr/bin/rsync";
  r.exe_digest = std::string(64, 'c');
  // What `gx run` records for /bin/true under the default profile (Landlock
  // ABI 7): ~1.7 KB of the ~2.7 KB a real receipt takes.
  r.sandbox = nlohmann::json::parse(kRealSandbox);
  return r;
}

// Writes n chained records directly (see the header comment).
void build_fast(const std::string& state, uint64_t n, const crypto::PublicKey& key) {
  std::filesystem::create_directories(state);
  gx::bench::write_receipts_fast(state, n, key, typical("x"));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t big = 1000000, appends = 200, verify_records = 500;
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--big") big = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--appends") appends = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--verify-records") verify_records = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--dir") dir = argv[i + 1];
  }
  if (dir.empty()) {
    char tmpl[] = "/var/tmp/gx-receipt-bench-XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    dir = tmpl;
  }
  const std::string small_dir = dir + "/small", big_dir = dir + "/big", signed_dir = dir + "/signed";

  // One key for all three logs: the small log creates it, the others reuse it.
  auto small_log = ReceiptLog::open(small_dir);
  if (!small_log) {
    std::fprintf(stderr, "open: %s\n", small_log.error().explain().c_str());
    return 1;
  }
  ReceiptLogOptions shared;
  shared.receipt_key = small_dir + "/receipt.key";

  auto t0 = Clock::now();
  build_fast(small_dir, 1000, small_log->public_key());
  build_fast(big_dir, big, small_log->public_key());
  std::printf("built logs of 1000 and %llu receipts (fast path) in %.1f s; big log %.1f MB\n",
              static_cast<unsigned long long>(big), ms_since(t0) / 1000,
              static_cast<double>(std::filesystem::file_size(big_dir + "/" + std::string(kReceiptLogFile))) / 1e6);
  auto big_log = ReceiptLog::open(big_dir, shared);
  if (!big_log) {
    std::fprintf(stderr, "open: %s\n", big_log.error().explain().c_str());
    return 1;
  }

  // Warm-up: the first append on each log falls back to the backward scan
  // (no head file yet) and faults in the key.
  for (ReceiptLog* log : {&*small_log, &*big_log})
    if (auto w = log->append(typical("warm")); !w) {
      std::fprintf(stderr, "warm-up append: %s\n", w.error().explain().c_str());
      return 1;
    }
  std::vector<double> small_ms, big_ms;
  for (uint64_t i = 0; i < appends; ++i) {
    for (int which = 0; which < 2; ++which) {
      ReceiptLog& log = ((i + static_cast<uint64_t>(which)) % 2 == 0) ? *small_log : *big_log;
      auto s = Clock::now();
      if (!log.append(typical(std::to_string(i))).ok()) return 1;
      (&log == &*small_log ? small_ms : big_ms).push_back(ms_since(s));
    }
  }
  std::printf("append, log of 1000:    median %.3f ms, mean %.3f ms (%llu appends)\n", median(small_ms), mean(small_ms),
              static_cast<unsigned long long>(appends));
  std::printf("append, log of %llu: median %.3f ms, mean %.3f ms (%llu appends)\n",
              static_cast<unsigned long long>(big), median(big_ms), mean(big_ms),
              static_cast<unsigned long long>(appends));
  double ratio = median(big_ms) / median(small_ms);
  std::printf("ratio big/small (median): %.3f (target <= 1.10)\n", ratio);

  // gx log verify in its default chain mode over the big log: every line's
  // format, sequence and hash link, and the signature of the last receipt
  // (a real signed append above; the fast-path lines carry dummy ones).
  auto cpu_s = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  t0 = Clock::now();
  const double cpu0 = cpu_s();
  auto chain = verify_receipt_log(big_dir, big_log->public_key(), std::nullopt, LogVerifyOptions{});
  double chain_ms = ms_since(t0);
  const double chain_cpu = cpu_s() - cpu0;
  if (!chain || !chain->intact) {
    std::fprintf(stderr, "chain verify failed: %s\n", chain ? chain->problem.c_str() : chain.error().explain().c_str());
    return 1;
  }
  const double chain_rate = static_cast<double>(chain->records) * 1000 / chain_ms;
  std::printf(
      "log verify, chain mode, %llu receipts: %.0f receipts/s wall (target >= 50000) (%.1f ms), %.0f receipts per "
      "CPU-second (%.2f s CPU on all threads), %llu signature checked\n",
      static_cast<unsigned long long>(chain->records), chain_rate, chain_ms,
      static_cast<double>(chain->records) / chain_cpu, chain_cpu,
      static_cast<unsigned long long>(chain->signatures_checked));
  // Incremental: a checkpoint now, 100 more receipts, verify from it.
  auto cp = big_log->checkpoint();
  if (!cp) return 1;
  for (int i = 0; i < 100; ++i)
    if (!big_log->append(typical("inc" + std::to_string(i))).ok()) return 1;
  LogVerifyOptions inc_mode;
  inc_mode.incremental = true;
  t0 = Clock::now();
  auto inc = verify_receipt_log(big_dir, big_log->public_key(), *cp, inc_mode);
  double inc_ms = ms_since(t0);
  if (!inc || !inc->intact) return 1;
  std::printf("log verify --incremental after 100 new receipts: lines %llu-%llu in %.2f ms\n",
              static_cast<unsigned long long>(inc->first_checked), static_cast<unsigned long long>(inc->records),
              inc_ms);

  auto signed_log = ReceiptLog::open(signed_dir, shared);
  if (!signed_log) return 1;
  t0 = Clock::now();
  for (uint64_t i = 0; i < verify_records; ++i)
    if (!signed_log->append(typical(std::to_string(i))).ok()) return 1;
  double build_ms = ms_since(t0);
  t0 = Clock::now();
  auto rep = verify_receipt_log(signed_dir, signed_log->public_key());
  double verify_ms = ms_since(t0);
  if (!rep || !rep->intact) return 1;
  std::printf("signed log of %llu receipts: real appends %.1f/s; verify %.0f records/s (%.1f ms)\n",
              static_cast<unsigned long long>(verify_records), static_cast<double>(verify_records) * 1000 / build_ms,
              static_cast<double>(rep->records) * 1000 / verify_ms, verify_ms);

  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return ratio <= 1.10 && chain_rate >= 50000 ? 0 : 2;
}
