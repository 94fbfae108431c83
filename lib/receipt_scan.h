// Reading the receipt log without verifying it (no key needed, nothing
// created): the strict chain-linked scan the use store's reconciliation
// uses (scan_receipts, scan_receipt_log) and the listing `gx log show`
// prints (read_receipt_log). For verification see lib/receipt_verify.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lib/decision.h"
#include "lib/fsutil.h"
#include "lib/receipt.h"

namespace gx {

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

struct ReceiptFilter {
  std::string artifact;  // prefix of artifact_id or artifact_digest
  bool denied_only = false;
  std::optional<int64_t> since_us;  // receipts at or after this time
  size_t tail = 0;                  // only the last N matches (0: all)
  // false: every receipt's sandbox summary is left an empty object, for a
  // reader that does not show it (gx log tree, the text listing, the
  // parent checks): a summary is ~2/3 of a receipt, and ~10 KB in memory.
  bool sandbox = true;
};

struct ReceiptListing {
  std::vector<Receipt> receipts;  // in log order
  uint64_t unreadable_lines = 0;  // lines that are not v1 receipts (not verified!)
  // authorized_id of every finished and not-started receipt in the whole
  // log, whatever the filter: the runs that were closed.
  std::set<std::string> closed_runs;
};

// Parses the log for display; does NOT verify (run verify for that). A line
// is listed when it is JSON that Receipt::from_json accepts, canonical or
// not (lib/receipt_line.h reads the canonical ones, the general reader the
// rest); the receipts the filter drops are not kept.
Result<ReceiptListing> read_receipt_log(const std::string& state_dir, const ReceiptFilter& filter = {});

}  // namespace gx
