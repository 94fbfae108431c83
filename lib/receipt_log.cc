#include "lib/receipt_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>
#include <system_error>
#include <thread>
#include <set>

#include "lib/fsutil.h"
#include "lib/receipt_key.h"

namespace gx {
namespace {

using nlohmann::json;

// Owns one descriptor; closing also drops its flock.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

Decision unavailable(const std::string& what, int err) {
  return Decision::deny(DenyReason::LogUnavailable, what + ": " + fs::errno_text(err));
}

Decision lock(int fd, int how) {
  while (flock(fd, how) != 0) {
    if (errno != EINTR) return unavailable("cannot lock the receipt log", errno);
  }
  return Decision::allow();
}

Decision write_all(int fd, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return unavailable("cannot write the receipt log", errno);
    }
    off += static_cast<size_t>(n);
  }
  return Decision::allow();
}

bool pread_all(int fd, char* buf, size_t len, off_t at) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, buf + done, len - done, at + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Offset of the last '\n' strictly before `end`, reading backwards at most
// `limit` bytes; nullopt when the file start is reached first.
Result<std::optional<off_t>> last_newline_before(int fd, off_t end, size_t limit) {
  constexpr size_t kChunk = 64 * 1024;
  std::string buf;
  off_t pos = end;
  size_t scanned = 0;
  while (pos > 0) {
    if (scanned > limit)
      return Decision::deny(DenyReason::LogTampered,
                            "the receipt log's last " + std::to_string(scanned) + " bytes hold no complete receipt");
    size_t n = static_cast<size_t>(std::min<off_t>(pos, static_cast<off_t>(kChunk)));
    pos -= static_cast<off_t>(n);
    buf.resize(n);
    if (!pread_all(fd, buf.data(), n, pos)) return unavailable("cannot read the receipt log", errno);
    for (size_t i = n; i-- > 0;)
      if (buf[i] == '\n') return std::optional<off_t>(pos + static_cast<off_t>(i));
    scanned += n;
  }
  return std::optional<off_t>();
}

// The end of the log as an appender needs it.
struct Tail {
  off_t complete_end = 0;  // offset just past the last "\n"
  std::string last_line;   // last complete line without "\n" (empty: no records)
  off_t torn_offset = 0;   // bytes [torn_offset, size) lack a final "\n"
  std::string torn;
};

Result<Tail> read_tail(int fd, off_t size) {
  Tail t;
  auto nl = last_newline_before(fd, size, kReceiptMaxLineBytes + 1);
  if (!nl) return nl.error();
  t.complete_end = *nl ? **nl + 1 : 0;
  t.torn_offset = t.complete_end;
  if (t.complete_end < size) {
    t.torn.resize(static_cast<size_t>(size - t.complete_end));
    if (!pread_all(fd, t.torn.data(), t.torn.size(), t.complete_end))
      return unavailable("cannot read the receipt log", errno);
  }
  if (t.complete_end == 0) return t;
  auto prev_nl = last_newline_before(fd, t.complete_end - 1, kReceiptMaxLineBytes + 1);
  if (!prev_nl) return prev_nl.error();
  off_t start = *prev_nl ? **prev_nl + 1 : 0;
  t.last_line.resize(static_cast<size_t>(t.complete_end - 1 - start));
  if (!pread_all(fd, t.last_line.data(), t.last_line.size(), start))
    return unavailable("cannot read the receipt log", errno);
  return t;
}

struct Head {
  uint64_t count = 0;
  std::string hash = std::string(kGenesisHash);
  uint64_t offset = 0;
};

std::optional<Head> parse_head(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("count") || !j.contains("hash") || !j.contains("offset") ||
      !j["count"].is_number_unsigned() || !j["hash"].is_string() || !j["offset"].is_number_unsigned())
    return std::nullopt;
  return Head{j["count"].get<uint64_t>(), j["hash"].get<std::string>(), j["offset"].get<uint64_t>()};
}

std::optional<Head> read_head(const std::string& path) {
  auto text = fs::read_file(path, 4096);
  if (!text) return std::nullopt;
  return parse_head(*text);
}

