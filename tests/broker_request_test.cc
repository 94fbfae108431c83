#include "lib/broker_request.h"

#include <catch2/catch.hpp>

namespace gx::broker {
namespace {

RunResult sample_result() {
  RunResult r;
  r.decision = Decision::allow();
  r.report.decision = r.decision;
  r.report.receipt = "r-authorized";
  r.report.use = UseReport{1, 3};
  r.report.child = ChildReport{{"/bin/true"}, {"HOME=/root"}, "/"};
  r.child_ran = true;
  r.exit_status = 7;
  r.record_failed = true;
  r.warnings = {"first warning", "second warning"};
  return r;
}

TEST_CASE("the Report frame's JSON round-trips, with the run report") {
  const RunResult r = sample_result();
  const nlohmann::json j = result_to_json(r);
  REQUIRE(j.contains("report"));
  auto back = result_from_json(j);
  REQUIRE(back);
  CHECK(back->report.receipt == "r-authorized");
  REQUIRE(back->report.use);
  CHECK(back->report.use->max_uses == 3);
  REQUIRE(back->report.child);
  CHECK(back->report.child->env == std::vector<std::string>{"HOME=/root"});
  CHECK(back->exit_status == 7);
}

TEST_CASE("without the run report (kFlagNoReport) the client still gets what it acts on") {
  const RunResult r = sample_result();
  const nlohmann::json j = result_to_json(r, false);
  CHECK_FALSE(j.contains("report"));
  // Nothing of the report leaks in another key: the child's environment
  // is not sent back.
  CHECK(j.dump().find("HOME=/root") == std::string::npos);
  auto back = result_from_json(j);
  REQUIRE(back);
  CHECK(back->decision.allowed());
  CHECK(back->child_ran);
  CHECK(back->record_failed);
  CHECK_FALSE(back->not_started);
  CHECK(back->exit_status == 7);
  CHECK(back->warnings == r.warnings);
  CHECK(back->report.receipt.empty());
  CHECK_FALSE(back->report.child);
}

TEST_CASE("a denial without the run report keeps its reason, field and value") {
  RunResult r;
  r.decision = Decision::deny(DenyReason::PolicyMismatch, "argv[1] differs", "argv[1]", "x");
  r.report.decision = r.decision;
  auto back = result_from_json(result_to_json(r, false));
  REQUIRE(back);
  CHECK_FALSE(back->decision.allowed());
  CHECK(back->decision.reason == DenyReason::PolicyMismatch);
  CHECK(back->decision.detail == "argv[1] differs");
  CHECK(back->decision.field == "argv[1]");
  CHECK(back->decision.value == "x");
}

}  // namespace
}  // namespace gx::broker
