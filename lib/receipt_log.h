// ReceiptLog: the append-only, hash-chained, signed receipt log of a host.
//
// Files in the state directory (created 0700; docs/receipts.md has details):
//   receipts.log   one receipt per line (lib/receipt.h: exact hashed/signed bytes)
//   receipts.head  {"count","hash","offset","log_id"} of the last append: a
//                  hint and a tripwire, rewritten in place under the lock
//                  (never trusted alone: always checked against the log's
//                  last line), and the log's random id (for the use store)
//   receipts.torn  JSON lines holding torn tails removed by recovery
//   receipt.key / receipt.pub   the receipt key (lib/receipt_key.h)
//
// Guarantees of append():
//   - durable: the line is written with one write(2) and fdatasync'ed before
//     append returns (ReceiptSync::Now); a caller may exec only after
//     success (fail closed). ReceiptSync::Deferred writes the line and
//     leaves the fdatasync to sync(), which must succeed before the caller
//     relies on the receipt (lib/run_record.h pairs it with the use
//     store's sync); it starts the line's writeback (sync_file_range), so
//     that a sync() made a while later waits for less. DeferredNoHint is
//     Deferred without that hint, for a caller whose sync() follows at once
//     on another thread (the hint would only delay its caller).
//     ReceiptSync::Lazy writes the line and never syncs it: the next
//     synced append (any process) or the kernel's writeback makes it
//     durable; a crash before that loses it (used for the `finished`
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
//
// The log's parts: this header (opening, appending with torn-tail
// recovery, making checkpoints), lib/receipt_log_file.h (the files: head
// format, tail, snapshots), lib/receipt_verify.h (verification),
// lib/receipt_scan.h (reading without verifying: the reconciliation scan,
// the listing), lib/receipt_checkpoint.h (the checkpoint statement). This
// header includes them all: a user of the log needs only it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/crypto.h"
#include "lib/decision.h"
#include "lib/fsutil.h"
#include "lib/receipt.h"
#include "lib/receipt_checkpoint.h"
#include "lib/receipt_log_file.h"
#include "lib/receipt_scan.h"
#include "lib/receipt_verify.h"

namespace gx {

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
  // ReceiptSync::Deferred and DeferredNoHint only: the open file
  // description the line was written through (its lock released), which
  // sync() flushes. A
  // description opened after a failed writeback does not report that
  // failure once another process's fsync has seen it (errseq), so syncing
  // a newly opened descriptor could report success for a line that never
  // reached the disk.
  std::shared_ptr<const fs::UniqueFd> written_through;
};

// When append() makes the receipt durable (see the guarantees above).
enum class ReceiptSync { Now, Deferred, DeferredNoHint, Lazy };

