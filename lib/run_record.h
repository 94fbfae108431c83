// Recording a run before it starts: the spent use (lib/use_store.h) and the
// `authorized` receipt (lib/receipt_log.h), paid for with ONE fdatasync --
// the receipt's. The authorized receipt is the durable record of the spent
// use; the use store is a cache of the log, reconciled from it after a
// power loss (measured in docs/performance.md). Callable from a one-shot
// `gx run` and from a long-lived process (the broker) that keeps the store
// and log open.
//
// Steps, all but the last under the log's exclusive append lock:
//   1. (ReceiptLog::append) lock the log, read its tail: the authorized
//      receipt will be seq S = N + 1, at byte offset O.
//   2. Reserved:      UseStore::reserve_logged(at S): reconcile first if
//                     the store needs it (lib/use_store.h), then BEGIN
//                     IMMEDIATE, check uses left, spent + 1, row.last_seq =
//                     S, COMMIT with synchronous=NORMAL: no sync.
//   3. Appended:      the authorized receipt S is written (not yet synced).
//   4. ReceiptSynced: fdatasync of receipts.log through the descriptor that
//                     wrote the receipt (a newly opened one could miss a
//                     writeback error another process already saw).
//   5. Bookkeeping:   the head is advanced; every kUseStoreSyncEvery runs,
//                     one more synced commit records the log position as
//                     synced (UseStore::note_log_durable). Best effort:
//                     neither is needed for the run to be recorded.
// Only after step 4 does record_authorized_run return success; the caller
// may exec only then. A caller that starts its child meanwhile (gx run:
// spawn_confined's BeforeExec, so that the fdatasync overlaps the child's
// set-up) calls the parts: append_authorized_run (steps 1-3),
// make_run_durable (step 4), letting nothing exec before it returned
// allow, and note_run_durable (step 5) once the program may start -- not
// before the gate, where it would delay the exec.
//
// Crash consistency (a crash = process death or power loss at any instant;
// after process death the page cache keeps everything written, so only
// power loss -- a new boot -- can drop unsynced writes):
//   - A run never happens unrecorded, and nothing execs before its
//     authorized receipt is durable: step 4 precedes exec.
//   - Per digest D, reservations commit in seq order: they are made under
//     the log lock with S = N + 1, and the log only grows. (A reservation
//     whose receipt was never written -- a crash between 2 and 3 -- leaves
//     a spent use and lets the next appender reuse S: fail closed, see
//     below.)
//   - After process death (same boot), the store has every commit: the
//     counts are exact or higher (a use spent without a run). Nothing to
//     reconcile, and boot_id still matches.
//   - After power loss, the store recovers a PREFIX of its commits (WAL
//     frames carry cumulative checksums; recovery stops at the first bad
//     frame; a checkpoint syncs the WAL before copying it and the database
//     before the WAL restarts, synchronous=NORMAL keeps those syncs). Take
//     row(D) in that prefix. Every authorized receipt of D with seq s <=
//     row(D).last_seq has its reservation (or an earlier reservation of D
//     for the same s, whose receipt was never written) in the prefix, since
//     D's reservations commit in seq order; so spent(D) >= the number of
//     those receipts. The reconciliation adds one use per authorized
//     receipt of D with seq > row(D).last_seq. Hence spent(D) >= the
//     number of D's durable authorized receipts >= the runs of D that
//     happened: a use is never spent twice, not even across power loss.
//   - The reconciliation runs whenever the store's boot_id differs from
//     the current boot. boot_id is written only by a reconciliation, in the
//     same commit as the uses it adds: in any prefix, boot_id == current
//     boot implies that commit was made in this boot after every loss (a
//     power loss changes the boot), so the store lost nothing since it was
//     complete. A new store has no boot_id and is reconciled from the
//     log's start. boot_id also names the inode and the log id
//     (receipts.head) of the receipts.log the store counts: a store bound
//     to another log (copied from another state directory, even in this
//     boot, even where both logs have the same inode number) is rebuilt
//     from the whole log,
//     spent(D) = max(its spent(D), D's authorized receipts in the log) and
//     last_seq(D) = the seq of D's last one in this log (0: none), so the
//     bound above, and the next reconciliation's, hold for it too. Not caught: uses.db alone restored
//     from a backup of the same directory made in this boot (same boot,
//     same log) -- the old design trusted such a store too.
//   - synced_offset (where a reconciliation starts reading) is only set to
//     a position the log has made durable (fdatasync before the commit that
//     records it), and only in a commit that follows the reservations of
//     every receipt before it: in every prefix, every authorized receipt
//     before synced_offset is counted. A log that is shorter than
//     synced_offset, or whose receipt there does not continue the recorded
//     (seq, hash), was truncated or rewritten: refused (LogTampered), with
//     the file and byte offset.
//   - The reconciliation reads records it cannot verify (signatures are not
//     checked): every line must be a canonical receipt linked by seq and
//     hash to the one before, else LogTampered -- never skipped. Forging an
//     authorized receipt can only make a count higher (deny more); removing
//     one needs write access to the state directory, which can delete
//     uses.db and rewrite the log anyway (lib/use_store.h). A torn final
//     line is not read: it never completed, so it never led to an exec
//     (the next append moves it to receipts.torn).
//   - receipts.head never runs ahead of the durable log: it is advanced in
//     step 4, after the fdatasync (lib/receipt_log.h).
// Lock order: the log's flock, then SQLite's write lock, everywhere both
// are held (only here). Every other SQLite writer (gx state prune, the
// schema creation and upgrade in UseStore::open, note_log_durable) holds no
// log lock and never waits for one while it holds the write lock, so no
// cycle exists; readers (gx state show, --dry-run) take no write lock, and
// --dry-run's shared log lock is held only while nothing else is.
// What is not covered: a lying disk (volatile write cache without flush
// support) defeats fdatasync for every program; a filesystem that loses
// written pages without a reboot (not a local disk's behaviour) defeats
// the boot-id test; and whoever can write the state directory can rewrite
// both records anyway (lib/use_store.h).
#pragma once

