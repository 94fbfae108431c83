#include "lib/receipt_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>

#include "lib/fsutil.h"
#include "lib/receipt_key.h"
#include "lib/receipt_lineage.h"

namespace gx {
namespace {

using fs::exists_in;
using nlohmann::json;
using receipt_file::Head;
using receipt_file::head_text;
using receipt_file::HeadRead;
using receipt_file::lock;
using receipt_file::new_log_id;
using receipt_file::parse_head;
using receipt_file::read_head;
using receipt_file::read_tail;
using receipt_file::unavailable;
using receipt_file::write_all;
using receipt_file::write_head;

std::string host_name() { return receipt_for_this_process().host; }

}  // namespace

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
      Head fresh;
      auto id = new_log_id();
      if (!id) return id.error();
      fresh.log_id = id.take();
      Decision w = fs::write_file_atomic(dir.path + "/" + std::string(kReceiptHeadFile), head_text(fresh), 0600,
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
    if ((fstat(fd->get(), &st) != 0 || st.st_size > 0) && !exists_in(dir, kReceiptKeyFile)) return key_missing();
  }
  auto key = load_or_create_receipt_key(dir.path, options.receipt_key);
  if (!key) return key.error();
  ReceiptLog log(std::move(dir), options, key.take());
  // Fail at open, not at the first receipt, when the log cannot be written.
  auto fd = fs::open_in_dir(log.dir_, kReceiptLogFile, O_RDWR | O_APPEND);
  if (!fd) return Decision::deny(DenyReason::LogUnavailable, fd.error().detail, "state", log.dir_.path);
  log.learn_end(fd->get());
  return log;
}

// Under a shared lock, taken only if free: an appender holds the exclusive
// one until its line is final (a write or sync that fails is cut back off
// before it lets go), so what is read here is never rolled back; busy, or
// torn, nothing is kept. What it reads may be overtaken (the size then
// differs at the append); errors are left to the append, which reads again.
void ReceiptLog::learn_end(int log_fd) {
  if (flock(log_fd, LOCK_SH | LOCK_NB) != 0) return;
  struct stat st {};
  std::optional<Result<receipt_file::LogTail>> tail;
  if (fstat(log_fd, &st) == 0) tail.emplace(read_tail(log_fd, st.st_size));
  flock(log_fd, LOCK_UN);
  if (!tail || !*tail || !(*tail)->torn.empty() || (*tail)->complete_end != st.st_size) return;
  KnownEnd end{st.st_dev, st.st_ino, st.st_size, 0, std::string(kGenesisHash)};
  if (const std::string& line = (*tail)->last_line; !line.empty()) {
    auto last = parse_last_line(line);
    if (!last) return;
    end.count = last->first;
    end.prev = std::move(last->second);
  }
  known_end_ = std::move(end);
}

Result<std::pair<uint64_t, std::string>> ReceiptLog::parse_last_line(const std::string& line) const {
  json last = json::parse(line, nullptr, false);
  if (last.is_discarded() || !last.is_object() || !last.contains("seq") || !last["seq"].is_number_unsigned())
    return Decision::deny(DenyReason::LogTampered,
                          "the receipt log's last complete line is not a receipt; run gx log verify");
  // A log keeps its key: appending with another one would make every
  // later receipt unverifiable with the log's key.
  const std::string mine = key_.public_key().key_id();
  if (!last.contains("key_id") || !last["key_id"].is_string() || last["key_id"].get<std::string>() != mine)
    return Decision::deny(DenyReason::LogUnavailable,
                          "the receipt log is signed by key " +
                              (last.contains("key_id") && last["key_id"].is_string() ? last["key_id"].get<std::string>()
                                                                                     : std::string("?")) +
                              ", not by the receipt key in use (" + mine +
                              "): restore the log's key or pass it with --receipt-key",
                          "receipt-key", options_.receipt_key.empty() ? path(kReceiptKeyFile) : options_.receipt_key);
  return std::pair<uint64_t, std::string>{last["seq"].get<uint64_t>(), receipt_leaf_hash(line)};
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
  p.dev = st.st_dev;
  p.ino = st.st_ino;

  if (known_end_ && known_end_->dev == st.st_dev && known_end_->ino == st.st_ino && known_end_->size == st.st_size) {
    p.tail.complete_end = st.st_size;  // no torn tail: one never is kept (learn_end)
    p.count = known_end_->count;
    p.prev = known_end_->prev;
  } else {
    auto tail = read_tail(p.log.get(), st.st_size);
    if (!tail) return tail.error();
    p.tail = tail.take();
    if (!p.tail.last_line.empty()) {
      auto last = parse_last_line(p.tail.last_line);
      if (!last) return last.error();
      p.count = last->first;
      p.prev = std::move(last->second);
    }
  }

  // The head: opened (and checked: no link, no FIFO) before anything is
  // written, so a head that cannot be kept stops the append up front.
  const bool head_exists = exists_in(dir_, kReceiptHeadFile);
  if (!head_exists && st.st_size > 0)
    return Decision::deny(DenyReason::LogTampered, "receipts.head is missing but the log holds " +
                                                       std::to_string(p.count) +
                                                       " receipts: the log may have been truncated; run gx log verify");
  auto hfd = fs::open_in_dir(dir_, kReceiptHeadFile, O_RDWR | O_CREAT, 0600);
  if (!hfd)
    return Decision::deny(DenyReason::LogTampered, "receipts.head refused: " + hfd.error().detail, "state",
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
    p.head = head.take();
  }
  return p;
}