// The head file is a hint, rewritten in place without fsync: it is only
// ever compared with the log, so a stale or torn copy costs a comparison,
// never a wrong chain. It is written after the log is durable, so it can lag
// behind the log but never run ahead of it. Padded to a fixed size so a
// shorter rewrite leaves no stale bytes.
void write_head(const std::string& path, const Head& h) {
  std::string text = canonical_dump(json{{"count", h.count}, {"hash", h.hash}, {"offset", h.offset}});
  if (text.size() < 255) text.resize(255, ' ');
  text += '\n';
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  ssize_t ignored = pwrite(fd, text.data(), text.size(), 0);
  (void)ignored;
  close(fd);
}

// Streams a file line by line with bounded memory.
class LineReader {
 public:
  explicit LineReader(int fd, off_t limit) : fd_(fd), remaining_(limit) {}
  // false at EOF. `terminated` says whether the line ended in "\n";
  // `too_long` whether it was cut at kReceiptMaxLineBytes.
  bool next(std::string& line, bool& terminated, bool& too_long) {
    line.clear();
    terminated = too_long = false;
    for (;;) {
      if (pos_ == buf_.size() && !fill()) return !line.empty();
      size_t nl = buf_.find('\n', pos_);
      size_t end = nl == std::string::npos ? buf_.size() : nl;
      // Keep at most one byte past the limit: enough to know it was exceeded.
      size_t room = line.size() <= kReceiptMaxLineBytes ? kReceiptMaxLineBytes + 1 - line.size() : 0;
      line.append(buf_, pos_, std::min(end - pos_, room));
      if (line.size() > kReceiptMaxLineBytes) too_long = true;
      pos_ = end;
      if (nl != std::string::npos) {
        ++pos_;
        terminated = true;
        return true;
      }
    }
  }
  bool failed() const { return failed_; }

 private:
  bool fill() {
    if (remaining_ <= 0) return false;
    buf_.resize(static_cast<size_t>(std::min<off_t>(remaining_, 1 << 20)));
    ssize_t n;
    do n = read(fd_, buf_.data(), buf_.size());
    while (n < 0 && errno == EINTR);
    if (n < 0) failed_ = true;
    if (n <= 0) {
      buf_.clear();
      pos_ = 0;
      return false;
    }
    buf_.resize(static_cast<size_t>(n));
    remaining_ -= n;
    pos_ = 0;
    return true;
  }
  int fd_;
  off_t remaining_;
  std::string buf_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// Opens the log read-only and returns its size under a shared lock: the
// bytes before that size are complete lines (appenders write whole lines
// under the exclusive lock) or a torn tail from a crash. The lock is not held
// while reading, so a long verify never blocks `gx run`.
struct Snapshot {
  int fd = -1;
  off_t size = 0;
  std::optional<Head> head;  // read under the same lock: consistent with size
};
Result<Snapshot> snapshot(const std::string& log_path, const std::string& head_path) {
  int fd = ::open(log_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return Snapshot{-1, 0, read_head(head_path)};
    return Decision::deny(DenyReason::IoError, "cannot open " + log_path + ": " + fs::errno_text(errno));
  }
  struct stat st {};
  if (Decision d = lock(fd, LOCK_SH); !d) {
    close(fd);
    return Decision::deny(DenyReason::IoError, d.detail);
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Decision::deny(DenyReason::IoError, log_path + " is not a regular file");
  }
  Snapshot snap{fd, st.st_size, read_head(head_path)};
  flock(fd, LOCK_UN);
  return snap;
}

std::string host_name() { return receipt_for_this_process().host; }

// Index of the first job whose signature does not verify (jobs.size() when
// all do). Uses every core: ECDSA verification is what verify spends its time
// on. Falls back to this thread alone if threads cannot be started.
template <class Job>
size_t first_bad_signature(const crypto::PublicKey& key, const std::vector<Job>& jobs) {
  std::vector<char> ok(jobs.size(), 0);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < jobs.size();)
      ok[i] = key.verify(crypto::kReceiptType, jobs[i].body, jobs[i].sig) ? 1 : 0;
  };
  std::vector<std::thread> helpers;
  const unsigned cores = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  try {
    for (unsigned t = 1; t < cores && jobs.size() > 1; ++t) helpers.emplace_back(work);
  } catch (const std::system_error&) {
    // fewer helpers; `work` below still covers every job
  }
  work();
  for (auto& h : helpers) h.join();
  for (size_t i = 0; i < jobs.size(); ++i)
    if (!ok[i]) return i;
  return jobs.size();
}

}  // namespace

