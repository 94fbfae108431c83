// gx run [options] ART -- CMD ARGS...: verified, sandboxed, fail-closed execution.
// Only wiring: flags -> RunRequest, RunResult -> messages and exit code.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cmd/common.h"
#include "lib/artifact.h"
#include "lib/broker_client.h"
#include "lib/fsutil.h"
#include "lib/nested_channel.h"
#include "lib/paths.h"
#include "lib/run_pipeline.h"
#include "lib/utf8.h"

extern char** environ;

namespace gx::cli {
namespace {

struct RunOptions {
  std::string artifact, trust, revocations, state, receipt_key, report, broker;
  std::vector<std::string> command, parents;
  bool dry_run = false, json = false, syslog = false;
};

// Where --report goes: its directory, opened before anything runs. The
// command may be able to write where the report goes (a write grant): by
// the time gx writes, it could have replaced a directory of the path with a
// symlink, and gx -- root, perhaps -- would follow it (O_NOFOLLOW guards
// the last component only; review helper-29). The name is then created in
// the directory opened here, wherever it has been moved.
struct ReportTarget {
  fs::UniqueFd dir;
  std::string name;
  Decision error;  // why the directory could not be opened (said at the end, as before)

  static ReportTarget open_for(const std::string& path) {
    ReportTarget t;
    if (path.empty()) return t;
    const size_t slash = path.rfind('/');
    t.name = slash == std::string::npos ? path : path.substr(slash + 1);
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    if (t.name.empty() || t.name == "." || t.name == "..") {
      t.error = Decision::deny(DenyReason::IoError, path + " does not name a file", "report", path);
      return t;
    }
    int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
      t.error = Decision::deny(DenyReason::IoError,
                               "cannot open the directory of " + path + ": " + fs::errno_text(errno), "report", path);
    else t.dir = fs::UniqueFd(fd);
    return t;
  }
};

// Writes the report 0600 whatever the umask. Never follows a symlink
// (O_NOFOLLOW, and the directory was opened before the run), never blocks
// on a FIFO (O_NONBLOCK), and only ever replaces a regular file the caller
// owns: root running gx must not be tricked into truncating another user's
// file or one a link points at.
Decision write_report(const std::string& path, const ReportTarget& target, const nlohmann::json& report) {
  auto fail = [&](const std::string& what, int err) {
    return Decision::deny(DenyReason::IoError, what + " " + path + ": " + fs::errno_text(err), "report", path);
  };
  if (!target.dir.ok()) return target.error;
  int fd = openat(target.dir.get(), target.name.c_str(),
                  O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    if (errno == ELOOP) return Decision::deny(DenyReason::IoError, path + " is a symlink: refused", "report", path);
    return fail("cannot open", errno);
  }
  struct stat st {};
  Decision d = Decision::allow();
  std::string text = json_text(report) + "\n";
  if (fstat(fd, &st) != 0) d = fail("cannot stat", errno);
  else if (!S_ISREG(st.st_mode))
    d = Decision::deny(DenyReason::IoError, path + " is " + fs::file_kind(st.st_mode) + ", not a regular file",
                       "report", path);
  else if (st.st_uid != geteuid())
    d = Decision::deny(DenyReason::IoError,
                       path + " is owned by uid " + std::to_string(st.st_uid) + ", not by the invoking user", "report",
                       path);
  else if (fchmod(fd, 0600) != 0) d = fail("cannot chmod", errno);
  else if (ftruncate(fd, 0) != 0) d = fail("cannot truncate", errno);
  for (size_t off = 0; d && off < text.size();) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) d = fail("cannot write", errno);
    else off += static_cast<size_t>(n);
  }
  if (close(fd) != 0 && d) d = fail("cannot close", errno);
  return d;
}

int finish_run(const RunOptions& o, const ReportTarget& report, const RunResult& r);

// The options only the supervisor chooses, refused on a supervised run;
// `via` names the route.
Decision refuse_supervisor_options(const RunOptions& o, const std::string& via) {
  const char* refused = !o.trust.empty()         ? "--trust"
                        : !o.revocations.empty() ? "--revocations"
                        : !o.state.empty()       ? "--state"
                        : !o.receipt_key.empty() ? "--receipt-key"
                        : o.syslog               ? "--syslog"
                                                 : nullptr;
  if (refused != nullptr)
    return Decision::deny(DenyReason::Usage, std::string(refused) + " cannot be used with " + via +
                                                 ": the supervisor's own configuration chooses the trust store, "
                                                 "revocations, state, receipt key and syslog");
  // The protocol carries one artifact; its chain is the supervisor's to
  // establish (a nested run's parent is the run that owns the channel).
  if (!o.parents.empty())
    return Decision::deny(DenyReason::Usage,
                          "--parent cannot be used with " + via + ": the protocol carries one artifact, not its chain");
  return Decision::allow();
}

