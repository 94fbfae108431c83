// ReceiptLog: the append-only, hash-chained, signed receipt log of a host.
//
// Files in the state directory (created 0700; docs/receipts.md has details):
//   receipts.log   one receipt per line (lib/receipt.h: exact hashed/signed bytes)
//   receipts.head  {"count","hash","offset"} of the last append: a hint and a
//                  tripwire, rewritten in place under the lock (never trusted
//                  alone: always checked against the log's last line)
//   receipts.torn  JSON lines holding torn tails removed by recovery
//   receipt.key / receipt.pub   the receipt key (lib/receipt_key.h)
//
// Guarantees of append():
//   - durable: the line is written with one write(2) and fdatasync'ed before
//     append returns (ReceiptSync::Now); a caller may exec only after
//     success (fail closed). ReceiptSync::Deferred writes the line and
//     leaves the fdatasync to sync(), which must succeed before the caller
//     relies on the receipt (lib/run_record.h pairs it with the use
//     store's sync). ReceiptSync::Lazy writes the line and never syncs it:
//     the next synced append (any process) or the kernel's writeback makes
//     it durable; a crash before that loses it (used for the `finished`
//     receipt, written after the fact: losing it shows the run as
//     interrupted, never as not having happened). receipts.head is only
//     written after an fdatasync covering the receipt, so it still never
//     runs ahead of the durable log (after a Lazy append it lags);
//   - serialised: an exclusive flock(2) on receipts.log is held from reading
//     the chain head to the end of the write, so concurrent appenders (any
//     number of processes) never interleave bytes, fork the chain or lose a
//     receipt. Every append opens its own descriptor, so a ReceiptLog may be
//     used after fork(2) too;
//   - O(1) in the log's size: the chain head is the last line, found by
//     reading backwards from the end of the file (never the whole log);
//   - crash safe: a kill at any instant leaves every earlier line intact. A
//     final line without "\n" (torn) is reported by verify; the next append,
//     under the lock, moves the torn bytes to receipts.torn, truncates the log
//     back to its last complete line and first appends a `recovered` receipt
//     naming the torn bytes' offset, length and SHA-256;
//   - tamper tripwire: if receipts.head records more receipts than the log
//     holds, or a different last receipt, append refuses (LogTampered) rather
//     than extend a log that lost records.
//
// Security caveats: the chain plus signatures detect edits, deletions,
// duplications and reordering of records; removing records from the end is
// only detected by the head file (which the same attacker may rewrite) or a
// checkpoint kept elsewhere (`gx log checkpoint`). Whoever holds the receipt
// key can rewrite the log entirely: only an external checkpoint catches that.
// syslog delivery is best effort (syslog(3) reports no errors); the file is
// the record of truth.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/crypto.h"
#include "lib/decision.h"
#include "lib/fsutil.h"
#include "lib/receipt.h"

