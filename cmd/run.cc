// gx run [options] ART -- CMD ARGS...: verified, sandboxed, fail-closed execution.
// Only wiring: flags -> RunRequest, RunResult -> messages and exit code.
#include <unistd.h>

#include <cstdio>

#include "cmd/common.h"
#include "lib/fsutil.h"
#include "lib/paths.h"
#include "lib/run_pipeline.h"

extern char** environ;

namespace gx::cli {
namespace {

struct RunOptions {
  std::string artifact, trust, revocations, state, receipt_key, report;
  std::vector<std::string> command;
  bool dry_run = false, json = false, syslog = false;
};

int run_run(const RunOptions& o) {
  RunRequest req;
  req.artifact_path = o.artifact;
  auto cmd = governed_command(o.command);
  if (!cmd) return report_denial(cmd.error());
  req.argv = cmd.take();
  for (char** e = environ; e && *e; ++e) req.env.emplace_back(*e);
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return report_error("cannot read the current directory");
  req.cwd = cwd;
  req.trust_path = o.trust.empty() ? paths::default_trust_store() : o.trust;
  req.revocations_path = o.revocations.empty() ? paths::default_revocations(req.trust_path) : o.revocations;
  req.state_dir = fs::absolute(o.state.empty() ? paths::default_state_dir() : o.state);
  req.receipt_key = o.receipt_key;
  req.dry_run = o.dry_run;
  req.syslog = o.syslog || getenv("GX_SYSLOG") != nullptr;

  RunResult r = run_governed(req);
  for (const auto& w : r.warnings) std::fprintf(stderr, "gx: warning: %s\n", w.c_str());
  if (!o.report.empty()) {
    std::string text = r.report.dump(2) + "\n";
    if (Decision d = fs::write_file_atomic(o.report, text, 0644, fs::Overwrite::Yes); !d)
      std::fprintf(stderr, "gx: warning: %s\n", d.explain().c_str());
  }
  // stdout belongs to the child once it runs: JSON only when nothing ran.
  if (o.json && !r.child_ran) std::printf("%s\n", r.report.dump(2).c_str());
  if (r.not_started) {
    // Authorized and recorded, but the program never ran: not the
    // command's status, not a denial (docs: gx-run(1) EXIT STATUS).
    if (!o.json)
      std::fprintf(stderr, "gx: not started (%s): %s\n", std::string(r.decision.code()).c_str(),
                   r.decision.explain().c_str());
    return kExitNotStarted;
  }
  if (!r.decision) return o.json ? exit_code_for(r.decision) : report_denial(r.decision);
  if (o.dry_run) {
    if (!o.json) std::fprintf(stderr, "gx: dry run: would run (%s)\n%s\n", o.artifact.c_str(), r.report.dump(2).c_str());
    return kExitOk;
  }
  if (r.record_failed) {
    std::fprintf(stderr,
                 "gx: error: the command ran (status %d) but its finished receipt could not be written: "
                 "the run has no complete record\n",
                 r.exit_status);
    return kExitError;
  }
  return r.exit_status;
}

}  // namespace

void setup_run(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<RunOptions>();
  auto* sub = app.add_subcommand("run", "Verify an artifact, match the invocation, and run it confined: gx run [OPTIONS] ART -- CMD ARGS...");
  sub->add_option("artifact", o->artifact, "Signed artifact file")->required();
  sub->add_option("command", o->command, "The command and its arguments, after --");
  sub->add_option("--trust", o->trust, "Trust store file");
  sub->add_option("--revocations", o->revocations, "Revocation list (default: revocations.toml beside the trust store)");
  sub->add_option("--state", o->state, "State directory: receipts, use store (default $XDG_STATE_HOME/gx; root /var/lib/gx)");
  sub->add_option("--receipt-key", o->receipt_key, "Receipt signing key (default: STATE/receipt.key, created on first use)");
  sub->add_option("--report", o->report, "Write the JSON decision and outcome to this file");
  sub->add_flag("--dry-run", o->dry_run, "Print the decision and the exact sandbox; run nothing, consume nothing");
  sub->add_flag("--json", o->json, "Print the JSON decision on stdout when the child does not run");
  sub->add_flag("--syslog", o->syslog, "Also send every receipt to syslog (also: GX_SYSLOG=1)");
  sub->callback([o, &exit_code] { exit_code = run_run(*o); });
}

}  // namespace gx::cli