Decision ReceiptLog::preflight() const {
  auto p = prepare();
  return p ? Decision::allow() : p.error();
}

Decision ReceiptLog::prepare_nonces(size_t n) {
  for (size_t i = 0; i < n; ++i) {
    auto nonce = key_.prepare_nonce();
    if (!nonce) return nonce.error();
    nonces_.push_back(nonce.take());
  }
  return Decision::allow();
}

Result<std::string> ReceiptLog::sign_receipt(std::string_view body) {
  while (!nonces_.empty()) {
    crypto::PreparedNonce n = std::move(nonces_.back());
    nonces_.pop_back();
    if (!n.usable()) continue;
    // It can expire between usable() and sign_prepared's own check; a
    // receipt is never lost for that.
    if (auto sig = key_.sign_prepared(n, crypto::kReceiptType, body)) return sig;
    break;
  }
  return key_.sign_hedged(crypto::kReceiptType, body);
}

Result<AppendedReceipt> ReceiptLog::append(Receipt r, ReceiptSync sync, const BeforeWrite& before_write) {
  const std::string log_path = path(kReceiptLogFile);
  auto prepared = prepare();
  if (!prepared) return prepared.error();
  Prepared& p = *prepared;
  if (p.tail.torn.empty()) known_end_ = KnownEnd{p.dev, p.ino, p.tail.complete_end, p.count, p.prev};
  const int fd = p.log.get();
  uint64_t count = p.count;
  std::string prev = p.prev;
  if (p.head.log_id.empty()) {
    // A head of an earlier gx (or one just created beside an empty log):
    // give the log its id now, durably, before anything (the use store)
    // binds to it -- an id lost in a crash would only cost a rebuild.
    auto id = new_log_id();
    if (!id) return id.error();
    p.head.log_id = id.take();
    if (Decision d = write_head(p.head_fd.get(), p.head); !d) return d;
    if (fdatasync(p.head_fd.get()) != 0) return unavailable("cannot sync receipts.head", errno);
  }

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
    const Receipt::Text text = rec.text();
    auto sig = sign_receipt(text.body());
    if (!sig) return Decision::deny(DenyReason::LogUnavailable, "cannot sign the receipt: " + sig.error().detail);
    rec.sig = crypto::base64_encode(*sig);
    std::string line = text.line_with(rec.sig);
    if (line.size() > kReceiptMaxLineBytes)
      return Decision::deny(DenyReason::LogUnavailable,
                            "receipt of " + std::to_string(line.size()) + " bytes exceeds the limit");
    Decision w = write_all(fd, line + "\n");
    if (w && sync == ReceiptSync::Now && fdatasync(fd) != 0) w = unavailable("cannot sync the receipt log", errno);
    // Deferred: the line's writeback starts now, so the caller's sync()
    // later waits for less of it. A hint: its failure changes nothing.
    if (w && sync == ReceiptSync::Deferred)
      (void)sync_file_range(fd, end, static_cast<off_t>(line.size() + 1), SYNC_FILE_RANGE_WRITE);
    if (!w) {
      // Best effort: remove a partial line now rather than leave a tear.
      if (ftruncate(fd, end) == 0) fdatasync(fd);
      return w;
    }
    ++count;
    prev = receipt_leaf_hash(line);
    end += static_cast<off_t>(line.size() + 1);
    known_end_ = KnownEnd{p.dev, p.ino, end, count, prev};
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
    if (Decision d = before_write(LogPosition{count + 1, static_cast<uint64_t>(end), prev, fd, p.head.log_id}); !d)
      return d;
  }
  if (Decision d = write_record(r); !d) return d;
  // The receipt is durable: a head that fails to update only lags (which
  // verify and the next append accept), so this is not an append failure.
  // Not yet durable (Deferred, DeferredNoHint, Lazy): the head must not run ahead of it.
  if (sync == ReceiptSync::Now)
    (void)write_head(p.head_fd.get(),
                     Head{kReceiptHeadVersion, count, prev, static_cast<uint64_t>(end), p.head.log_id});
  AppendedReceipt appended{r.id, r.seq, prev, static_cast<uint64_t>(end), nullptr};
  if (sync == ReceiptSync::Deferred || sync == ReceiptSync::DeferredNoHint) {
    // sync() must flush this description (AppendedReceipt::written_through):
    // keep it, without its lock (held by the description, not the fd).
    flock(fd, LOCK_UN);
    appended.written_through = std::make_shared<const fs::UniqueFd>(std::move(p.log));
  }
  return appended;
}