#include <atomic>
#include <functional>

#include "lib/decision.h"
#include "lib/receipt_log.h"
#include "lib/use_store.h"

namespace gx {

enum class RecordStep { Reserved, Appended, ReceiptSynced };

struct RecordedRun {
  UseReservation use;
  AppendedReceipt receipt;
};

// Test seam: called after each step; a denial stops the sequence there (as
// if that step had failed) and is returned.
using RecordStepHook = std::function<Decision(RecordStep)>;

// Reserves one use of authorized.artifact_digest (max_uses, not_after as for
// UseStore::reserve) and appends `authorized`, durable on success.
// Errors: the log's before anything is reserved (LogTampered,
// LogUnavailable), the reservation's (Replay, StateUnavailable, a refused
// reconciliation; no receipt written), or LogUnavailable after the use was
// spent. When the authorized receipt was written but could not be made
// durable, *written is set to it (the caller then records that the program
// did not start).
Result<RecordedRun> record_authorized_run(UseStore& store, ReceiptLog& log, const Receipt& authorized,
                                          uint32_t max_uses, UnixTime not_after, AppendedReceipt* written = nullptr,
                                          const RecordStepHook& hook = {});

// Steps 1-3 (record_authorized_run without its step 4): on success the
// use is spent and the receipt written but NOT durable -- nothing may exec
// on it until make_run_durable has returned allow. Errors as above.
// `sync`: ReceiptSync::Deferred, or DeferredNoHint when make_run_durable
// follows at once on another thread (SyncHandoff).
Result<RecordedRun> append_authorized_run(UseStore& store, ReceiptLog& log, const Receipt& authorized,
                                          uint32_t max_uses, UnixTime not_after, AppendedReceipt* written = nullptr,
                                          const RecordStepHook& hook = {}, ReceiptSync sync = ReceiptSync::Deferred);
// Step 4 for `appended` (append_authorized_run's receipt): fdatasync
// through the descriptor that wrote it. LogUnavailable when it cannot be
// made durable (the program must then not start).
Decision make_run_durable(ReceiptLog& log, const AppendedReceipt& appended, const RecordStepHook& hook = {});
// Step 5, after make_run_durable allowed: the head advanced to `appended`,
// the store's synced position when due. Best effort (a head that lags is
// accepted by verify and by the next append; a synced position not
// recorded means a longer re-read after a power loss): never fails.
void note_run_durable(UseStore& store, ReceiptLog& log, const AppendedReceipt& appended);

// Step 4 made on another thread the moment the receipt is written, and
// waited for where the program would start: a standalone gx run's side
// thread (lib/side_task.h) syncs the authorized receipt while the calling
// thread goes on to start the child, instead of the sync beginning only
// once the child is cloned (docs/performance.md, twenty-eighth pass).
//
//   serve()   on the other thread: waits until start() or abandon() is
//             called; after start(), runs make_run_durable and publishes
//             its verdict. Call it once.
//   start()   after append_authorized_run succeeded (its receipt). Only
//             the first start() or abandon() counts; a later start() is
//             ignored (its receipt is never synced).
//   abandon() no receipt will come (a denial, an error): serve() returns
//             without syncing. No effect after start(). Call it on every
//             path that will not call start() before waiting for the
//             thread that serves, or that wait never ends.
//   wait()    make_run_durable's verdict, once serve() has it; a denial
//             (LogUnavailable) when start() was never called or the sync
//             threw. The program may start only after wait() returned allow.
//   host(work)   after start(): serve() runs `work` right after it has
//             published its verdict (spawn_confined's handshake reader,
//             lib/confine_spawn.h ReaderHost: it answers the child's exec
//             the moment the sync allows, with no thread to wake). True
//             when it will, exactly once; false (start() never came,
//             serve() has not begun -- a step not begun may be skipped --,
//             close_host() or host() came first) and nothing is kept.
//   close_host() no work will come: serve() returns once its verdict is
//             out. Call it on every path that will not call host() before
//             waiting for the thread that serves, or that wait never ends.
// Each of start(), abandon(), host(), close_host() and wait() may be
// called from any thread: a start() claims the hand-off before it copies
// the receipt, and publishes it (release) only then; serve() reads it after
// that (acquire); host() likewise for its work. serve() always publishes
// an end, whatever make_run_durable throws, and runs the work it was
// given whatever the verdict (the work reads the verdict through wait()).
class SyncHandoff {
 public:
  void serve();
  void start(ReceiptLog& log, const AppendedReceipt& appended);
  void abandon();
  Decision wait();
  bool host(std::function<void()> work);
  void close_host();

 private:
  enum State : int { Waiting, Starting, Started, Abandoned, Done, Failed };
  enum HostState : int { Open, Posting, Posted, Closed };
  std::atomic<int> state_{Waiting};
  std::atomic<int> host_{Open};
  std::atomic<bool> serving_{false};  // serve() has begun (and will end only after a host or a close)
  std::function<void()> work_;        // read by serve() only once Posted
  ReceiptLog* log_ = nullptr;
  AppendedReceipt appended_;
  // Read only once Done; never allow unless make_run_durable said so.
  Decision verdict_ = Decision::deny(DenyReason::LogUnavailable, "the authorized receipt was not synced");
};

// Test seam, never set by gx (nor reachable from the command line or the
// environment): when set, SyncHandoff::serve() passes make_run_durable's
// verdict through it, so that a test can fail or delay the sync and see
// that nothing runs before, or without, a durable receipt.
extern Decision (*sync_handoff_verdict_hook)(Decision synced);

}  // namespace gx
