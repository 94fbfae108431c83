// The execution tree and gx log verify's lineage checks (lib/receipt_lineage.h),
// over receipts written to and read back from a real receipt log.
#include "lib/receipt_lineage.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "lib/receipt.h"
#include "lib/receipt_log.h"
#include "lib/receipt_verify.h"

using namespace gx;
namespace stdfs = std::filesystem;

namespace {

struct TempState {
  std::string path;
  TempState() {
    char tmpl[] = "/tmp/gx-lineage-log-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempState() {
    std::error_code ec;
    stdfs::remove_all(path, ec);
  }
};

const std::string kPerson = "sha256:" + std::string(64, '1');
const std::string kAgent = "sha256:" + std::string(64, '2');
const std::string kTool = "sha256:" + std::string(64, '3');

struct Log {
  TempState dir;
  ReceiptLog log = ReceiptLog::open(dir.path + "/state").take();

  Receipt subject(const std::string& digest, std::vector<std::string> lineage, const std::string& parent,
                  std::vector<std::string> argv) {
    Receipt r = receipt_for_this_process();
    r.artifact_digest = digest;
    r.artifact_id = digest.substr(7, 8);
    r.signers = {"sha256:" + std::string(64, 'k')};
    r.lineage = std::move(lineage);
    r.parent = parent;
    r.argv = std::move(argv);
    return r;
  }
  // authorized + finished; returns the authorized id
  std::string run(const std::string& digest, std::vector<std::string> lineage, const std::string& parent,
                  std::vector<std::string> argv, int64_t exit_code = 0) {
    Receipt s = subject(digest, std::move(lineage), parent, std::move(argv));
    auto a = log.append(make_authorized(s));
    REQUIRE(a.ok());
    RunOutcome o;
    o.exit_code = exit_code;
    o.wall_us = 1500;
    REQUIRE(log.append(make_finished(s, a->id, o)).ok());
    return a->id;
  }
  std::vector<Receipt> receipts() {
    auto listing = read_receipt_log(dir.path + "/state");
    REQUIRE(listing.ok());
    REQUIRE(listing->unreadable_lines == 0);
    return listing->receipts;
  }
};

}  // namespace

TEST_CASE("person -> agent -> tool -> sub-tool is one tree, and consistent") {
  Log l;
  std::string agent = l.run(kPerson, {}, "", {"agent"});
  std::string tool = l.run(kAgent, {kPerson}, agent, {"tool", "a"});
  std::string sub = l.run(kTool, {kAgent, kPerson}, tool, {"sub-tool"}, 3);
  l.run(kAgent, {kPerson}, agent, {"tool", "b"});
  l.run(kPerson, {}, "", {"other-session"});
  auto receipts = l.receipts();
  REQUIRE(receipts.size() == 10);
  CHECK(receipts[2].lineage == std::vector<std::string>{kPerson});  // v3 round trip
  CHECK(check_receipt_lineage(receipts).empty());

  auto tree = build_receipt_tree(receipts);
  REQUIRE(tree.ok());
  REQUIRE(tree->roots.size() == 2);
  nlohmann::json j = receipt_tree_json(*tree);
  CHECK(j[0]["receipt"] == agent);
  REQUIRE(j[0]["children"].size() == 2);
  CHECK(j[0]["children"][0]["receipt"] == tool);
  CHECK(j[0]["children"][0]["children"][0]["receipt"] == sub);
  CHECK(j[0]["children"][0]["children"][0]["result"] == "exit 3");
  CHECK(j[0]["children"][0]["children"][0]["wall_us"] == 1500);
  CHECK(j[1]["argv"][0] == "other-session");
  CHECK(j[1]["children"].empty());

  auto sub_tree = build_receipt_tree(receipts, tool.substr(0, 10));
  REQUIRE(sub_tree.ok());
  nlohmann::json s = receipt_tree_json(*sub_tree);
  REQUIRE(s.size() == 1);
  CHECK(s[0]["receipt"] == tool);
  CHECK(s[0]["children"].size() == 1);
  CHECK(build_receipt_tree(receipts, "0123456789abcdef").error().reason == DenyReason::Usage);
  CHECK(build_receipt_tree(receipts, "ab").error().reason == DenyReason::Usage);  // too short a prefix
}