Decision ReceiptLog::sync(const AppendedReceipt& appended) const {
  if (!appended.written_through)
    return Decision::deny(DenyReason::LogUnavailable,
                          "internal: sync() of a receipt not appended with ReceiptSync::Deferred or DeferredNoHint");
  if (fdatasync(appended.written_through->get()) != 0) return unavailable("cannot sync the receipt log", errno);
  return Decision::allow();
}

void ReceiptLog::advance_head(const AppendedReceipt& appended) const {
  // Best effort, as in append(): a head that fails to update only lags.
  auto fd = fs::open_in_dir(dir_, kReceiptLogFile, O_RDWR | O_APPEND);
  if (!fd) return;
  if (Decision d = lock(fd->get(), LOCK_EX); !d) return;
  auto hfd = fs::open_in_dir(dir_, kReceiptHeadFile, O_RDWR);
  if (!hfd) return;
  std::string text(4097, '\0');
  ssize_t n = pread(hfd->get(), text.data(), text.size(), 0);
  if (n <= 0) return;
  text.resize(static_cast<size_t>(n));
  auto head = parse_head(text);
  if (head && head->count < appended.line)
    (void)write_head(hfd->get(), Head{kReceiptHeadVersion, appended.line, appended.hash, appended.end, head->log_id});
}

Result<VerifyReport> ReceiptLog::verify(const std::optional<Checkpoint>& checkpoint) const {
  return verify_receipt_log(dir_.path, key_.public_key(), checkpoint);
}

Result<Checkpoint> ReceiptLog::checkpoint() const {
  // Chain mode (LogVerifyOptions): the chain and the last receipt's
  // signature vouch for every receipt, as every signature would.
  // And the parent checks: a checkpoint vouches for a log that verifies,
  // and an incremental verify from it looks only at what is new.
  std::vector<LineageFacts> checked;
  LogVerifyOptions mode;
  mode.verified = &checked;
  auto report = verify_receipt_log(dir_.path, key_.public_key(), std::nullopt, mode);
  if (!report) return report.error();
  if (!report->intact) return report->decision();
  if (Decision d = lineage_decision(check_receipt_lineage(checked)); !d) return d;
  Checkpoint c;
  c.origin = host_name();
  c.count = report->records;
  c.head = report->head;
  c.offset = report->end;
  c.time = format_receipt_time(now_unix_us());
  c.key_id = key_.public_key().key_id();
  auto sig = key_.sign(crypto::kCheckpointType, c.signed_body());
  if (!sig) return sig.error();
  c.sig = crypto::base64_encode(*sig);
  return c;
}

}  // namespace gx
