#include "lib/receipt_log_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <set>

#include "lib/crypto.h"

namespace gx::receipt_file {

using nlohmann::json;

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

namespace {

// Offset of the last '\n' strictly before `end`, reading backwards at most
// `limit` bytes; nullopt when the file start is reached first.
Result<std::optional<off_t>> last_newline_before(int fd, off_t end, size_t limit) {
  // Small first: a receipt line is a few KiB, and every page of a buffer
  // touched is a page fault on the hot path (a 64 KiB buffer was 16 of them,
  // twice per run). Doubling keeps a long line's cost linear.
  constexpr size_t kFirstChunk = 8 * 1024, kMaxChunk = 64 * 1024;
  size_t chunk = kFirstChunk;
  std::string buf;
  off_t pos = end;
  size_t scanned = 0;
  while (pos > 0) {
    if (scanned > limit)
      return Decision::deny(DenyReason::LogTampered,
                            "the receipt log's last " + std::to_string(scanned) + " bytes hold no complete receipt");
    size_t n = static_cast<size_t>(std::min<off_t>(pos, static_cast<off_t>(chunk)));
    chunk = std::min(chunk * 2, kMaxChunk);
    pos -= static_cast<off_t>(n);
    buf.resize(n);
    if (!pread_all(fd, buf.data(), n, pos)) return unavailable("cannot read the receipt log", errno);
    for (size_t i = n; i-- > 0;)
      if (buf[i] == '\n') return std::optional<off_t>(pos + static_cast<off_t>(i));
    scanned += n;
  }
  return std::optional<off_t>();
}

}  // namespace

Result<LogTail> read_tail(int fd, off_t size) {
  LogTail t;
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

Result<Head> parse_head(std::string_view text) {
  auto bad = [](const std::string& why) { return Decision::deny(DenyReason::Malformed, "receipts.head " + why); };
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("is not a JSON object (garbled)");
  Head h;
  std::set<std::string> keys = {"count", "hash", "offset"};
  if (j.contains("version")) {
    if (!j["version"].is_number_unsigned() || j["version"].get<uint64_t>() < 1 ||
        j["version"].get<uint64_t>() > kReceiptHeadVersion)
      return bad("has an unsupported version");
    h.version = static_cast<int>(j["version"].get<uint64_t>());
    keys.insert("version");
    if (h.version >= 2) keys.insert("log_id");
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
  if (h.version >= 2) {
    if (!j.contains("log_id") || !j["log_id"].is_string()) return bad("lacks log_id");
    h.log_id = j["log_id"].get<std::string>();
    if (h.log_id.size() != 32 || h.log_id.find_first_not_of("0123456789abcdef") != std::string::npos)
      return bad("log_id is not 32 lowercase hex digits");
  }
  return h;
}

Result<std::string> new_log_id() {
  auto id = crypto::random_hex(16);
  if (!id) return Decision::deny(DenyReason::LogUnavailable, "cannot make a log id: " + id.error().detail);
  return id;
}

HeadRead read_head(const fs::OpenDir& dir) {
  auto text = fs::read_in_dir(dir, kReceiptHeadFile, 4096);
  if (!text) return HeadRead{true, std::nullopt, text.error().detail};
  if (!*text) return HeadRead{};
  auto h = parse_head(**text);
  if (!h) return HeadRead{true, std::nullopt, h.error().detail};
  return HeadRead{true, h.take(), ""};
}

std::string head_text(const Head& h) {
  json j{{"version", h.log_id.empty() ? 1 : kReceiptHeadVersion},
         {"count", h.count},
         {"hash", h.hash},
         {"offset", h.offset}};
  if (!h.log_id.empty()) j["log_id"] = h.log_id;
  std::string text = canonical_dump(j);
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

bool LineReader::next(std::string& line, bool& terminated, bool& too_long) {
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

bool LineReader::fill() {
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

Result<Snapshot> snapshot(const fs::OpenDir& dir) {
  const std::string log_path = dir.path + "/" + std::string(kReceiptLogFile);
  struct stat lst {};
  if (fstatat(dir.fd.get(), std::string(kReceiptLogFile).c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
    return Snapshot{fs::UniqueFd(), 0, read_head(dir)};
  auto opened = fs::open_in_dir(dir, kReceiptLogFile, O_RDONLY);
  if (!opened) return Decision::deny(DenyReason::IoError, opened.error().detail, "file", log_path);
  const int fd = opened->get();
  if (Decision d = lock(fd, LOCK_SH); !d) return Decision::deny(DenyReason::IoError, d.detail);
  struct stat st {};
  if (fstat(fd, &st) != 0)
    return Decision::deny(DenyReason::IoError, "cannot stat " + log_path + ": " + fs::errno_text(errno));
  HeadRead head = read_head(dir);
  flock(fd, LOCK_UN);
  return Snapshot{opened.take(), st.st_size, std::move(head)};
}

}  // namespace gx::receipt_file