TEST_CASE("log lineage problems: missing, later, not authorized, artifact not named") {
  Log l;
  std::string agent = l.run(kPerson, {}, "", {"agent"});
  SECTION("a parent receipt that is not in the log") {
    l.run(kAgent, {kPerson}, std::string(32, 'f'), {"tool"});
    auto p = check_receipt_lineage(l.receipts());
    REQUIRE(p.size() == 2);  // its authorized and its finished receipt
    CHECK(p[0].line == 3);
    CHECK(p[1].line == 4);
    CHECK(p[0].problem.find("is not in the log") != std::string::npos);
    auto receipts = l.receipts();  // the tree points into it
    auto tree = build_receipt_tree(receipts);
    CHECK(tree->roots.size() == 2);
    CHECK(receipt_tree_json(*tree)[1]["orphan"] == true);
  }
  SECTION("a child whose artifact names another parent") {
    l.run(kTool, {kAgent}, agent, {"tool"});
    auto p = check_receipt_lineage(l.receipts());
    REQUIRE(p.size() == 2);
    CHECK(p[0].problem.find("names parent " + kAgent) != std::string::npos);
    CHECK(p[0].problem.find(kPerson) != std::string::npos);
  }
  SECTION("a child whose artifact names no parent") {
    l.run(kTool, {}, agent, {"tool"});
    CHECK(check_receipt_lineage(l.receipts()).size() == 2);
  }
  SECTION("a nested request denied before its chain verified: no lineage, and nothing ran") {
    Receipt d = l.subject(kTool, {}, agent, {"rm"});
    REQUIRE(l.log.append(make_denied(d, Decision::deny(DenyReason::LineageInconsistency, "wider"))).ok());
    CHECK(check_receipt_lineage(l.receipts()).empty());
    // A denial that does record a lineage must still name the parent's artifact.
    Receipt wrong = l.subject(kTool, {kAgent}, agent, {"tool"});
    REQUIRE(l.log.append(make_denied(wrong, Decision::deny(DenyReason::Replay, "spent"))).ok());
    auto p = check_receipt_lineage(l.receipts());
    REQUIRE(p.size() == 1);
    CHECK(p[0].problem.find("names parent " + kAgent) != std::string::npos);
  }
  SECTION("a parent that is a finished or denied receipt") {
    auto receipts = l.receipts();
    const std::string finished = receipts[1].id;
    l.run(kAgent, {kPerson}, finished, {"tool"});
    Receipt d = l.subject(kAgent, {kPerson}, "", {"denied"});
    auto denied = l.log.append(make_denied(d, Decision::deny(DenyReason::Replay, "x")));
    REQUIRE(denied.ok());
    l.run(kAgent, {kPerson}, denied->id, {"tool"});
    auto p = check_receipt_lineage(l.receipts());
    REQUIRE(p.size() == 4);  // authorized + finished of each child
    CHECK(p[0].problem.find("a finished receipt, not an authorized run") != std::string::npos);
    CHECK(p[2].problem.find("a denied receipt, not an authorized run") != std::string::npos);
  }
  SECTION("a parent that does not precede its child") {
    auto receipts = l.receipts();
    receipts[0].parent = receipts[1].id;  // the root claims its own finished receipt, later in the log
    auto p = check_receipt_lineage(receipts);
    REQUIRE(p.size() == 1);
    CHECK(p[0].problem.find("does not precede it") != std::string::npos);
    auto tree = build_receipt_tree(receipts);
    CHECK(tree->roots.size() == 1);  // shown as a root: no cycle
  }
  SECTION("an old receipt with a claimed parent") {
    auto receipts = l.receipts();
    Receipt old = receipts[1];
    old.version = 2;
    old.seq = 3;
    old.id = std::string(32, 'e');
    old.decision = ReceiptKind::Authorized;
    old.parent = agent;
    receipts.push_back(old);
    auto p = check_receipt_lineage(receipts);
    REQUIRE(p.size() == 1);
    CHECK(p[0].problem.find("claimed, not proven") != std::string::npos);
  }
}

