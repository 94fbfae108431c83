// The report of one `gx run` request: what was decided and why, what the
// artifact was, the sandbox as planned, the receipts written and how the
// child ended. One value, rendered by ONE to_json, for `gx run --json`,
// `--dry-run`, `--report` (gx-run(1)) and the broker's Report frame
// (lib/broker_request.h result_to_json), whose client reads it back with
// run_report_from_json.
//
// Keys appear only once the pipeline got that far (lib/run_pipeline.h):
//   decision                 always (the request's Decision)
//   dry_run                  --dry-run that was allowed: true
//   lineage, artifact        once the artifact's signatures were checked
//   sandbox, exec_image, child   once the sandbox was planned
//   use, receipt             a spent use; the authorized (or denied) receipt
//   outcome                  the child's end, or {started: false, ...}
//   not_started_receipt      authorized, but the program never started
//   peer                     a brokered run: the caller as the kernel said
//
// Parts another module owns the JSON of (the verification, the lineage
// chain, Landlock's enforcement, the seccomp summary, run-as) are kept as
// that module rendered them. Wire format: unchanged since receipts v3;
// run_report_from_json(to_json(r)) == r, and to_json of what it read gives
// back the same bytes. Top-level keys it does not know (a newer broker's) are kept in
// `unknown` and rendered again, so the client prints the broker's report
// whole.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lib/decision.h"
#include "lib/receipt.h"

namespace gx {

// The sandbox as planned in the parent; also every receipt's "sandbox".
struct SandboxSummary {
  nlohmann::json landlock;                                // Enforcement (lib/landlock.h)
  nlohmann::json seccomp;                                 // FilterSummary (seccomp/filter_builder.h)
  std::vector<std::string> implicit_exec;                 // the program, interpreters, its fd when in place
  std::optional<std::vector<std::string>> implicit_read;  // a script: what the interpreter reads
  bool exec_guard = false;                                // exec = []: no exec after gx's own (lib/exec_guard.h)
  bool exec_in_place = false;                             // else a sealed copy (lib/executable.h)
  bool new_session = true;
  bool no_new_privs = true;
  nlohmann::json run_as;  // PreparedCredentials::summary() (lib/run_as.h); null: none
};

struct ExecImageReport {
  bool in_place = false;
  bool digest_cached = false;
  std::string copy_reason;
};

// The command as it will run: argv, environment (NAME=VALUE), cwd.
struct ChildReport {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;
};

struct UseReport {
  int64_t number = 0;
  int64_t max_uses = 0;
};

// How the child ended (RunOutcome, lib/receipt.h, as the finished receipt
// records it; child_pid is not reported), and how many exec attempts the
// exec guard refused. `started == false`: authorized, never started; then
// only exit_code and signal (from the failed child, if there was one).
struct OutcomeReport {
  bool started = true;
  RunOutcome run;
  int64_t exec_refused = 0;
};

// A brokered run's caller (SO_PEERCRED). pid_pinned: the connecting
// process's pidfd (SO_PEERPIDFD) named `pid` from the moment the connection
// was taken until the run was reported, so `pid` was that process all along
// (lib/broker_peer.h, PeerPin); false when the kernel cannot say or the
// caller was reaped meanwhile (its pid may since name another process).
// pid_inode: that pidfd's inode, unique to the process for the boot on
// pidfs kernels (Linux >= 6.9); 0 unknown. Absent from an older broker's
// report: read as 0.
struct PeerReport {
  int64_t uid = 0;
  int64_t gid = 0;
  int64_t pid = 0;
  bool pid_pinned = false;
  int64_t pid_inode = 0;
};

struct RunReport {
  Decision decision;
  bool dry_run = false;
  nlohmann::json lineage;   // lineage_json (lib/lineage.h); null: not reached
  nlohmann::json artifact;  // verification_json without decision/reason; null: not reached
  std::optional<SandboxSummary> sandbox;
  std::optional<ExecImageReport> exec_image;
  std::optional<ChildReport> child;
  std::optional<UseReport> use;
  std::string receipt;  // the authorized receipt's id, or the denied one's; empty: none
  std::optional<OutcomeReport> outcome;
  std::string not_started_receipt;
  std::optional<PeerReport> peer;
  nlohmann::json unknown = nlohmann::json::object();  // keys from a newer writer, kept verbatim
};

// ChildEnv::NamesOnly renders child.env as "env_names" (the names, never the
// values): what `gx run --report` writes to a file others may read.
enum class ChildEnv { Values, NamesOnly };

nlohmann::json to_json(const SandboxSummary& s);
nlohmann::json to_json(const RunReport& r, ChildEnv env = ChildEnv::Values);
// Strict on the keys it knows (a wrong type is an error naming the key);
// keys it does not know go to `unknown`.
Result<RunReport> run_report_from_json(const nlohmann::json& j);

}  // namespace gx
