// The receipt log's files on disk (lib/receipt_log.h describes them): their
// names, the receipts.head format, reading the log's tail backwards, reading
// it line by line, and a consistent snapshot of log and head for readers.
// Shared by the appender (receipt_log), the verifier (receipt_verify) and the
// readers (receipt_scan); not an interface for anything else.
//
// Every function takes a descriptor or an fs::OpenDir opened by the caller
// (never a path: the state directory is resolved once) and reports I/O
// failures as LogUnavailable (appending) or IoError (readers), as documented
// per function.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/decision.h"
#include "lib/fsutil.h"
#include "lib/receipt.h"

namespace gx {

inline constexpr std::string_view kReceiptLogFile = "receipts.log";
inline constexpr std::string_view kReceiptHeadFile = "receipts.head";
inline constexpr std::string_view kReceiptTornFile = "receipts.torn";
inline constexpr int kReceiptHeadVersion = 2;  // written (1 and the unversioned 0 are still read)

namespace receipt_file {

// LogUnavailable "<what>: <errno text>".
Decision unavailable(const std::string& what, int err);
// flock(2) (EINTR retried); LogUnavailable when it fails.
Decision lock(int fd, int how);
// write(2) until all of `data` is written; LogUnavailable on an error.
Decision write_all(int fd, std::string_view data);
// pread(2) of exactly `len` bytes at `at`; false on an error or EOF first.
bool pread_all(int fd, char* buf, size_t len, off_t at);

// The end of the log as an appender needs it.
struct LogTail {
  off_t complete_end = 0;  // offset just past the last "\n"
  std::string last_line;   // last complete line without "\n" (empty: no records)
  off_t torn_offset = 0;   // bytes [torn_offset, size) lack a final "\n"
  std::string torn;
};
// Reads backwards from `size` (never the whole log): O(1) in the log's size.
// LogTampered when no complete line ends within kReceiptMaxLineBytes + 1
// bytes of the end; LogUnavailable on a read error.
Result<LogTail> read_tail(int fd, off_t size);

// receipts.head: {"version","count","hash","offset","log_id"} of the last
// durable append (a hint and a tripwire, never trusted alone).
//
// log_id (version 2) names the log: 32 random lowercase hex digits chosen
// when the head is created (before receipts.log), or when an append first
// finds a head of an earlier gx without one (ReceiptLog::append); every
// rewrite keeps it. The use store binds itself to it (lib/use_store.h),
// which costs nothing per run: append reads the head anyway. Heads of
// version 1 and the unversioned 0 have no log_id and are still read.
struct Head {
  int version = kReceiptHeadVersion;  // as read: 0 (unversioned), 1 or 2
  uint64_t count = 0;
  std::string hash = std::string(kGenesisHash);
  uint64_t offset = 0;
  std::string log_id;  // version 2; empty in an older head
};
// Strict: every field of its version, no other, a known version (or none:
// version 0). Malformed "receipts.head ..." otherwise.
Result<Head> parse_head(std::string_view text);
// A new log id: 32 random lowercase hex digits (LogUnavailable when no
// randomness can be had).
Result<std::string> new_log_id();

// What a reader found at receipts.head.
struct HeadRead {
  bool exists = false;
  std::optional<Head> head;  // set when exists and valid
  std::string problem;       // set when exists and not valid (symlink, FIFO, garbled, ...)
};
HeadRead read_head(const fs::OpenDir& dir);

// The head's bytes as written: canonical JSON padded to a fixed size;
// version 2, or version 1 when h has no log_id (a head of an earlier gx
// rewritten before an append gave it one).
std::string head_text(const Head& h);
// Rewrites the head in place at `fd` (without fsync; see the .cc).
Decision write_head(int fd, const Head& h);

// Streams a file line by line with bounded memory.
class LineReader {
 public:
  explicit LineReader(int fd, off_t limit) : fd_(fd), remaining_(limit) {}
  // false at EOF. `terminated` says whether the line ended in "\n";
  // `too_long` whether it was cut at kReceiptMaxLineBytes.
  bool next(std::string& line, bool& terminated, bool& too_long);
  bool failed() const { return failed_; }

 private:
  bool fill();
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
  fs::UniqueFd fd;  // empty: there is no receipts.log
  off_t size = 0;
  HeadRead head;  // read under the same lock: consistent with size
};
Result<Snapshot> snapshot(const fs::OpenDir& dir);

}  // namespace receipt_file
}  // namespace gx