namespace gx {

inline constexpr std::string_view kReceiptLogFile = "receipts.log";
inline constexpr std::string_view kReceiptHeadFile = "receipts.head";
inline constexpr std::string_view kReceiptTornFile = "receipts.torn";
inline constexpr int kCheckpointVersion = 1;
inline constexpr int kReceiptHeadVersion = 1;
inline constexpr size_t kCheckpointMaxBytes = 64 * 1024;

struct ReceiptLogOptions {
  std::string receipt_key;  // --receipt-key FILE; empty: <state>/receipt.key, created on first use
  bool syslog = false;      // --syslog: also send every appended line to syslog(3),
                            // LOG_AUTHPRIV|LOG_INFO, ident "gx" (journald picks it up)
};

struct AppendedReceipt {
  std::string id;     // the receipt id (authorized: pass it to make_finished)
  uint64_t line = 0;  // its line number == its seq
  std::string hash;   // its leaf hash: the new chain head
  uint64_t end = 0;   // offset just past its line
  // ReceiptSync::Deferred only: the open file description the line was
  // written through (its lock released), which sync() flushes. A
  // description opened after a failed writeback does not report that
  // failure once another process's fsync has seen it (errseq), so syncing
  // a newly opened descriptor could report success for a line that never
  // reached the disk.
  std::shared_ptr<const fs::UniqueFd> written_through;
};

// When append() makes the receipt durable (see the guarantees above).
enum class ReceiptSync { Now, Deferred, Lazy };

// Where append() is about to write, seen under the log's exclusive lock
// (after any torn tail was recovered): what a caller needs to record the
// receipt elsewhere before it exists (lib/run_record.h).
struct LogPosition {
  uint64_t seq = 0;     // the seq the receipt will get (== records in the log + 1)
  uint64_t offset = 0;  // where its line will start: the end of the last complete line
  std::string prev;     // leaf hash of receipt seq - 1 (kGenesisHash when seq == 1)
  int fd = -1;          // the log, readable with pread(2) while the lock is held
};
// Called by append() under the lock, before the receipt is written; a
// denial stops the append (nothing of the receipt is written) and is
// returned by it.
using BeforeWrite = std::function<Decision(const LogPosition&)>;

// One receipt read back by scan_receipts (parsed, chain-linked; its
// signature NOT verified).
struct ScannedReceipt {
  uint64_t seq = 0;
  ReceiptKind decision = ReceiptKind::Denied;
  std::string artifact_digest;
};
// The receipt at the end of a scanned range.
struct ScanEnd {
  uint64_t seq = 0;
  std::string hash;  // its leaf hash
};
// Reads the complete lines in [from, to) of the log open at `fd` (to must
// end a line), strictly: every line is a canonical v1 receipt (Receipt::
// from_json), the first has seq == after.seq + 1 and prev == after.hash,
// each next one seq + 1 and prev == the leaf hash of the one before.
// Signatures are not checked (the caller must only use what it reads to
// deny more, never to allow). Calls `each` per receipt, in order; returns
// the last receipt read (`after` when the range is empty). Anything else is
// LogTampered naming `path`, the byte offset and the seq of the bad line;
// a read error is LogUnavailable.
Result<ScanEnd> scan_receipts(int fd, const std::string& path, uint64_t from, uint64_t to, const ScanEnd& after,
                              const std::function<void(const ScannedReceipt&)>& each);
// The same over <state>/receipts.log, read-only, from `from` to the end of
// its last complete line (read under a shared lock, then released): for a
// reader that holds no log lock (gx run --dry-run). LogTampered also when
// the log ends before `from`; a missing log is empty.
Result<ScanEnd> scan_receipt_log(const fs::OpenDir& state, uint64_t from, const ScanEnd& after,
                                 const std::function<void(const ScannedReceipt&)>& each);

// A signed statement of the log's head, to keep somewhere else.
// Signed bytes: canonical_dump() of to_json() without "sig", under
// PAE(crypto::kCheckpointType, ...).
struct Checkpoint {
  int version = kCheckpointVersion;
  std::string origin;  // host name of the log
  uint64_t count = 0;  // number of receipts covered
  std::string head;    // leaf hash of receipt `count` (kGenesisHash when 0)
  std::string time;    // when it was made (receipt time format)
  std::string key_id;  // receipt key that signed it
  std::string sig;     // base64 DER

  nlohmann::json to_json() const;
  std::string text() const;         // canonical JSON + "\n": what `gx log checkpoint` writes
  std::string signed_body() const;
  // Strict parse (every field, no other, known version); no signature check.
  static Result<Checkpoint> parse(std::string_view text);
  bool signature_valid(const crypto::PublicKey& key) const;
};

struct VerifyReport {
  bool intact = false;
  uint64_t records = 0;      // receipts that verified: lines 1..records
  uint64_t bad_line = 0;     // first bad line (1-based); 0 when intact
  std::string problem;       // why that line is bad
  bool torn_tail = false;    // the problem is only an incomplete final line
  std::string head = std::string(kGenesisHash);  // leaf hash of line `records`
  bool checkpoint_matched = false;  // a checkpoint was given and the log extends it
  uint64_t first_checked = 1;       // first line read (> 1: incremental, after the checkpoint)
  uint64_t signatures_checked = 0;  // receipt signatures verified (all, or the last one)

  // allow when intact, else LogTampered "line N: <problem>".
  Decision decision() const;
};

struct ReceiptFilter {
  std::string artifact;              // prefix of artifact_id or artifact_digest
  bool denied_only = false;
  std::optional<int64_t> since_us;   // receipts at or after this time
  size_t tail = 0;                   // only the last N matches (0: all)
};

struct ReceiptListing {
  std::vector<Receipt> receipts;     // in log order
  uint64_t unreadable_lines = 0;     // lines that are not v1 receipts (not verified!)
};

namespace detail {
// The end of the log as an appender needs it.
struct LogTail {
  off_t complete_end = 0;  // offset just past the last "\n"
  std::string last_line;   // last complete line without "\n" (empty: no records)
  off_t torn_offset = 0;   // bytes [torn_offset, size) lack a final "\n"
  std::string torn;
};
}  // namespace detail

class ReceiptLog {
 public:
  // Creates the state directory (0700) if needed, loads or creates the
  // receipt key and checks receipts.log can be opened for appending.
  // LogUnavailable when any of it fails (e.g. the state path is a file) or
  // the directory is writable by group or others.
  //
  // Continuity (a log keeps its key and its head): receipts.head is created
  // before receipts.log and receipt.key after it, so open refuses
  // (LogTampered) a key without a log and a head recording receipts without
  // a log, and refuses (LogUnavailable) to create a new receipt.key for a
  // log that holds receipts.
  static Result<ReceiptLog> open(const std::string& state_dir, const ReceiptLogOptions& options = {});