// ---- Checkpoint ----

json Checkpoint::to_json() const {
  return json{{"version", version}, {"origin", origin}, {"count", count}, {"head", head},
              {"time", time},       {"key_id", key_id}, {"sig", sig}};
}

std::string Checkpoint::text() const { return canonical_dump(to_json()) + "\n"; }

std::string Checkpoint::signed_body() const {
  json j = to_json();
  j.erase("sig");
  return canonical_dump(j);
}

Result<Checkpoint> Checkpoint::parse(std::string_view text) {
  if (text.size() > kCheckpointMaxBytes) return Decision::deny(DenyReason::TooLarge, "checkpoint is too large");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Decision::deny(DenyReason::Malformed, "checkpoint is not a JSON object");
  static const std::set<std::string> keys = {"version", "origin", "count", "head", "time", "key_id", "sig"};
  for (const auto& [key, value] : j.items())
    if (!keys.count(key)) return Decision::deny(DenyReason::UnknownField, "unknown checkpoint field", key);
  for (const auto& key : keys)
    if (!j.contains(key)) return Decision::deny(DenyReason::MissingField, "checkpoint field missing", key);
  if (!j["version"].is_number_integer() || !j["count"].is_number_unsigned())
    return Decision::deny(DenyReason::WrongType, "checkpoint version/count must be integers", "count");
  for (const char* key : {"origin", "head", "time", "key_id", "sig"})
    if (!j[key].is_string()) return Decision::deny(DenyReason::WrongType, "checkpoint field is not a string", key);
  Checkpoint c;
  if (j["version"].get<int64_t>() != kCheckpointVersion)
    return Decision::deny(DenyReason::UnsupportedVersion, "checkpoint version is not supported", "version");
  c.count = j["count"].get<uint64_t>();
  c.origin = j["origin"].get<std::string>();
  c.head = j["head"].get<std::string>();
  c.time = j["time"].get<std::string>();
  c.key_id = j["key_id"].get<std::string>();
  c.sig = j["sig"].get<std::string>();
  if (!crypto::is_hex_sha256(c.head)) return Decision::deny(DenyReason::InvalidValue, "checkpoint head is not a hex SHA-256", "head");
  return c;
}

bool Checkpoint::signature_valid(const crypto::PublicKey& key) const {
  auto raw = crypto::base64_decode(sig);
  return raw && key.verify(crypto::kCheckpointType, signed_body(), *raw);
}

// ---- VerifyReport ----

Decision VerifyReport::decision() const {
  if (intact) return Decision::allow();
  return Decision::deny(DenyReason::LogTampered, "line " + std::to_string(bad_line) + ": " + problem);
}

// ---- ReceiptLog ----

ReceiptLog::ReceiptLog(std::string state_dir, ReceiptLogOptions options, crypto::PrivateKey key)
    : state_dir_(std::move(state_dir)), options_(std::move(options)), key_(std::move(key)) {}

Result<ReceiptLog> ReceiptLog::open(const std::string& state_dir, const ReceiptLogOptions& options) {
  if (state_dir.empty()) return Decision::deny(DenyReason::LogUnavailable, "no state directory given");
  const std::string dir = fs::absolute(state_dir);
  if (Decision d = fs::make_dirs(dir, 0700); !d)
    return Decision::deny(DenyReason::LogUnavailable, "state directory unusable: " + d.explain());
  // Whoever can write the directory can swap the log, head or key files.
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return Decision::deny(DenyReason::LogUnavailable, "state directory " + dir + " is writable by group or others",
                          "state", dir);
  auto key = load_or_create_receipt_key(dir, options.receipt_key);
  if (!key) return key.error();
  ReceiptLog log(dir, options, key.take());
  // Fail at open, not at the first receipt, when the log cannot be written.
  const std::string log_path = log.path(kReceiptLogFile);
  bool created = !fs::exists(log_path);
  Fd fd(::open(log_path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.ok()) return unavailable("cannot open " + log_path, errno);
  if (created) {
    // The new directory entry must be durable before any receipt relies on it.
    Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd.ok() || fsync(dfd.get()) != 0) return unavailable("cannot sync " + dir, errno);
  }
  return log;
}

