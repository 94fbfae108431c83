// Verifying the receipt log: chain, signatures, receipts.head and an
// optional checkpoint (`gx log verify`; ReceiptLog::verify). Read-only: it
// needs no private key and creates nothing. Security caveats of what a
// verified log proves: lib/receipt_log.h. This is the only reader that
// vouches for the log: the listing (read_receipt_log: gx log show, gx log
// tree) displays whatever the file holds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/crypto.h"
#include "lib/decision.h"
#include "lib/receipt.h"
#include "lib/receipt_checkpoint.h"
#include "lib/receipt_lineage.h"

namespace gx {

struct VerifyReport {
  bool intact = false;
  uint64_t records = 0;                          // receipts that verified: lines 1..records
  uint64_t bad_line = 0;                         // first bad line (1-based); 0 when intact
  std::string problem;                           // why that line is bad
  bool torn_tail = false;                        // the problem is only an incomplete final line
  std::string head = std::string(kGenesisHash);  // leaf hash of line `records`
  uint64_t end = 0;                              // byte offset just past line `records` (a checkpoint's offset)
  bool checkpoint_matched = false;               // a checkpoint was given and the log extends it
  uint64_t first_checked = 1;                    // first line read (> 1: incremental, after the checkpoint)
  uint64_t signatures_checked = 0;               // receipt signatures verified (all, or the last one)

  // allow when intact, else LogTampered "line N: <problem>".
  Decision decision() const;
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
//   is verified) for lines 1..count and reads from the byte offset where
//   receipt `count` ended when the checkpoint was made (checkpoint version
//   2 signs it): the line ending there must have leaf hash checkpoint.head,
//   and every byte after it is read and checked as in the other modes
//   (seq from count + 1, the hash link from checkpoint.head, the last
//   receipt's signature, or every one with all_signatures). So records
//   inserted, changed or reordered after the checkpoint, a log cut before
//   the offset and a rewritten checkpoint line are caught exactly as a full
//   verify would catch them; cost is proportional to what is new. Edits
//   BEFORE the checkpoint's line are NOT looked at (out of this mode's
//   scope: make checkpoints with `gx log checkpoint`, which verifies the
//   whole log first, and run a full verify now and then). As in every mode,
//   receipts cut off the end after the checkpoint are caught only by
//   receipts.head (which whoever can write the state may rewrite too) or a
//   newer checkpoint. A version 1 checkpoint records no offset: the whole
//   log is verified instead (first_checked == 1), as without incremental.
struct LogVerifyOptions {
  bool all_signatures = false;
  bool incremental = false;
  // When set, what the lineage checks read of every receipt whose line
  // passed its checks is appended to it (nothing is cleared), in log order,
  // from line first_checked on: from the parse the verification made, so
  // that `gx log verify` checks the lineage without reading the log a
  // second time. Meaningful only when the report says intact.
  std::vector<LineageFacts>* verified = nullptr;
};

// Read-only entry points: they need no private key and create nothing.
//
// Checks every line: JSON in canonical form, a v1 receipt, seq == line
// number, prev == leaf hash of the previous line, key_id and signature by
// `key`; then that receipts.head does not record more receipts than the log
// has, and, with a checkpoint (whose signature must verify: InvalidSignature
// otherwise), that line checkpoint.count has hash checkpoint.head (and, in
// a version 2 checkpoint, ends at byte checkpoint.offset). A missing
// log is an empty log. Result errors are I/O failures and bad checkpoints;
// a broken log is a report with intact == false.
Result<VerifyReport> verify_receipt_log(const std::string& state_dir, const crypto::PublicKey& key,
                                        const std::optional<Checkpoint>& checkpoint = std::nullopt);
// The same with a chosen mode (the overload above checks every signature,
// as it always did; `gx log verify` uses this one).
Result<VerifyReport> verify_receipt_log(const std::string& state_dir, const crypto::PublicKey& key,
                                        const std::optional<Checkpoint>& checkpoint, const LogVerifyOptions& mode);

}  // namespace gx