TEST_CASE("gx log verify's lineage: from the verification's own parse, incremental only over what is new") {
  Log l;
  std::string agent = l.run(kPerson, {}, "", {"agent"});
  auto verify = [&](const std::optional<Checkpoint>& cp, bool incremental) {
    std::vector<LineageFacts> checked;
    LogVerifyOptions mode;
    mode.incremental = incremental;
    mode.verified = &checked;
    auto rep = verify_receipt_log(l.dir.path + "/state", l.log.public_key(), cp, mode);
    REQUIRE(rep.ok());
    REQUIRE(rep->intact);
    auto problems = check_verified_lineage(l.dir.path + "/state", checked, rep->first_checked);
    REQUIRE(problems.ok());
    return std::make_pair(checked, problems.take());
  };

  SECTION("a whole log: every line parsed once, the same problems as reading it again; no checkpoint of it") {
    l.run(kTool, {kAgent}, agent, {"wrong"});  // lines 3-4: names another parent
    auto [checked, problems] = verify(std::nullopt, false);
    REQUIRE(checked.size() == 4);
    for (size_t i = 0; i < checked.size(); ++i) CHECK(checked[i].seq == i + 1);
    auto again = check_receipt_lineage(l.receipts());
    REQUIRE(problems.size() == 2);
    REQUIRE(again.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      CHECK(problems[i].line == again[i].line);
      CHECK(problems[i].problem == again[i].problem);
    }
    CHECK(lineage_decision(problems).reason == DenyReason::LineageInconsistency);
    CHECK(lineage_decision(problems).explain().find("line 3") != std::string::npos);
    CHECK(lineage_decision({}));
    // A checkpoint vouches only for a log gx log verify accepts.
    auto cp = l.log.checkpoint();
    REQUIRE_FALSE(cp.ok());
    CHECK(cp.error().reason == DenyReason::LineageInconsistency);
  }
  SECTION("incremental") {
    auto cp = l.log.checkpoint();  // lines 1-2, consistent
    REQUIRE(cp.ok());
    SECTION("nested runs all after the checkpoint: only the new lines are read") {
      std::string agent2 = l.run(kPerson, {}, "", {"agent2"});
      l.run(kAgent, {kPerson}, agent2, {"tool"});
      l.run(kTool, {kAgent}, agent2, {"wrong"});  // lines 7-8
      auto [checked, problems] = verify(*cp, true);
      REQUIRE(checked.size() == 6);
      CHECK(checked.front().seq == 3);
      REQUIRE(problems.size() == 2);
      CHECK(problems[0].line == 7);
    }
    SECTION("a new run whose parent precedes the checkpoint: found by reading the whole log") {
      l.run(kAgent, {kPerson}, agent, {"tool"});  // lines 3-4: consistent, its parent is line 1
      l.run(kTool, {kAgent}, agent, {"wrong"});   // lines 5-6
      auto [checked, problems] = verify(*cp, true);
      REQUIRE(checked.size() == 4);
      REQUIRE(problems.size() == 2);  // not "parent not in the log" for lines 3-4
      CHECK(problems[0].line == 5);
      CHECK(problems[0].problem.find("names parent " + kAgent) != std::string::npos);
    }
    SECTION("nothing new") {
      auto [checked, problems] = verify(*cp, true);
      CHECK(checked.empty());
      CHECK(problems.empty());
    }
  }
  SECTION("what a checkpoint covered is never reported by an incremental check, whichever way it reads") {
    // As after a checkpoint an earlier gx made without the parent checks.
    l.run(kTool, {kAgent}, agent, {"wrong"});   // lines 3-4
    l.run(kAgent, {kPerson}, agent, {"tool"});  // lines 5-6: parent before line 5
    auto all = l.receipts();
    std::vector<LineageFacts> fresh, whole_log;
    for (const Receipt& r : all) whole_log.push_back(LineageFacts::of(r));
    fresh.assign(whole_log.begin() + 4, whole_log.end());
    auto problems = check_verified_lineage(l.dir.path + "/state", fresh, 5);
    REQUIRE(problems.ok());
    CHECK(problems->empty());
    auto whole = check_verified_lineage(l.dir.path + "/state", whole_log, 1);
    REQUIRE(whole.ok());
    CHECK(whole->size() == 2);
  }
}