Result<AppendedReceipt> ReceiptLog::append(Receipt r) {
  const std::string log_path = path(kReceiptLogFile);
  Fd fd(::open(log_path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.ok()) return unavailable("cannot open " + log_path, errno);
  if (Decision d = lock(fd.get(), LOCK_EX); !d) return d;
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return unavailable("cannot stat " + log_path, errno);
  if (!S_ISREG(st.st_mode)) return Decision::deny(DenyReason::LogUnavailable, log_path + " is not a regular file");

  auto tail = read_tail(fd.get(), st.st_size);
  if (!tail) return tail.error();
  uint64_t count = 0;
  std::string prev(kGenesisHash);
  if (!tail->last_line.empty()) {
    json last = json::parse(tail->last_line, nullptr, false);
    if (last.is_discarded() || !last.is_object() || !last.contains("seq") || !last["seq"].is_number_unsigned())
      return Decision::deny(DenyReason::LogTampered,
                            "the receipt log's last complete line is not a receipt; run gx log verify");
    count = last["seq"].get<uint64_t>();
    prev = receipt_leaf_hash(tail->last_line);
  }
  if (auto head = read_head(path(kReceiptHeadFile))) {
    if (head->count > count)
      return Decision::deny(DenyReason::LogTampered, "receipts.head records " + std::to_string(head->count) +
                                                         " receipts but the log ends at " + std::to_string(count) +
                                                         ": receipts were removed");
    if (head->count == count && (head->hash != prev || head->offset != static_cast<uint64_t>(tail->complete_end)))
      return Decision::deny(DenyReason::LogTampered,
                            "the log's last receipt differs from the one receipts.head records: the log was rewritten");
  }

  // Writes one record; on any failure the log is cut back to `at`.
  off_t end = tail->complete_end;
  auto write_record = [&](Receipt& rec) -> Decision {
    auto id = crypto::random_hex(16);
    if (!id) return Decision::deny(DenyReason::LogUnavailable, id.error().detail);
    rec.version = kReceiptVersionCurrent;
    rec.seq = count + 1;
    rec.id = *id;
    rec.time = format_receipt_time(now_unix_us());
    rec.prev = prev;
    rec.key_id = key_.public_key().key_id();
    rec.sig.clear();
    auto sig = key_.sign(crypto::kReceiptType, rec.signed_body());
    if (!sig) return Decision::deny(DenyReason::LogUnavailable, "cannot sign the receipt: " + sig.error().detail);
    rec.sig = crypto::base64_encode(*sig);
    std::string line = rec.line();
    if (line.size() > kReceiptMaxLineBytes)
      return Decision::deny(DenyReason::LogUnavailable,
                            "receipt of " + std::to_string(line.size()) + " bytes exceeds the limit");
    Decision w = write_all(fd.get(), line + "\n");
    if (w && fdatasync(fd.get()) != 0) w = unavailable("cannot sync the receipt log", errno);
    if (!w) {
      // Best effort: remove a partial line now rather than leave a tear.
      if (ftruncate(fd.get(), end) == 0) fdatasync(fd.get());
      return w;
    }
    ++count;
    prev = receipt_leaf_hash(line);
    end += static_cast<off_t>(line.size() + 1);
    if (options_.syslog) {
      openlog("gx", LOG_PID, LOG_AUTHPRIV);
      syslog(LOG_AUTHPRIV | LOG_INFO, "%s", line.c_str());
    }
    return Decision::allow();
  };

  if (!tail->torn.empty()) {
    // Keep the torn bytes (evidence), then cut them off, then say so in the chain.
    json note = {{"time", format_receipt_time(now_unix_us())},
                 {"offset", static_cast<uint64_t>(tail->torn_offset)},
                 {"length", tail->torn.size()},
                 {"sha256", crypto::sha256_hex(tail->torn)},
                 {"bytes_b64", crypto::base64_encode(tail->torn)}};
    const std::string torn_path = path(kReceiptTornFile);
    Fd tfd(::open(torn_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!tfd.ok()) return unavailable("cannot open " + torn_path, errno);
    if (Decision d = write_all(tfd.get(), canonical_dump(note) + "\n"); !d) return d;
    if (fdatasync(tfd.get()) != 0) return unavailable("cannot sync " + torn_path, errno);
    if (ftruncate(fd.get(), tail->complete_end) != 0 || fdatasync(fd.get()) != 0)
      return unavailable("cannot truncate the torn tail of " + log_path, errno);
    Receipt recovered = receipt_for_this_process();
    recovered.decision = ReceiptKind::Recovered;
    recovered.reason = std::string(reason_code(DenyReason::IoError));
    recovered.detail = "torn final record of " + std::to_string(tail->torn.size()) + " bytes at offset " +
                       std::to_string(tail->torn_offset) + " (sha256 " + note["sha256"].get<std::string>() +
                       ") moved to " + std::string(kReceiptTornFile);
    if (Decision d = write_record(recovered); !d) return d;
  }

  if (Decision d = write_record(r); !d) return d;
  write_head(path(kReceiptHeadFile), Head{count, prev, static_cast<uint64_t>(end)});
  return AppendedReceipt{r.id, r.seq, prev};
}

Result<VerifyReport> ReceiptLog::verify(const std::optional<Checkpoint>& checkpoint) const {
  return verify_receipt_log(state_dir_, key_.public_key(), checkpoint);
}

Result<Checkpoint> ReceiptLog::checkpoint() const {
  auto report = verify();
  if (!report) return report.error();
  if (!report->intact) return report->decision();
  Checkpoint c;
  c.origin = host_name();
  c.count = report->records;
  c.head = report->head;
  c.time = format_receipt_time(now_unix_us());
  c.key_id = key_.public_key().key_id();
  auto sig = key_.sign(crypto::kCheckpointType, c.signed_body());
  if (!sig) return sig.error();
  c.sig = crypto::base64_encode(*sig);
  return c;
}

// ---- read-only ----

Result<VerifyReport> verify_receipt_log(const std::string& state_dir, const crypto::PublicKey& key,
                                        const std::optional<Checkpoint>& checkpoint) {
  if (checkpoint && !checkpoint->signature_valid(key))
    return Decision::deny(DenyReason::InvalidSignature, "the checkpoint's signature does not verify with the receipt key",
                          "checkpoint");
  const std::string log_path = state_dir + "/" + std::string(kReceiptLogFile);
  auto snap = snapshot(log_path, state_dir + "/" + std::string(kReceiptHeadFile));
  if (!snap) return snap.error();
  Fd fd(snap->fd);

  VerifyReport rep;
  const std::string key_id = key.key_id();
  auto fail = [&](uint64_t line, std::string why) {
    rep.bad_line = line;
    rep.problem = std::move(why);
    return rep;
  };
  // Cheap checks run line by line; signatures (the cost) are checked in
  // batches on all cores. A batch ends at the first cheap failure, so the
  // report still names the first bad line in log order.
  struct SigJob {
    uint64_t line;
    std::string body, sig, hash;
    bool at_checkpoint;
  };
  struct Failure {
    uint64_t line;
    std::string why;
    bool torn;
  };
  std::vector<SigJob> jobs;
  std::optional<Failure> pending;
  uint64_t n = 0;
  std::string chain_head(kGenesisHash);
  constexpr size_t kBatch = 512;

  // Applies a batch; returns a failure to report, if any.
  auto flush = [&]() -> std::optional<Failure> {
    size_t bad = first_bad_signature(key, jobs);
    for (size_t i = 0; i < bad; ++i) {
      rep.records = jobs[i].line;
      rep.head = jobs[i].hash;
      if (jobs[i].at_checkpoint) rep.checkpoint_matched = true;
    }
    std::optional<Failure> out;
    if (bad < jobs.size()) out = Failure{jobs[bad].line, "signature does not verify", false};
    else out = pending;
    jobs.clear();
    return out;
  };

  LineReader reader(fd.get(), snap->size);
  std::string line;
  bool terminated = false, too_long = false;
  while (!pending && reader.next(line, terminated, too_long)) {
    ++n;
    auto cheap = [&]() -> std::optional<Failure> {
      if (too_long) return Failure{n, "longer than " + std::to_string(kReceiptMaxLineBytes) + " bytes", false};
      if (!terminated)
        return Failure{n,
                       "incomplete final record of " + std::to_string(line.size()) +
                           " bytes (torn write; the next append moves it to " + std::string(kReceiptTornFile) + ")",
                       true};
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded()) return Failure{n, "not valid JSON", false};
      if (canonical_dump(j) != line) return Failure{n, "not in canonical form (bytes were changed)", false};
      auto rec = Receipt::from_json(j);
      if (!rec) return Failure{n, "not a valid receipt: " + rec.error().explain(), false};
      if (rec->seq != n)
        return Failure{n,
                       "sequence number " + std::to_string(rec->seq) + " where " + std::to_string(n) +
                           " was expected (a receipt was deleted, duplicated or reordered)",
                       false};
      if (rec->prev != chain_head) return Failure{n, "hash link to the previous receipt is broken", false};
      if (rec->key_id != key_id)
        return Failure{n, "signed by key " + rec->key_id + ", not the receipt key " + key_id, false};
      auto sig = crypto::base64_decode(rec->sig);
      if (!sig) return Failure{n, "signature is not canonical base64", false};
      j.erase("sig");
      chain_head = receipt_leaf_hash(line);
      bool at_checkpoint = checkpoint && checkpoint->count == n;
      jobs.push_back(SigJob{n, canonical_dump(j), sig.take(), chain_head, at_checkpoint});
      if (at_checkpoint && checkpoint->head != chain_head)
        return Failure{n,
                       "differs from the checkpoint of " + checkpoint->time +
                           " (the log was rewritten at or before this line)",
                       false};
      return std::nullopt;
    };
    pending = cheap();
    if (pending || jobs.size() >= kBatch) {
      if (auto f = flush()) {
        rep.torn_tail = f->torn;
        return fail(f->line, f->why);
      }
    }
  }
  if (auto f = flush()) {
    rep.torn_tail = f->torn;
    return fail(f->line, f->why);
  }
  if (reader.failed()) return Decision::deny(DenyReason::IoError, "cannot read " + log_path);
  if (snap->head && snap->head->count > rep.records)
    return fail(rep.records + 1, "missing: receipts.head records " + std::to_string(snap->head->count) +
                                     " receipts (the log was truncated)");
  if (checkpoint) {
    if (checkpoint->count > rep.records)
      return fail(rep.records + 1, "missing: the checkpoint of " + checkpoint->time + " covers " +
                                       std::to_string(checkpoint->count) + " receipts (the log was truncated)");
    if (checkpoint->count == 0) {
      if (checkpoint->head != kGenesisHash) return fail(1, "the checkpoint of an empty log has a non-genesis head");
      rep.checkpoint_matched = true;
    }
  }
  rep.intact = true;
  return rep;
}

Result<ReceiptListing> read_receipt_log(const std::string& state_dir, const ReceiptFilter& filter) {
  const std::string log_path = state_dir + "/" + std::string(kReceiptLogFile);
  auto snap = snapshot(log_path, state_dir + "/" + std::string(kReceiptHeadFile));
  if (!snap) return snap.error();
  Fd fd(snap->fd);
  ReceiptListing out;
  std::deque<Receipt> kept;
  LineReader reader(fd.get(), snap->size);
  std::string line;
  bool terminated = false, too_long = false;
  while (reader.next(line, terminated, too_long)) {
    json j = too_long || !terminated ? json(nullptr) : json::parse(line, nullptr, false);
    auto rec = j.is_object() ? Receipt::from_json(j) : Result<Receipt>(Decision::deny(DenyReason::Malformed, "bad line"));
    if (!rec) {
      ++out.unreadable_lines;
      continue;
    }
    if (filter.denied_only && rec->decision != ReceiptKind::Denied) continue;
    if (!filter.artifact.empty() && rec->artifact_id.rfind(filter.artifact, 0) != 0 &&
        rec->artifact_digest.rfind(filter.artifact, 0) != 0)
      continue;
    if (filter.since_us) {
      auto t = parse_receipt_time(rec->time);
      if (!t || *t < *filter.since_us) continue;
    }
    kept.push_back(rec.take());
    if (filter.tail > 0 && kept.size() > filter.tail) kept.pop_front();
  }
  if (reader.failed()) return Decision::deny(DenyReason::IoError, "cannot read " + log_path);
  out.receipts.assign(std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
  return out;
}

}  // namespace gx
