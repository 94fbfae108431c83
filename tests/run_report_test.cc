// lib/run_report: the typed report of one run, its one JSON rendering and
// the reader the broker's client uses.
#include "lib/run_report.h"

#include <catch2/catch.hpp>

using namespace gx;
using json = nlohmann::json;

namespace {

RunReport full_report() {
  RunReport r;
  r.decision = Decision::allow();
  r.lineage = json::array({{{"digest", "sha256:aa"}}});
  r.artifact = {{"artifact_digest", "sha256:aa"}, {"max_uses", 3}};
  SandboxSummary s;
  s.landlock = {{"abi", 6}};
  s.seccomp = {{"allowed", {"read", "execveat"}}};
  s.implicit_exec = {"/bin/true"};
  s.exec_guard = true;
  s.run_as = {{"uid", 1000}};
  r.sandbox = s;
  r.exec_image = ExecImageReport{true, false, ""};
  r.child = ChildReport{{"/bin/true", "-x"}, {"PATH=/bin", "TOKEN=secret=1"}, "/tmp"};
  r.use = UseReport{1, 3};
  r.receipt = "r-1";
  RunOutcome run;
  run.exit_code = 0;
  run.wall_us = 10;
  run.user_cpu_us = 1;
  run.sys_cpu_us = 2;
  run.max_rss_kb = 300;
  r.outcome = OutcomeReport{true, run, 0};
  r.peer = PeerReport{1000, 1000, 42, true, 987654};
  return r;
}

}  // namespace

TEST_CASE("run_report: a denial before anything else is the decision alone") {
  RunReport r;
  r.decision = Decision::deny(DenyReason::Expired, "the window ended", "not_after", "2020-01-01T00:00:00Z");
  CHECK(to_json(r).dump() ==
        R"({"decision":{"decision":"deny","detail":"the window ended","field":"not_after","reason":"expired",)"
        R"("value":"2020-01-01T00:00:00Z"}})");
}

TEST_CASE("run_report: the JSON shape of a finished run") {
  json j = to_json(full_report());
  CHECK(j["decision"] == json{{"decision", "allow"}, {"reason", "allow"}});
  CHECK_FALSE(j.contains("dry_run"));
  CHECK(j["sandbox"]["implicit_exec"] == json{"/bin/true"});
  CHECK_FALSE(j["sandbox"].contains("implicit_read"));
  CHECK(j["sandbox"]["new_session"] == true);
  CHECK(j["sandbox"]["no_new_privs"] == true);
  CHECK(j["sandbox"]["run_as"]["uid"] == 1000);
  CHECK(j["child"]["env"] == json{"PATH=/bin", "TOKEN=secret=1"});
  CHECK(j["use"] == json{{"number", 1}, {"max_uses", 3}});
  CHECK(j["outcome"].size() == 8);
  CHECK_FALSE(j["outcome"].contains("started"));
  CHECK(j["peer"]["pid_pinned"] == true);
  CHECK(j["peer"]["pid_inode"] == 987654);
  CHECK_FALSE(j.contains("not_started_receipt"));
}

TEST_CASE("run_report: ChildEnv::NamesOnly never renders a value") {
  json j = to_json(full_report(), ChildEnv::NamesOnly);
  CHECK_FALSE(j["child"].contains("env"));
  CHECK(j["child"]["env_names"] == json{"PATH", "TOKEN"});
  CHECK(j.dump().find("secret") == std::string::npos);
}

TEST_CASE("run_report: a program that never started") {
  RunReport r;
  r.decision = Decision::deny(DenyReason::SandboxUnavailable, "landlock failed");
  auto& o = r.outcome.emplace();
  o.started = false;
  o.run.exit_code = -1;
  r.not_started_receipt = "r-2";
  json j = to_json(r);
  CHECK(j["outcome"] == json{{"started", false}, {"exit_code", -1}, {"signal", 0}});
  auto back = run_report_from_json(j);
  REQUIRE(back.ok());
  CHECK_FALSE(back->outcome->started);
  CHECK(to_json(*back) == j);
}

TEST_CASE("run_report: read back gives the same bytes, unknown keys kept") {
  json j = to_json(full_report());
  j["from_a_newer_broker"] = {{"x", 1}};
  auto back = run_report_from_json(j);
  REQUIRE(back.ok());
  CHECK(back->child->argv == std::vector<std::string>{"/bin/true", "-x"});
  CHECK(back->peer->pid == 42);
  CHECK(back->peer->pid_inode == 987654);
  CHECK(to_json(*back).dump() == j.dump());
}

TEST_CASE("run_report: an older broker's peer has no pid_inode: read as 0") {
  json j = to_json(full_report());
  j["peer"].erase("pid_inode");
  auto back = run_report_from_json(j);
  REQUIRE(back.ok());
  CHECK(back->peer->pid_inode == 0);
  CHECK(back->peer->pid_pinned);
  j["peer"]["pid_inode"] = "1";
  auto wrong = run_report_from_json(j);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().field == "peer.pid_inode");
}

TEST_CASE("run_report: a known key of the wrong type is refused, naming it") {
  json j = to_json(full_report());
  SECTION("nested") {
    j["outcome"]["wall_us"] = "10";
    auto back = run_report_from_json(j);
    REQUIRE_FALSE(back.ok());
    CHECK(back.error().field == "outcome.wall_us");
  }
  SECTION("top level") {
    j["receipt"] = 7;
    auto back = run_report_from_json(j);
    REQUIRE_FALSE(back.ok());
    CHECK(back.error().field == "receipt");
  }
  SECTION("the decision") {
    j["decision"]["reason"] = "no-such-reason";
    CHECK_FALSE(run_report_from_json(j).ok());
  }
  SECTION("not an object") { CHECK_FALSE(run_report_from_json(json::array()).ok()); }
}
