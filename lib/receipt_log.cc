#include "lib/receipt_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <system_error>
#include <thread>
#include <set>

#include "lib/fsutil.h"
#include "lib/receipt_key.h"

namespace gx {
namespace {

using nlohmann::json;

using Fd = fs::UniqueFd;  // closing also drops its flock

Decision unavailable(const std::string& what, int err) {
  return Decision::deny(DenyReason::LogUnavailable, what + ": " + fs::errno_text(err));
}

Decision lock(int fd, int how) {
  if (int err = fs::flock_retrying(fd, how); err != 0) return unavailable("cannot lock the receipt log", err);
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

using Tail = detail::LogTail;

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
  int version = kReceiptHeadVersion;  // 0: the unversioned head of earlier gx (read, never written)
  uint64_t count = 0;
  std::string hash = std::string(kGenesisHash);
  uint64_t offset = 0;
};

Result<Head> parse_head(std::string_view text) {
  auto bad = [](const std::string& why) { return Decision::deny(DenyReason::Malformed, "receipts.head " + why); };
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("is not a JSON object (garbled)");
  Head h;
  std::set<std::string> keys = {"count", "hash", "offset"};
  if (j.contains("version")) {
    if (!j["version"].is_number_unsigned() || j["version"].get<uint64_t>() != kReceiptHeadVersion)
      return bad("has an unsupported version");
    keys.insert("version");
  } else {
    h.version = 0;
  }
  for (const auto& [k, v] : j.items())
    if (!keys.count(k)) return bad("has an unknown field '" + k + "'");
  if (!j.contains("count") || !j.contains("hash") || !j.contains("offset") || !j["count"].is_number_unsigned() ||
      !j["hash"].is_string() || !j["offset"].is_number_unsigned())
    return bad("lacks count, hash or offset");
  h.count = j["count"].get<uint64_t>();
  h.hash = j["hash"].get<std::string>();
  h.offset = j["offset"].get<uint64_t>();
  if (!crypto::is_hex_sha256(h.hash)) return bad("hash is not a hex SHA-256");
  return h;
}

// What a reader found at receipts.head.
struct HeadRead {
  bool exists = false;
  std::optional<Head> head;  // set when exists and valid
  std::string problem;       // set when exists and not valid (symlink, FIFO, garbled, ...)
};

HeadRead read_head(const fs::OpenDir& dir) {
  auto text = fs::read_in_dir(dir, kReceiptHeadFile, 4096);
  if (!text) return HeadRead{true, std::nullopt, text.error().detail};
  if (!*text) return HeadRead{};
  auto h = parse_head(**text);
  if (!h) return HeadRead{true, std::nullopt, h.error().detail};
  return HeadRead{true, h.take(), ""};
}

std::string head_text(const Head& h) {
  std::string text = canonical_dump(
      json{{"version", kReceiptHeadVersion}, {"count", h.count}, {"hash", h.hash}, {"offset", h.offset}});
  if (text.size() < 255) text.resize(255, ' ');
  return text + '\n';
}

// The head file is rewritten in place after the log is durable, without
// fsync: it can lag behind the log (a crash), never run ahead of it, and it
// is only ever compared with the log. Padded to a fixed size so a shorter
// rewrite leaves no stale bytes. The descriptor was opened (and checked to
// be a regular file) before the log was touched.
Decision write_head(int fd, const Head& h) {
  const std::string text = head_text(h);
  if (pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    return Decision::deny(DenyReason::LogUnavailable, "cannot write receipts.head: " + fs::errno_text(errno));
  return Decision::allow();
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
  int fd = -1;    // -1: there is no receipts.log
  off_t size = 0;
  HeadRead head;  // read under the same lock: consistent with size
};
Result<Snapshot> snapshot(const fs::OpenDir& dir) {
  const std::string log_path = dir.path + "/" + std::string(kReceiptLogFile);
  struct stat lst {};
  if (fstatat(dir.fd.get(), std::string(kReceiptLogFile).c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
    return Snapshot{-1, 0, read_head(dir)};
  auto opened = fs::open_in_dir(dir, kReceiptLogFile, O_RDONLY);
  if (!opened) return Decision::deny(DenyReason::IoError, opened.error().detail, "file", log_path);
  int fd = opened->release();
  if (Decision d = lock(fd, LOCK_SH); !d) {
    close(fd);
    return Decision::deny(DenyReason::IoError, d.detail);
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Decision::deny(DenyReason::IoError, "cannot stat " + log_path + ": " + fs::errno_text(errno));
  }
  Snapshot snap{fd, st.st_size, read_head(dir)};
  flock(fd, LOCK_UN);
  return snap;
}

bool exists_in(const fs::OpenDir& dir, std::string_view name) {
  struct stat st {};
  return fstatat(dir.fd.get(), std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

std::string host_name() { return receipt_for_this_process().host; }

// Index of the first job whose signature does not verify (jobs.size() when
// all do). Uses every core: ECDSA verification is what verify spends its time
// on. Falls back to this thread alone if threads cannot be started.
// Runs f(0..count-1) on up to 8 threads (this one included); falls back to
// this thread alone if threads cannot be started.
template <class F>
void parallel_for(size_t count, F f) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < count;) f(i);
  };
  std::vector<std::thread> helpers;
  const unsigned cores = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  try {
    for (unsigned t = 1; t < cores && count > 1; ++t) helpers.emplace_back(work);
  } catch (const std::system_error&) {
    // fewer helpers; `work` below still covers every index
  }
  work();
  for (auto& h : helpers) h.join();
}

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

ReceiptLog::ReceiptLog(fs::OpenDir dir, ReceiptLogOptions options, crypto::PrivateKey key)
    : dir_(std::move(dir)), options_(std::move(options)), key_(std::move(key)) {}

Result<ReceiptLog> ReceiptLog::open(const std::string& state_dir, const ReceiptLogOptions& options) {
  if (state_dir.empty()) return Decision::deny(DenyReason::LogUnavailable, "no state directory given");
  // Whoever can write the directory (or swap an ancestor) can swap the log,
  // head or key files: one check for every state file (fsutil.h).
  auto opened = fs::open_private_dir(state_dir, true);
  if (!opened)
    return Decision::deny(DenyReason::LogUnavailable, "state directory unusable: " + opened.error().detail, "state",
                          opened.error().value.empty() ? state_dir : opened.error().value);
  fs::OpenDir dir = opened.take();
  const std::string log_path = dir.path + "/" + std::string(kReceiptLogFile);
  const bool log_exists = exists_in(dir, kReceiptLogFile);
  const bool own_key = options.receipt_key.empty();
  auto key_missing = [&] {
    return Decision::deny(DenyReason::LogUnavailable,
                          "receipt.key is missing but " + log_path +
                              " holds receipts signed with it: restore the key (gx never signs an existing log "
                              "with a new key)",
                          "receipt-key", dir.path + "/" + std::string(kReceiptKeyFile));
  };

  if (!log_exists) {
    // The key is only ever created after the log: a key without a log means
    // the log was deleted, not that this is a fresh directory.
    // (Re-check the log: a concurrent first user may have just created the
    // log and then its key.)
    if (own_key && exists_in(dir, kReceiptKeyFile) && !exists_in(dir, kReceiptLogFile))
      return Decision::deny(DenyReason::LogTampered,
                            "receipt.key exists but receipts.log is missing (deleted?): restore the log, or move the "
                            "state directory away to start a new one deliberately",
                            "state", dir.path);
    HeadRead h = read_head(dir);
    if (h.exists && (!h.head || h.head->count > 0)) {
      // Re-check the log: a concurrent first user may have created it and
      // appended (moving the head on) since our first look.
      if (!exists_in(dir, kReceiptLogFile))
        return Decision::deny(DenyReason::LogTampered,
                              "receipts.log is missing but receipts.head records receipts (" +
                                  (h.head ? std::to_string(h.head->count) : h.problem) + ")",
                              "state", dir.path);
      // Its receipts are signed with its key, created before the first one.
      if (own_key && !exists_in(dir, kReceiptKeyFile)) return key_missing();
    }
    // Head first, then the log: from here on a missing head means tampering.
    // Overwrite::No: of concurrent first users exactly one writes it.
    if (!h.exists) {
      Decision w = fs::write_file_atomic(dir.path + "/" + std::string(kReceiptHeadFile), head_text(Head{}), 0600,
                                         fs::Overwrite::No);
      if (!w && !exists_in(dir, kReceiptHeadFile)) return Decision::deny(DenyReason::LogUnavailable, w.explain());
    }
    auto created = fs::open_in_dir(dir, kReceiptLogFile, O_RDWR | O_APPEND | O_CREAT, 0600);
    if (!created) return Decision::deny(DenyReason::LogUnavailable, created.error().detail, "state", dir.path);
    // The new directory entries must be durable before any receipt relies on them.
    if (fsync(dir.fd.get()) != 0) return unavailable("cannot sync " + dir.path, errno);
  } else if (own_key && !exists_in(dir, kReceiptKeyFile)) {
    // A log that exists keeps its key: never start signing it with a new one.
    auto fd = fs::open_in_dir(dir, kReceiptLogFile, O_RDONLY);
    if (!fd) return Decision::deny(DenyReason::LogUnavailable, fd.error().detail, "state", dir.path);
    struct stat st {};
    // (A concurrent first user creates the key before its first receipt:
    // a key that appeared meanwhile is that one.)
    if ((fstat(fd->get(), &st) != 0 || st.st_size > 0) && !exists_in(dir, kReceiptKeyFile))
      return key_missing();
  }
  auto key = load_or_create_receipt_key(dir.path, options.receipt_key);
  if (!key) return key.error();
  ReceiptLog log(std::move(dir), options, key.take());
  // Fail at open, not at the first receipt, when the log cannot be written.
  auto fd = fs::open_in_dir(log.dir_, kReceiptLogFile, O_RDWR | O_APPEND);
  if (!fd) return Decision::deny(DenyReason::LogUnavailable, fd.error().detail, "state", log.dir_.path);
  return log;
}

Result<ReceiptLog::Prepared> ReceiptLog::prepare() const {
  const std::string log_path = path(kReceiptLogFile);
  Prepared p;
  {
    auto fd = fs::open_in_dir(dir_, kReceiptLogFile, O_RDWR | O_APPEND);
    if (!fd) return Decision::deny(DenyReason::LogUnavailable, fd.error().detail, "state", dir_.path);
    p.log = std::move(*fd);
  }
  if (Decision d = lock(p.log.get(), LOCK_EX); !d) return d;
  struct stat st {};
  if (fstat(p.log.get(), &st) != 0) return unavailable("cannot stat " + log_path, errno);

  auto tail = read_tail(p.log.get(), st.st_size);
  if (!tail) return tail.error();
  p.tail = tail.take();
  if (!p.tail.last_line.empty()) {
    json last = json::parse(p.tail.last_line, nullptr, false);
    if (last.is_discarded() || !last.is_object() || !last.contains("seq") || !last["seq"].is_number_unsigned())
      return Decision::deny(DenyReason::LogTampered,
                            "the receipt log's last complete line is not a receipt; run gx log verify");
    p.count = last["seq"].get<uint64_t>();
    p.prev = receipt_leaf_hash(p.tail.last_line);
    // A log keeps its key: appending with another one would make every
    // later receipt unverifiable with the log's key.
    const std::string mine = key_.public_key().key_id();
    if (!last.contains("key_id") || !last["key_id"].is_string() || last["key_id"].get<std::string>() != mine)
      return Decision::deny(DenyReason::LogUnavailable,
                            "the receipt log is signed by key " +
                                (last.contains("key_id") && last["key_id"].is_string()
                                     ? last["key_id"].get<std::string>()
                                     : std::string("?")) +
                                ", not by the receipt key in use (" + mine +
                                "): restore the log's key or pass it with --receipt-key",
                            "receipt-key", options_.receipt_key.empty() ? path(kReceiptKeyFile) : options_.receipt_key);
  }

  // The head: opened (and checked: no link, no FIFO) before anything is
  // written, so a head that cannot be kept stops the append up front.
  const bool head_exists = exists_in(dir_, kReceiptHeadFile);
  if (!head_exists && st.st_size > 0)
    return Decision::deny(DenyReason::LogTampered, "receipts.head is missing but the log holds " +
                                                       std::to_string(p.count) +
                                                       " receipts: the log may have been truncated; run gx log verify");
  auto hfd = fs::open_in_dir(dir_, kReceiptHeadFile, O_RDWR | O_CREAT, 0600);
  if (!hfd) return Decision::deny(DenyReason::LogTampered, "receipts.head refused: " + hfd.error().detail, "state",
                                  path(kReceiptHeadFile));
  p.head_fd = std::move(*hfd);
  if (head_exists) {
    std::string text(4097, '\0');
    ssize_t n = pread(p.head_fd.get(), text.data(), text.size(), 0);
    if (n < 0) return unavailable("cannot read receipts.head", errno);
    text.resize(static_cast<size_t>(n));
    auto head = parse_head(text);
    if (!head)
      return Decision::deny(DenyReason::LogTampered, head.error().detail + "; run gx log verify", "state",
                            path(kReceiptHeadFile));
    if (head->count > p.count)
      return Decision::deny(DenyReason::LogTampered, "receipts.head records " + std::to_string(head->count) +
                                                         " receipts but the log ends at " + std::to_string(p.count) +
                                                         ": receipts were removed");
    if (head->count == p.count && (head->hash != p.prev || head->offset != static_cast<uint64_t>(p.tail.complete_end)))
      return Decision::deny(DenyReason::LogTampered,
                            "the log's last receipt differs from the one receipts.head records: the log was rewritten");
  }
  return p;
}

Decision ReceiptLog::preflight() const {
  auto p = prepare();
  return p ? Decision::allow() : p.error();
}

Result<AppendedReceipt> ReceiptLog::append(Receipt r, ReceiptSync sync, const BeforeWrite& before_write) {
  const std::string log_path = path(kReceiptLogFile);
  auto prepared = prepare();
  if (!prepared) return prepared.error();
  Prepared& p = *prepared;
  const int fd = p.log.get();
  uint64_t count = p.count;
  std::string prev = p.prev;

  // Writes one record; on any failure the log is cut back to `at`.
  off_t end = p.tail.complete_end;
  auto write_record = [&](Receipt& rec) -> Decision {
    auto id = crypto::random_hex(16);
    if (!id) return Decision::deny(DenyReason::LogUnavailable, id.error().detail);
    // Every decision leaves a receipt: over-long fields are cut (keeping
    // their length and SHA-256) rather than the receipt refused.
    rec.bound_fields();
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
    Decision w = write_all(fd, line + "\n");
    if (w && sync == ReceiptSync::Now && fdatasync(fd) != 0) w = unavailable("cannot sync the receipt log", errno);
    if (!w) {
      // Best effort: remove a partial line now rather than leave a tear.
      if (ftruncate(fd, end) == 0) fdatasync(fd);
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

  if (!p.tail.torn.empty()) {
    // Keep the torn bytes (evidence), then cut them off, then say so in the chain.
    json note = {{"time", format_receipt_time(now_unix_us())},
                 {"offset", static_cast<uint64_t>(p.tail.torn_offset)},
                 {"length", p.tail.torn.size()},
                 {"sha256", crypto::sha256_hex(p.tail.torn)},
                 {"bytes_b64", crypto::base64_encode(p.tail.torn)}};
    const std::string torn_path = path(kReceiptTornFile);
    auto tfd = fs::open_in_dir(dir_, kReceiptTornFile, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (!tfd) return Decision::deny(DenyReason::LogUnavailable, tfd.error().detail, "state", torn_path);
    if (Decision d = write_all(tfd->get(), canonical_dump(note) + "\n"); !d) return d;
    if (fdatasync(tfd->get()) != 0) return unavailable("cannot sync " + torn_path, errno);
    if (ftruncate(fd, p.tail.complete_end) != 0 || fdatasync(fd) != 0)
      return unavailable("cannot truncate the torn tail of " + log_path, errno);
    Receipt recovered = receipt_for_this_process();
    recovered.decision = ReceiptKind::Recovered;
    recovered.reason = std::string(reason_code(DenyReason::IoError));
    recovered.detail = "torn final record of " + std::to_string(p.tail.torn.size()) + " bytes at offset " +
                       std::to_string(p.tail.torn_offset) + " (sha256 " + note["sha256"].get<std::string>() +
                       ") moved to " + std::string(kReceiptTornFile);
    if (Decision d = write_record(recovered); !d) return d;
  }

  if (before_write) {
    if (Decision d = before_write(LogPosition{count + 1, static_cast<uint64_t>(end), prev, fd}); !d) return d;
  }
  if (Decision d = write_record(r); !d) return d;
  // The receipt is durable: a head that fails to update only lags (which
  // verify and the next append accept), so this is not an append failure.
  // Not yet durable (Deferred, Lazy): the head must not run ahead of it.
  if (sync == ReceiptSync::Now)
    (void)write_head(p.head_fd.get(), Head{kReceiptHeadVersion, count, prev, static_cast<uint64_t>(end)});
  AppendedReceipt appended{r.id, r.seq, prev, static_cast<uint64_t>(end), nullptr};
  if (sync == ReceiptSync::Deferred) {
    // sync() must flush this description (AppendedReceipt::written_through):
    // keep it, without its lock (held by the description, not the fd).
    flock(fd, LOCK_UN);
    appended.written_through = std::make_shared<const fs::UniqueFd>(std::move(p.log));
  }
  return appended;
}

Decision ReceiptLog::sync(const AppendedReceipt& appended) const {
  if (!appended.written_through)
    return Decision::deny(DenyReason::LogUnavailable, "internal: sync() of a receipt not appended with ReceiptSync::Deferred");
  if (fdatasync(appended.written_through->get()) != 0) return unavailable("cannot sync the receipt log", errno);
  auto fd = fs::open_in_dir(dir_, kReceiptLogFile, O_RDWR | O_APPEND);
  if (!fd) return Decision::allow();  // durable; the head only lags
  // Durable now. Advancing the head is best effort, as in append().
  if (Decision d = lock(fd->get(), LOCK_EX); !d) return Decision::allow();
  auto hfd = fs::open_in_dir(dir_, kReceiptHeadFile, O_RDWR);
  if (!hfd) return Decision::allow();
  std::string text(4097, '\0');
  ssize_t n = pread(hfd->get(), text.data(), text.size(), 0);
  if (n <= 0) return Decision::allow();
  text.resize(static_cast<size_t>(n));
  auto head = parse_head(text);
  if (head && head->count < appended.line)
    (void)write_head(hfd->get(), Head{kReceiptHeadVersion, appended.line, appended.hash, appended.end});
  return Decision::allow();
}

Result<VerifyReport> ReceiptLog::verify(const std::optional<Checkpoint>& checkpoint) const {
  return verify_receipt_log(dir_.path, key_.public_key(), checkpoint);
}

Result<Checkpoint> ReceiptLog::checkpoint() const {
  // Chain mode (LogVerifyOptions): the chain and the last receipt's
  // signature vouch for every receipt, as every signature would.
  auto report = verify_receipt_log(dir_.path, key_.public_key(), std::nullopt, LogVerifyOptions{});
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

Result<ScanEnd> scan_receipts(int fd, const std::string& path, uint64_t from, uint64_t to, const ScanEnd& after,
                              const std::function<void(const ScannedReceipt&)>& each) {
  ScanEnd at = after;
  uint64_t pos = from;
  auto bad = [&](const std::string& why) {
    return Decision::deny(DenyReason::LogTampered,
                          path + " at byte " + std::to_string(pos) + " (seq " + std::to_string(at.seq + 1) + "): " + why +
                              "; run gx log verify",
                          "file", path);
  };
  std::string buf, line;
  constexpr size_t kChunk = 256 * 1024;
  uint64_t buf_at = from;  // file offset of buf[0]
  size_t used = 0;         // bytes of buf consumed
  while (pos < to) {
    // The next line: [pos, newline).
    size_t nl = buf.find('\n', used);
    while (nl == std::string::npos) {
      if (buf_at + buf.size() >= to) return bad("incomplete line before byte " + std::to_string(to));
      buf.erase(0, used);
      buf_at += used;
      used = 0;
      if (buf.size() > kReceiptMaxLineBytes) return bad("line longer than " + std::to_string(kReceiptMaxLineBytes) + " bytes");
      size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, to - buf_at - buf.size()));
      size_t old = buf.size();
      buf.resize(old + want);
      if (!pread_all(fd, buf.data() + old, want, static_cast<off_t>(buf_at + old)))
        return Decision::deny(DenyReason::LogUnavailable, "cannot read " + path + ": " + fs::errno_text(errno));
      nl = buf.find('\n', old);
    }
    line.assign(buf, used, nl - used);
    json j = parse_receipt_line(line);
    if (j.is_discarded()) return bad("not valid JSON (or nested deeper than " + std::to_string(kReceiptMaxDepth) + " levels)");
    if (canonical_dump(j) != line) return bad("not in canonical form");
    auto rec = Receipt::from_json(j);
    if (!rec) return bad("not a valid receipt: " + rec.error().explain());
    if (rec->seq != at.seq + 1) return bad("sequence number " + std::to_string(rec->seq));
    if (rec->prev != at.hash) return bad("hash link to the previous receipt is broken");
    at.seq = rec->seq;
    at.hash = receipt_leaf_hash(line);
    each(ScannedReceipt{rec->seq, rec->decision, rec->artifact_digest});
    used = nl + 1;
    pos = buf_at + used;
  }
  return at;
}

Result<ScanEnd> scan_receipt_log(const fs::OpenDir& state, uint64_t from, const ScanEnd& after,
                                 const std::function<void(const ScannedReceipt&)>& each) {
  const std::string log_path = state.path + "/" + std::string(kReceiptLogFile);
  auto snap = snapshot(state);
  if (!snap) return snap.error();
  Fd fd(snap->fd);
  off_t end = 0;
  if (snap->fd >= 0) {
    auto tail = read_tail(fd.get(), snap->size);
    if (!tail) return tail.error();
    end = tail->complete_end;
  }
  if (static_cast<uint64_t>(end) < from)
    return Decision::deny(DenyReason::LogTampered,
                          log_path + " ends at byte " + std::to_string(end) + ", before byte " + std::to_string(from) +
                              " that the use store records as durable: the log was truncated",
                          "file", log_path);
  return scan_receipts(fd.get(), log_path, from, static_cast<uint64_t>(end), after, each);
}

namespace {

// Incremental verification: the receipt with seq == count, found by binary
// search over byte offsets (seq grows by one per line in an intact log; a
// log where it does not cannot yield a line whose hash is the checkpoint's).
// Returns the offset just past that line's "\n" and the line, or nullopt.
struct FoundLine {
  off_t end = 0;
  std::string line;
};
std::optional<FoundLine> find_receipt_line(int fd, off_t size, uint64_t count) {
  // The first complete line starting at or after `off`.
  auto line_from = [&](off_t off) -> std::optional<std::pair<off_t, std::string>> {
    off_t start = off;
    if (off > 0) {  // skip to just after the first "\n" at or after off - 1
      off_t p = off - 1;
      for (;;) {
        char chunk[4096];
        ssize_t n = pread(fd, chunk, sizeof chunk, p);
        if (n <= 0) return std::nullopt;
        const char* nl = static_cast<const char*>(std::memchr(chunk, '\n', static_cast<size_t>(n)));
        if (nl) {
          start = p + (nl - chunk) + 1;
          break;
        }
        p += n;
      }
    }
    std::string line;
    for (off_t p = start;;) {
      char chunk[8192];
      ssize_t n = pread(fd, chunk, sizeof chunk, p);
      if (n <= 0) return std::nullopt;  // no complete line
      const char* nl = static_cast<const char*>(std::memchr(chunk, '\n', static_cast<size_t>(n)));
      line.append(chunk, nl ? static_cast<size_t>(nl - chunk) : static_cast<size_t>(n));
      if (line.size() > kReceiptMaxLineBytes) return std::nullopt;
      if (nl) return std::make_pair(start, std::move(line));
      p += n;
    }
  };
  off_t lo = 0, hi = size;
  while (lo < hi) {
    off_t mid = lo + (hi - lo) / 2;
    auto l = line_from(mid);
    if (!l) {
      hi = mid;
      continue;
    }
    json j = json::parse(l->second, nullptr, false);
    if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned()) return std::nullopt;
    uint64_t seq = j["seq"].get<uint64_t>();
    off_t end = l->first + static_cast<off_t>(l->second.size()) + 1;
    if (seq == count) return FoundLine{end, std::move(l->second)};
    if (seq < count) lo = end;
    else hi = mid;
  }
  return std::nullopt;
}

}  // namespace

Result<VerifyReport> verify_receipt_log(const std::string& state_dir, const crypto::PublicKey& key,
                                        const std::optional<Checkpoint>& checkpoint) {
  LogVerifyOptions all;
  all.all_signatures = true;
  return verify_receipt_log(state_dir, key, checkpoint, all);
}

Result<VerifyReport> verify_receipt_log(const std::string& state_dir, const crypto::PublicKey& key,
                                        const std::optional<Checkpoint>& checkpoint, const LogVerifyOptions& mode) {
  if (mode.incremental && !checkpoint)
    return Decision::deny(DenyReason::Usage, "incremental verification starts from a checkpoint", "checkpoint");
  if (checkpoint && !checkpoint->signature_valid(key))
    return Decision::deny(DenyReason::InvalidSignature, "the checkpoint's signature does not verify with the receipt key",
                          "checkpoint");
  auto dir = fs::open_dir_readonly(state_dir);
  if (!dir) return dir.error();
  const std::string log_path = dir->path + "/" + std::string(kReceiptLogFile);
  auto snap = snapshot(*dir);
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
  uint64_t last_line = 0;   // chain mode: the last receipt read, whose signature is checked at the end
  std::string last_text;    // its line
  off_t read_limit = snap->size;
  if (mode.incremental && snap->fd >= 0 && checkpoint->count > 0) {
    auto found = find_receipt_line(fd.get(), snap->size, checkpoint->count);
    if (!found)
      return fail(checkpoint->count, "no receipt with seq " + std::to_string(checkpoint->count) + " (the checkpoint of " +
                                         checkpoint->time + " covers it: the log was truncated or rewritten)");
    if (receipt_leaf_hash(found->line) != checkpoint->head)
      return fail(checkpoint->count, "differs from the checkpoint of " + checkpoint->time +
                                         " (the log was rewritten at or before this line)");
    if (lseek(fd.get(), found->end, SEEK_SET) != found->end)
      return Decision::deny(DenyReason::IoError, "cannot seek in " + log_path);
    n = checkpoint->count;
    chain_head = checkpoint->head;
    rep.records = n;
    rep.head = chain_head;
    rep.first_checked = n + 1;
    rep.checkpoint_matched = true;
    read_limit = snap->size - found->end;
  }
  constexpr size_t kBatch = 512;

  // Applies a batch; returns a failure to report, if any.
  auto flush = [&]() -> std::optional<Failure> {
    size_t bad = jobs.size();
    if (mode.all_signatures) {
      bad = first_bad_signature(key, jobs);
      rep.signatures_checked += bad < jobs.size() ? bad + 1 : jobs.size();
    } else if (!jobs.empty()) {
      last_line = jobs.back().line;
    }
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

  LineReader reader(fd.get(), read_limit);
  // Each batch of lines: the checks that need only the line itself (JSON,
  // canonical form, receipt schema, signature encoding, leaf hash) run on
  // all cores; then, in log order, the ones that link lines (seq, prev,
  // key, checkpoint). The first failure in log order is still the one
  // reported, with the same reason as a line-by-line pass.
  struct Line {
    std::string text;
    bool terminated = false, too_long = false;
    std::optional<std::string> why;  // line-local failure
    bool torn = false;
    Receipt rec;
    std::string sig, body, hash;
    bool sig_ok = false;
  };
  std::vector<Line> batch;
  bool eof = false;
  while (!pending && !eof) {
    batch.clear();
    while (batch.size() < kBatch) {
      Line l;
      if (!reader.next(l.text, l.terminated, l.too_long)) {
        eof = true;
        break;
      }
      bool last = l.too_long || !l.terminated;
      batch.push_back(std::move(l));
      if (last) break;  // a failure anyway: nothing after it is read
    }
    parallel_for(batch.size(), [&](size_t i) {
      Line& l = batch[i];
      if (l.too_long) {
        l.why = "longer than " + std::to_string(kReceiptMaxLineBytes) + " bytes";
        return;
      }
      if (!l.terminated) {
        l.why = "incomplete final record of " + std::to_string(l.text.size()) +
                " bytes (torn write; the next append moves it to " + std::string(kReceiptTornFile) + ")";
        l.torn = true;
        return;
      }
      json j = parse_receipt_line(l.text);
      if (j.is_discarded()) {
        l.why = "not valid JSON (or nested deeper than " + std::to_string(kReceiptMaxDepth) + " levels)";
        return;
      }
      if (canonical_dump(j) != l.text) {
        l.why = "not in canonical form (bytes were changed)";
        return;
      }
      auto rec = Receipt::from_json(j);
      if (!rec) {
        l.why = "not a valid receipt: " + rec.error().explain();
        return;
      }
      l.rec = rec.take();
      auto sig = crypto::base64_decode(l.rec.sig);
      l.sig_ok = sig.ok();
      if (sig) l.sig = sig.take();
      l.hash = receipt_leaf_hash(l.text);
      if (mode.all_signatures) {
        j.erase("sig");
        l.body = canonical_dump(j);
      }
    });
    for (Line& l : batch) {
      ++n;
      auto linked = [&]() -> std::optional<Failure> {
        if (l.why) return Failure{n, *l.why, l.torn};
        if (l.rec.seq != n)
          return Failure{n,
                         "sequence number " + std::to_string(l.rec.seq) + " where " + std::to_string(n) +
                             " was expected (a receipt was deleted, duplicated or reordered)",
                         false};
        if (l.rec.prev != chain_head) return Failure{n, "hash link to the previous receipt is broken", false};
        if (l.rec.key_id != key_id)
          return Failure{n, "signed by key " + l.rec.key_id + ", not the receipt key " + key_id, false};
        if (!l.sig_ok) return Failure{n, "signature is not canonical base64", false};
        chain_head = l.hash;
        bool at_checkpoint = checkpoint && checkpoint->count == n;
        if (!mode.all_signatures) last_text = l.text;
        jobs.push_back(SigJob{n, std::move(l.body), std::move(l.sig), chain_head, at_checkpoint});
        if (at_checkpoint && checkpoint->head != chain_head)
          return Failure{n,
                         "differs from the checkpoint of " + checkpoint->time +
                             " (the log was rewritten at or before this line)",
                         false};
        return std::nullopt;
      };
      pending = linked();
      if (pending) break;
    }
    if (auto f = flush()) {
      rep.torn_tail = f->torn;
      return fail(f->line, f->why);
    }
  }
  if (auto f = flush()) {
    rep.torn_tail = f->torn;
    return fail(f->line, f->why);
  }
  if (reader.failed()) return Decision::deny(DenyReason::IoError, "cannot read " + log_path);
  if (!mode.all_signatures && last_line > 0) {
    // The last receipt's signature covers its `prev`, hence the whole chain.
    json j = parse_receipt_line(last_text);
    auto sig = crypto::base64_decode(j.value("sig", std::string()));
    j.erase("sig");
    ++rep.signatures_checked;
    if (!sig || !key.verify(crypto::kReceiptType, canonical_dump(j), *sig)) {
      rep.records = last_line - 1;
      return fail(last_line, "signature does not verify (chain mode checks the last receipt's signature, which "
                             "covers every earlier receipt; --all-signatures names the first bad one)");
    }
  }
  // The head is created before the log and never removed: a log without a
  // valid head lost it (truncation hidden by deleting or garbling the head).
  const HeadRead& head = snap->head;
  if (!head.exists && snap->fd >= 0)
    return fail(rep.records + 1, "receipts.head is missing (it exists whenever receipts.log does): the log may "
                                 "have been truncated");
  if (!head.exists && snap->fd < 0 && exists_in(*dir, kReceiptKeyFile))
    return fail(1, "receipts.log is missing but receipt.key exists (the log was deleted)");
  if (head.exists && !head.head) return fail(rep.records + 1, head.problem + " (the log may have been truncated)");
  if (head.head && head.head->count > rep.records)
    return fail(rep.records + 1, "missing: receipts.head records " + std::to_string(head.head->count) +
                                     " receipts (the log was truncated)");
  if (head.head && head.head->count == rep.records && head.head->hash != rep.head)
    return fail(rep.records, "differs from the last receipt receipts.head records (the log was rewritten)");
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
  auto dir = fs::open_dir_readonly(state_dir);
  if (!dir) return dir.error();
  const std::string log_path = dir->path + "/" + std::string(kReceiptLogFile);
  auto snap = snapshot(*dir);
  if (!snap) return snap.error();
  Fd fd(snap->fd);
  ReceiptListing out;
  std::deque<Receipt> kept;
  LineReader reader(fd.get(), snap->size);
  std::string line;
  bool terminated = false, too_long = false;
  while (reader.next(line, terminated, too_long)) {
    json j = too_long || !terminated ? json(nullptr) : parse_receipt_line(line);
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
