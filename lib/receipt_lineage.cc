#include "lib/receipt_lineage.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>

#include "lib/receipt_scan.h"

namespace gx {

LineageFacts LineageFacts::of(const Receipt& r) {
  LineageFacts f;
  f.seq = r.seq;
  f.version = r.version;
  f.decision = r.decision;
  f.id = r.id;
  f.parent = r.parent;
  if (r.decision == ReceiptKind::Authorized) f.artifact_digest = r.artifact_digest;
  f.has_lineage = !r.lineage.empty();
  if (!r.parent.empty() && f.has_lineage) f.lineage_parent = r.lineage.front();
  return f;
}

std::vector<LineageProblem> check_receipt_lineage(const std::vector<LineageFacts>& receipts) {
  std::map<std::string_view, const LineageFacts*, std::less<>> by_id;
  for (const auto& r : receipts) by_id.emplace(r.id, &r);
  std::vector<LineageProblem> out;
  for (const auto& r : receipts) {
    if (r.parent.empty()) continue;
    auto report = [&](std::string why) { out.push_back({r.seq, "receipt " + r.id + ": " + std::move(why)}); };
    auto it = by_id.find(r.parent);
    if (it == by_id.end()) {
      report("its parent receipt " + r.parent + " is not in the log");
      continue;
    }
    const LineageFacts& p = *it->second;
    if (p.seq >= r.seq) {
      report("its parent receipt " + p.id + " (line " + std::to_string(p.seq) + ") does not precede it");
      continue;
    }
    if (p.decision != ReceiptKind::Authorized) {
      report("its parent receipt " + p.id + " is a " + std::string(kind_name(p.decision)) +
             " receipt, not an authorized run");
      continue;
    }
    if (r.version < 3) {
      report("a v" + std::to_string(r.version) +
             " receipt with a parent records no artifact lineage: the parent was claimed, not proven");
      continue;
    }
    // A nested request refused before its chain verified records no
    // lineage: nothing ran under it, and the denial is the record.
    if (r.decision == ReceiptKind::Denied && !r.has_lineage) continue;
    if (!r.has_lineage || r.lineage_parent != p.artifact_digest)
      report("its artifact names parent " + (r.has_lineage ? r.lineage_parent : std::string("(none)")) +
             ", but the parent run's artifact is " + p.artifact_digest);
  }
  return out;
}

std::vector<LineageProblem> check_receipt_lineage(const std::vector<Receipt>& receipts) {
  std::vector<LineageFacts> facts;
  facts.reserve(receipts.size());
  for (const Receipt& r : receipts) facts.push_back(LineageFacts::of(r));
  return check_receipt_lineage(facts);
}

Result<std::vector<LineageProblem>> check_verified_lineage(const std::string& state_dir,
                                                           const std::vector<LineageFacts>& checked,
                                                           uint64_t first_checked) {
  bool parents_among = true;
  if (first_checked > 1) {
    std::set<std::string_view> ids;
    for (const auto& r : checked) ids.insert(r.id);
    for (const auto& r : checked)
      if (!r.parent.empty() && !ids.count(r.parent)) parents_among = false;
  }
  std::vector<LineageProblem> problems;
  if (parents_among) {
    problems = check_receipt_lineage(checked);
  } else {
    ReceiptFilter everything;
    everything.sandbox = false;
    auto listing = read_receipt_log(state_dir, everything);
    if (!listing) return listing.error();
    problems = check_receipt_lineage(listing->receipts);
  }
  // The same rule whichever way was taken: what the checkpoint covers is not reported.
  std::erase_if(problems, [&](const LineageProblem& p) { return p.line < first_checked; });
  return problems;
}

Decision lineage_decision(const std::vector<LineageProblem>& problems) {
  if (problems.empty()) return Decision::allow();
  return Decision::deny(DenyReason::LineageInconsistency,
                        "line " + std::to_string(problems[0].line) + ": " + problems[0].problem +
                            (problems.size() > 1 ? " (and " + std::to_string(problems.size() - 1) + " more)" : ""),
                        "parent");
}

Result<ReceiptTree> build_receipt_tree(const std::vector<Receipt>& receipts, const std::string& root_id) {
  ReceiptTree tree;
  std::map<std::string, size_t, std::less<>> run_of;  // authorized/denied/finished id -> run
  for (const auto& r : receipts) {
    if (r.decision == ReceiptKind::Authorized || r.decision == ReceiptKind::Denied) {
      run_of[r.id] = tree.runs.size();
      tree.runs.push_back(RunNode{&r, nullptr, {}, false});
    }
  }
  for (const auto& r : receipts)
    if ((r.decision == ReceiptKind::Finished || r.decision == ReceiptKind::NotStarted) && !r.authorized_id.empty()) {
      auto it = run_of.find(r.authorized_id);
      if (it != run_of.end() && !tree.runs[it->second].end) {
        tree.runs[it->second].end = &r;
        run_of[r.id] = it->second;
      }
    }
  for (size_t i = 0; i < tree.runs.size(); ++i) {
    const Receipt& s = *tree.runs[i].start;
    auto it = s.parent.empty() ? run_of.end() : run_of.find(s.parent);
    // A parent must precede its child; anything else is shown as a root
    // (gx log verify reports it), so the tree never has a cycle.
    if (it != run_of.end() && it->second < i && tree.runs[it->second].start->decision == ReceiptKind::Authorized) {
      tree.runs[it->second].children.push_back(i);
    } else {
      tree.runs[i].orphan = !s.parent.empty();
      tree.roots.push_back(i);
    }
  }
  if (root_id.empty()) return tree;
  std::vector<size_t> match;
  for (const auto& [id, run] : run_of)
    if (id == root_id || (root_id.size() >= 8 && id.rfind(root_id, 0) == 0))
      if (std::find(match.begin(), match.end(), run) == match.end()) match.push_back(run);
  if (match.size() != 1)
    return Decision::deny(DenyReason::Usage,
                          match.empty() ? "no run with receipt id " + root_id + " in the log"
                                        : "receipt id prefix " + root_id + " matches more than one run",
                          "--root", root_id);
  tree.roots = {match.front()};
  return tree;
}

namespace {

nlohmann::json node_json(const ReceiptTree& tree, size_t i, int depth) {
  const RunNode& n = tree.runs[i];
  const Receipt& s = *n.start;
  std::string result;
  if (s.decision == ReceiptKind::Denied) result = "denied " + s.reason;
  else if (!n.end) result = "running or lost";
  else if (n.end->decision == ReceiptKind::NotStarted) result = "not-started " + n.end->reason;
  else if (n.end->signal) result = "signal " + std::to_string(n.end->signal);
  else result = "exit " + std::to_string(n.end->exit_code);
  nlohmann::json j = {{"receipt", s.id},
                      {"time", s.time},
                      {"decision", std::string(kind_name(s.decision))},
                      {"result", result},
                      {"argv", s.argv},
                      {"uid", s.uid},
                      {"artifact_id", s.artifact_id},
                      {"artifact_digest", s.artifact_digest},
                      {"issuer", s.issuer},
                      {"signers", s.signers},
                      {"parent", s.parent},
                      {"lineage", s.lineage},
                      {"orphan", n.orphan},
                      {"wall_us", n.end ? n.end->wall_us : 0}};
  nlohmann::json children = nlohmann::json::array();
  // Depth is bounded by the log (parents precede children), but keep the
  // recursion shallow enough for any stack: deeper levels are cut.
  if (depth < 64)
    for (size_t c : n.children) children.push_back(node_json(tree, c, depth + 1));
  else if (!n.children.empty()) j["children_cut"] = n.children.size();
  j["children"] = children;
  return j;
}

}  // namespace

nlohmann::json receipt_tree_json(const ReceiptTree& tree) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t r : tree.roots) out.push_back(node_json(tree, r, 0));
  return out;
}

}  // namespace gx