// Where append() is about to write, seen under the log's exclusive lock
// (after any torn tail was recovered): what a caller needs to record the
// receipt elsewhere before it exists (lib/run_record.h).
struct LogPosition {
  uint64_t seq = 0;     // the seq the receipt will get (== records in the log + 1)
  uint64_t offset = 0;  // where its line will start: the end of the last complete line
  std::string prev;     // leaf hash of receipt seq - 1 (kGenesisHash when seq == 1)
  int fd = -1;          // the log, readable with pread(2) while the lock is held
  std::string log_id;   // receipts.head's log_id: names this log (receipt_log_file.h)
};
// Called by append() under the lock, before the receipt is written; a
// denial stops the append (nothing of the receipt is written) and is
// returned by it.
using BeforeWrite = std::function<Decision(const LogPosition&)>;

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
  // gx run needs no separate call: append() makes these checks before its
  // BeforeWrite hook reserves the use (lib/run_record.h), so a use is never
  // spent when no receipt can follow. Kept for callers that want the answer
  // without a receipt (the tests of those checks).
  Decision preflight() const;

  // Fills r.seq, id, time, prev, key_id and sig (replacing caller values),
  // writes, fsyncs, and returns the id and line. LogUnavailable if the record
  // cannot be made durable, LogTampered if the tail or head file shows the log
  // lost records; nothing is written then. The caller must not run the child
  // unless an `authorized` append succeeded. `before_write` (if set) runs
  // under the lock just before the receipt is written (see BeforeWrite).
  Result<AppendedReceipt> append(Receipt r, ReceiptSync sync = ReceiptSync::Now, const BeforeWrite& before_write = {});
  // Completes a ReceiptSync::Deferred (or DeferredNoHint) append:
  // fdatasync through the description the line was written through (appended.written_through;
  // the sync covers every line written before it, by any process).
  // LogUnavailable when the log cannot be synced, or `appended` did not
  // come from a Deferred or DeferredNoHint append. The head is left to advance_head.
  Decision sync(const AppendedReceipt& appended) const;
  // After sync(appended) allowed: receipts.head advanced to `appended`,
  // under the lock, unless it is already there or beyond. Best effort (a
  // head that lags is accepted); never call it before the sync -- the head
  // must not run ahead of the durable log.
  void advance_head(const AppendedReceipt& appended) const;

  // Verifies the whole log with this log's public key (see verify_receipt_log).
  Result<VerifyReport> verify(const std::optional<Checkpoint>& checkpoint = std::nullopt) const;
  // Verifies the log (chain mode, LogVerifyOptions) and its parent checks
  // (check_receipt_lineage), then signs its head. LogTampered if it does not
  // verify, LineageInconsistency on a lineage problem: a checkpoint never
  // vouches for a log that `gx log verify` refuses (an incremental verify
  // from it looks only at what is new).
  Result<Checkpoint> checkpoint() const;

  const std::string& state_dir() const { return dir_.path; }  // the resolved path
  const crypto::PublicKey& public_key() const { return key_.public_key(); }

  // Signing ahead (crypto::PreparedNonce): append() signs each receipt with
  // a nonce made earlier while one is left, else with sign_hedged(). The
  // receipts are the same but for the signature's nonce. prepare_nonces
  // makes `n` now (a broker's spare, before its connection arrives; gx run
  // on one CPU while its child runs; not concurrently with any other use of
  // this log). A nonce is never used twice, in another process (a fork of this
  // one) or past its age limit (crypto::PreparedNonce::kMaxAgeNs): such
  // nonces are dropped and the receipt is signed with sign_hedged().
  Decision prepare_nonces(size_t n);
  // One nonce made without keeping it: thread-safe (it reads only the key),
  // for a caller that makes it on another thread and hands it over with
  // add_nonce once that thread is done (lib/side_task.h).
  Result<crypto::PreparedNonce> make_nonce() const { return key_.prepare_nonce(); }
  void add_nonce(crypto::PreparedNonce n) { nonces_.push_back(std::move(n)); }
  size_t prepared_nonces() const { return nonces_.size(); }  // left unused
  // Destroys the prepared nonces (k zeroized): a holder that will wait
  // longer than their age limit calls it rather than keep k in memory.
  void drop_nonces() { nonces_.clear(); }

 private:
  ReceiptLog(fs::OpenDir dir, ReceiptLogOptions options, crypto::PrivateKey key);
  std::string path(std::string_view file) const { return dir_.path + "/" + std::string(file); }

  // The log's end, under the exclusive lock held while `log` stays open.
  struct Prepared {
    fs::UniqueFd log, head_fd;
    receipt_file::LogTail tail;
    uint64_t count = 0;
    std::string prev = std::string(kGenesisHash);
    receipt_file::Head head;  // as read (count 0 when the head was just created)
    dev_t dev = 0;            // the log file
    ino_t ino = 0;
  };
  Result<Prepared> prepare() const;

  // The log's end as this object last read or wrote it: the file, its size,
  // the receipts up to there and the leaf hash of the last one. An append
  // whose locked fstat finds exactly that file at exactly that size starts
  // from it instead of reading and parsing the last line again: open()
  // reads it ahead (under a shared lock, if free; a torn tail is not kept),
  // and each append records what it wrote -- so a standalone run's finished
  // receipt, and its authorized one when open() ran beside authorization,
  // parse nothing. Sound because what is read under a lock is final (an
  // append that fails cuts its line off before it unlocks) and appends only
  // grow the file: the same size is the same log unless someone rewrote it
  // in place, which the next receipt's `prev` (linking to what was there)
  // then exposes to gx log verify, as it exposes any rewrite. The key check
  // (a log keeps its key) was made when the end was read, or the end is
  // this object's own.
  struct KnownEnd {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    uint64_t count = 0;
    std::string prev;
  };
  void learn_end(int log_fd);
  // The count and leaf hash a complete last line stands for (with the key check).
  Result<std::pair<uint64_t, std::string>> parse_last_line(const std::string& line) const;
  std::optional<KnownEnd> known_end_;

  // The signature for a receipt body: a prepared nonce when one is usable.
  Result<std::string> sign_receipt(std::string_view body);

  fs::OpenDir dir_;  // resolved once; every file opened relative to it
  ReceiptLogOptions options_;
  crypto::PrivateKey key_;
  std::vector<crypto::PreparedNonce> nonces_;
};

}  // namespace gx
