// Recording a run before it starts: the spent use (lib/use_store.h) and the
// `authorized` receipt (lib/receipt_log.h), both durable before the caller
// executes anything -- paid for with two fdatasyncs instead of the four a
// synced reserve() plus a synced append() cost (the use store's commit, the
// directory sync SQLite does once per connection, the receipt; measured in
// docs/performance.md). Callable from a one-shot `gx run` and from a
// long-lived process (the broker) that keeps the store and log open.
//
// Steps, in this order:
//   1. Reserved:      the use is committed (BEGIN IMMEDIATE: concurrent gx
//                     processes serialize here), its WAL frames written, not
//                     synced (UseDurability::Deferred).
//   2. Appended:      the authorized receipt is written to the log, not
//                     synced (ReceiptSync::Deferred).
//   3. UseSynced:     fdatasync of uses.db-wal.
//   4. ReceiptSynced: fdatasync of receipts.log, then the head is advanced.
// Only after step 4 does record_authorized_run return success; the caller
// may exec only then.
//
// Crash consistency (a crash = process death or power loss at any instant;
// after process death the page cache keeps everything written, so only
// power loss can drop unsynced writes):
//   - Nothing runs before step 4 completes, so a crash before it can only
//     lose records of a run that never happened: a use spent without a run
//     (fail closed), or an authorized receipt without a use or a finished
//     receipt, which gx log shows as interrupted.
//   - A use is never spent twice: the exec that consumes it happens after
//     step 3 made its commit durable. WAL frames carry cumulative checksums
//     and recovery stops at the first bad frame, so a durable commit implies
//     every earlier commit in the WAL is replayed too (a later process's
//     synced commit also covers ours: it includes our row's new count).
//     A WAL checkpoint syncs the WAL before copying it and the database
//     before the WAL is restarted (synchronous=NORMAL keeps those syncs),
//     so no restart can overwrite frames that are not yet in a synced
//     database.
//   - A run never happens unrecorded: step 4 precedes exec. Syncing the use
//     first (3 before 4) means a durable authorized receipt always comes
//     with a durable spent use; the reverse order could leave, after power
//     loss, an authorized receipt whose use is free again.
//   - receipts.head never runs ahead of the durable log: it is advanced in
//     step 4, after the fdatasync (lib/receipt_log.h).
//   - Issuing the two fdatasyncs concurrently does not merge them into one
//     journal commit on ext4 (measured: each is one device flush), so they
//     are issued in sequence, in the order above.
// What is not covered: a lying disk (volatile write cache without flush
// support) defeats fdatasync for every program; and whoever can write the
// state directory can rewrite both records anyway (lib/use_store.h).
#pragma once

#include <functional>

#include "lib/decision.h"
#include "lib/receipt_log.h"
#include "lib/use_store.h"

namespace gx {

enum class RecordStep { Reserved, Appended, UseSynced, ReceiptSynced };

struct RecordedRun {
  UseReservation use;
  AppendedReceipt receipt;
};

// Test seam: called after each step; a denial stops the sequence there (as
// if that step had failed) and is returned.
using RecordStepHook = std::function<Decision(RecordStep)>;

// Reserves one use of authorized.artifact_digest (max_uses, not_after as for
// UseStore::reserve) and appends `authorized`, both durable on success.
// Errors: the reserve's (Replay, StateUnavailable; nothing written), or
// LogUnavailable / StateUnavailable after the use was spent. When the
// authorized receipt was written but could not be made durable, *written is
// set to it (the caller then records that the program did not start).
Result<RecordedRun> record_authorized_run(UseStore& store, ReceiptLog& log, const Receipt& authorized,
                                          uint32_t max_uses, UnixTime not_after, AppendedReceipt* written = nullptr,
                                          const RecordStepHook& hook = {});

}  // namespace gx
