// The execution tree of a receipt log: which governed run started which
// (gx log tree), and the checks gx log verify adds on top of the hash chain
// and signatures (lib/receipt_log.h verifies those).
//
// A receipt's `parent` is the authorized receipt id of the run that
// enclosed it. gx writes it only when a supervisor that owns the enclosing
// run says so (RunRequest::parent_receipt), never from the environment; a
// local run whose artifact chain was verified from --parent files has no
// parent receipt, only `lineage` (v3: the verified artifact chain, parent
// first).
//
// check_receipt_lineage(), for every receipt with a parent:
//   * the parent receipt exists in the log,
//   * it precedes the child (a lower seq),
//   * it is an `authorized` receipt (a run that was allowed to start),
//   * the child's artifact names the parent's artifact: v3 `lineage[0]`
//     equals the parent's `artifact_digest` (a v1/v2 receipt with a parent
//     records no lineage: its parent was claimed by an environment
//     variable, never proven, and is reported). Exception: a `denied`
//     receipt with no lineage (a nested request refused before its chain
//     verified: nothing ran under it).
// Receipts without a parent are roots; nothing more is required of them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/decision.h"
#include "lib/receipt.h"

namespace gx {

struct LineageProblem {
  uint64_t line = 0;  // the child's seq
  std::string problem;
};

// What the checks read of a receipt, and all they keep of it: a verified
// log's worth is held in memory at once (LogVerifyOptions::verified), ~150
// bytes a receipt where a whole Receipt with its sandbox summary took ~10 KB.
struct LineageFacts {
  uint64_t seq = 0;
  int version = 0;
  ReceiptKind decision = ReceiptKind::Denied;
  std::string id;
  std::string parent;
  std::string artifact_digest;  // authorized receipts only (a parent's artifact); "" for the others
  bool has_lineage = false;     // lineage is not empty
  std::string lineage_parent;   // lineage[0], for receipts with a parent only; "" for the others

  static LineageFacts of(const Receipt& r);
};

std::vector<LineageProblem> check_receipt_lineage(const std::vector<LineageFacts>& receipts);
std::vector<LineageProblem> check_receipt_lineage(const std::vector<Receipt>& receipts);

// The check for a verified log whose lines from `first_checked` on are
// `checked` (LogVerifyOptions::verified). A whole log (first_checked 1):
// every receipt. Incremental (first_checked > 1): the problems of the new
// receipts only -- the checkpoint vouched for the lines before it, and a
// checkpoint is made only of a log without lineage problems
// (ReceiptLog::checkpoint; a checkpoint of an earlier gx was not, and a full
// verify reports what it covers). Over `checked` alone when every parent they
// name is among them (nested runs that all started after the checkpoint), so
// that the cost stays proportional to what is new; a new receipt whose parent
// precedes the checkpoint makes it read the whole log from `state_dir`
// (read_receipt_log). Errors are that read's.
Result<std::vector<LineageProblem>> check_verified_lineage(const std::string& state_dir,
                                                           const std::vector<LineageFacts>& checked,
                                                           uint64_t first_checked);

// allow when there are none, else LineageInconsistency "line N: <problem>
// (and K more)" on field "parent".
Decision lineage_decision(const std::vector<LineageProblem>& problems);

// One governed run: its authorized (or denied) receipt and, when it ended,
// its finished / not-started receipt; children are runs whose parent is
// this run's authorized id.
struct RunNode {
  const Receipt* start = nullptr;  // authorized or denied
  const Receipt* end = nullptr;    // finished or not-started, when written
  std::vector<size_t> children;    // indexes into ReceiptTree::runs, in log order
  bool orphan = false;             // names a parent that is not in the log
};

struct ReceiptTree {
  std::vector<RunNode> runs;  // in log order
  std::vector<size_t> roots;  // runs without a (known) parent
};

// `receipts` must outlive the tree. With root_id (an authorized, denied or
// finished receipt id, or a unique prefix of at least 8 hex digits) only
// that run's subtree; Usage when no run matches.
Result<ReceiptTree> build_receipt_tree(const std::vector<Receipt>& receipts, const std::string& root_id = {});

// The tree as nested JSON objects: {"receipt","time","decision","result",
// "argv","uid","artifact_id","artifact_digest","signers","wall_us",
// "children":[...]}.
nlohmann::json receipt_tree_json(const ReceiptTree& tree);

}  // namespace gx