  // Everything append() checks before writing, without writing: the log and
  // head are regular files (no link, FIFO), the head is valid and consistent
  // with the log's tail, and the log's last receipt was signed by this key.
  // gx run calls it before spending a use, so a use is never spent when no
  // receipt can follow.
  Decision preflight() const;

  // Fills r.seq, id, time, prev, key_id and sig (replacing caller values),
  // writes, fsyncs, and returns the id and line. LogUnavailable if the record
  // cannot be made durable, LogTampered if the tail or head file shows the log
  // lost records; nothing is written then. The caller must not run the child
  // unless an `authorized` append succeeded. `before_write` (if set) runs
  // under the lock just before the receipt is written (see BeforeWrite).
  Result<AppendedReceipt> append(Receipt r, ReceiptSync sync = ReceiptSync::Now, const BeforeWrite& before_write = {});
  // Completes a ReceiptSync::Deferred append: fdatasync through the
  // description the line was written through (appended.written_through;
  // the sync covers every line written before it, by any process), then
  // the head is advanced to `appended` unless it is already there or
  // beyond. LogUnavailable when the log cannot be synced, or `appended`
  // did not come from a Deferred append.
  Decision sync(const AppendedReceipt& appended) const;

  // Verifies the whole log with this log's public key (see verify_receipt_log).
  Result<VerifyReport> verify(const std::optional<Checkpoint>& checkpoint = std::nullopt) const;
  // Verifies the log (chain mode, LogVerifyOptions), then signs its head.
  // LogTampered if it does not verify: a checkpoint never vouches for a
  // broken log.
  Result<Checkpoint> checkpoint() const;

  const std::string& state_dir() const { return dir_.path; }  // the resolved path
  const crypto::PublicKey& public_key() const { return key_.public_key(); }

 private:
  ReceiptLog(fs::OpenDir dir, ReceiptLogOptions options, crypto::PrivateKey key);
  std::string path(std::string_view file) const { return dir_.path + "/" + std::string(file); }

  // The log's end, under the exclusive lock held while `log` stays open.
  struct Prepared {
    fs::UniqueFd log, head_fd;
    detail::LogTail tail;
    uint64_t count = 0;
    std::string prev = std::string(kGenesisHash);
  };
  Result<Prepared> prepare() const;

  fs::OpenDir dir_;  // resolved once; every file opened relative to it
  ReceiptLogOptions options_;
  crypto::PrivateKey key_;
};

// How much verify_receipt_log checks.
//   Default (chain mode): every line gets every check except its signature
//   -- canonical JSON, a v1 receipt, seq, the hash link to the previous line,
//   key_id -- and the signature of the LAST receipt is verified (plus the
//   checkpoint's, when one is given). Every receipt's `prev` is covered by
//   the next one's bytes, so the last signature vouches for the whole chain:
//   changing, deleting or reordering any earlier receipt without the
//   receipt key breaks a link or that signature, exactly as in full mode.
//   What only full mode adds: a report of WHICH receipt's signature is bad
//   (chain mode reports the last line), and, when the log is broken at line
//   N, the records before N are chain-checked but not signature-checked
//   (`records` then counts chain-verified records).
//   all_signatures: additionally verifies every receipt's signature (one
//   ECDSA verification each, on all cores).
//   incremental (needs a checkpoint): trusts the checkpoint (its signature
//   is verified) for lines 1..count, finds the receipt with seq == count by
//   a binary search over the file (O(log size) reads), requires its leaf
//   hash to equal checkpoint.head, and checks only the lines after it. Cost
//   is proportional to what is new; edits BEFORE the checkpoint are not
//   looked at (make checkpoints with `gx log checkpoint`, which verifies
//   the whole log first, and run a full verify now and then).
struct LogVerifyOptions {
  bool all_signatures = false;
  bool incremental = false;
};

// Read-only entry points: they need no private key and create nothing.
//
// Checks every line: JSON in canonical form, a v1 receipt, seq == line
// number, prev == leaf hash of the previous line, key_id and signature by
// `key`; then that receipts.head does not record more receipts than the log
// has, and, with a checkpoint (whose signature must verify: InvalidSignature
// otherwise), that line checkpoint.count has hash checkpoint.head. A missing
// log is an empty log. Result errors are I/O failures and bad checkpoints;
// a broken log is a report with intact == false.
Result<VerifyReport> verify_receipt_log(const std::string& state_dir, const crypto::PublicKey& key,
                                        const std::optional<Checkpoint>& checkpoint = std::nullopt);
// The same with a chosen mode (the overload above checks every signature,
// as it always did; `gx log verify` uses this one).
Result<VerifyReport> verify_receipt_log(const std::string& state_dir, const crypto::PublicKey& key,
                                        const std::optional<Checkpoint>& checkpoint, const LogVerifyOptions& mode);

// Parses the log for display; does NOT verify (run verify for that).
Result<ReceiptListing> read_receipt_log(const std::string& state_dir, const ReceiptFilter& filter = {});

}  // namespace gx