// The request a broker or a nested-run channel gets: the artifact's bytes,
// the command, this process's environment and cwd. Its caller refused the
// supervisor's options first (refuse_supervisor_options).
Result<broker::Request> supervised_request(const RunOptions& o, std::vector<std::string> argv, std::string cwd) {
  broker::Request req;
  auto bytes = fs::read_file(o.artifact, kArtifactMaxBytes);
  if (!bytes) {
    Decision d = bytes.error();
    if (d.reason == DenyReason::IoError && !fs::exists(o.artifact))
      d = Decision::deny(DenyReason::MissingAuthorization, "no artifact at " + o.artifact);
    return d;
  }
  req.artifact = bytes.take();
  req.artifact_name = fs::absolute(o.artifact);
  req.argv = std::move(argv);
  // The protocol carries text (the report comes back as JSON): a variable
  // that is not UTF-8 stays behind, said once, rather than refuse the run.
  for (char** e = environ; e && *e; ++e) {
    if (valid_utf8(*e)) {
      req.env.emplace_back(*e);
      continue;
    }
    const std::string_view entry(*e);
    std::fprintf(stderr,
                 "gx: warning: environment variable %.*s is not UTF-8: not sent (the command does not get it)\n",
                 static_cast<int>(std::min(entry.find('='), size_t{64})), *e);
  }
  req.cwd = std::move(cwd);
  // Read before the client catches the forwarded signals (run_on_connection).
  const InheritedSignals signals = InheritedSignals::of_this_process();
  req.ignored_signals = InheritedSignals::bits_of(signals.ignored);
  req.blocked_signals = InheritedSignals::bits_of(signals.blocked);
  req.flags = (o.dry_run ? broker::kFlagDryRun : 0) | (o.json ? broker::kFlagJson : 0);
  return req;
}

int report_request_error(const Decision& d) {
  return d.reason == DenyReason::Usage ? report_error(d.detail) : report_denial(d);
}

// gx run --broker SOCKET: the broker decides with its own trust store,
// revocations, state and receipt key; this process only asks (and writes
// --report with its own rights).
int run_brokered(const RunOptions& o, const ReportTarget& report, std::vector<std::string> argv, std::string cwd) {
  const std::string via = "--broker (or GX_BROKER)";
  if (Decision d = refuse_supervisor_options(o, via); !d) return report_request_error(d);
  // Connected first: the broker hands the connection to its worker while
  // this process builds the request (lib/broker_client.h).
  auto conn = broker::connect_broker(o.broker);
  auto req = supervised_request(o, std::move(argv), std::move(cwd));
  // A request that cannot be built is the first thing to say, broker or not.
  if (!req) return report_request_error(req.error());
  if (!conn) return report_request_error(conn.error());
  // finish_run reads the report only for these.
  if (o.report.empty() && !o.json && !o.dry_run) req->flags |= broker::kFlagNoReport;
  auto r = broker::run_on_broker(o.broker, std::move(*conn), std::move(*req));
  if (!r) return report_denial(r.error());
  return finish_run(o, report, *r);
}

// GX_CHANNEL set: a nested run, asked of the gx that supervises this
// process (lib/nested_channel.h); it decides everything.
int run_nested(const RunOptions& o, const ReportTarget& report, std::vector<std::string> argv, std::string cwd,
               const char* channel) {
  if (!o.broker.empty())
    return report_error(
        "--broker (or GX_BROKER) cannot be used inside a run that has a nested-run channel (GX_CHANNEL)");
  if (Decision d = refuse_supervisor_options(o, "a nested-run channel (GX_CHANNEL)"); !d)
    return report_request_error(d);
  auto req = supervised_request(o, std::move(argv), std::move(cwd));
  if (!req) return report_request_error(req.error());
  auto r = run_over_channel(channel, *req);
  if (!r) return report_denial(r.error());
  return finish_run(o, report, *r);
}

int run_run(const RunOptions& o) {
  RunRequest req;
  req.artifact_path = o.artifact;
  auto cmd = governed_command(o.command);
  if (!cmd) return report_denial(cmd.error());
  req.argv = cmd.take();
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return report_error("cannot read the current directory");
  const ReportTarget report = ReportTarget::open_for(o.report);
  if (const char* channel = getenv(std::string(kChannelEnv).c_str()))
    return run_nested(o, report, std::move(req.argv), cwd, channel);
  if (!o.broker.empty()) return run_brokered(o, report, std::move(req.argv), cwd);
  // Inside a sandbox, only the supervisor may run anything (and it records it).
  if (Decision d = check_not_sandboxed(); !d) return report_denial(d);
  for (char** e = environ; e && *e; ++e) req.env.emplace_back(*e);
  req.cwd = cwd;
  req.log = [](const std::string& line) { std::fprintf(stderr, "gx: supervisor: %s\n", line.c_str()); };
  const auto where = paths::with_defaults(o.trust, o.revocations, o.state);
  req.trust_path = where.trust;
  req.revocations_path = where.revocations;
  req.state_dir = where.state;  // absolute already (paths::with_defaults)
  req.receipt_key = o.receipt_key.empty() ? o.receipt_key : fs::absolute_physical(o.receipt_key);
  req.dry_run = o.dry_run;
  req.parent_artifacts = o.parents;
  req.syslog = o.syslog || getenv("GX_SYSLOG") != nullptr;
  // What the caller ignores and blocks reaches the command, as without gx.
  req.inherited_signals = InheritedSignals::of_this_process();
  // Answered, then gone (kLeaveEarly): the result is reported and gx exits
  // from inside run_governed, before the run's teardown (its SQLite
  // connection, descriptors, threads and memory: ~0.1 ms). Everything that
  // outlives gx is written by then: the receipts, the use store's commits,
  // the report. A SIGINT or SIGTERM that comes after the child was reaped
  // (gx blocks them while it supervises) dies with gx unhandled: the run is
  // over and recorded, and gx exits with the command's status.
  if constexpr (kLeaveEarly) req.on_result = [&o, &report](RunResult& result) { leave(finish_run(o, report, result)); };
  return finish_run(o, report, run_governed(req));
}

int finish_run(const RunOptions& o, const ReportTarget& report, const RunResult& r) {
  for (const auto& w : r.warnings) std::fprintf(stderr, "gx: warning: %s\n", w.c_str());
  if (!o.report.empty()) {
    // The report file outlives the run and may be read by others: it names
    // the child's environment variables but never copies their values.
    if (Decision d = write_report(o.report, report, to_json(r.report, ChildEnv::NamesOnly)); !d)
      std::fprintf(stderr, "gx: warning: --report not written: %s\n", d.explain().c_str());
  }
  // stdout belongs to the child once it runs: JSON only when nothing ran.
  if (o.json && !r.child_ran) std::printf("%s\n", json_text(to_json(r.report)).c_str());
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
    if (!o.json)
      std::fprintf(stderr, "gx: dry run: would run (%s)\n%s\n", o.artifact.c_str(),
                   json_text(to_json(r.report)).c_str());
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
  auto* sub = app.add_subcommand(
      "run", "Verify an artifact, match the invocation, and run it confined: gx run [OPTIONS] ART -- CMD ARGS...");
  sub->add_option("artifact", o->artifact, "Signed artifact file")->required();
  sub->add_option("command", o->command, "The command and its arguments, after --");
  add_authority_options(sub, o->trust, o->revocations, o->state, "State directory: receipts, use store");
  sub->add_option("--receipt-key", o->receipt_key,
                  "Receipt signing key (default: STATE/receipt.key, created on first use)");
  sub->add_option(
      "--report", o->report,
      "Write the JSON decision and outcome to this file (mode 0600; environment variable names, never their values)");
  sub->add_option(
      "--parent", o->parents,
      "A child artifact's ancestor (artifact file, or a directory of *.toml); repeatable. A child runs only "
      "when its whole chain verifies (gx-artifact(5) LINEAGE)");
  sub->add_flag("--dry-run", o->dry_run, "Print the decision and the exact sandbox; run nothing, consume nothing");
  sub->add_flag("--json", o->json, "Print the JSON decision on stdout when the child does not run");
  sub->add_flag("--syslog", o->syslog, "Also send every receipt to syslog (also: GX_SYSLOG=1)");
  sub->add_option("--broker", o->broker,
                  "Ask the gx broker listening on this socket to run it (also: GX_BROKER=SOCKET); the broker's "
                  "configuration chooses trust, revocations, state and receipt key")
      ->envname("GX_BROKER");
  sub->footer(
      "Nested runs: when GX_CHANNEL is set (by a supervising gx, for a command whose artifact has\n"
      "[delegation] nested_runs = true), the request goes over that channel and the supervisor decides\n"
      "and records it as a child of its run. Inside a sandbox without a channel, gx run is denied\n"
      "(lineage-inconsistency). See gx-run(1), NESTED RUNS.\n");
  sub->callback([o, &exit_code] { exit_code = run_run(*o); });
}

}  // namespace gx::cli
