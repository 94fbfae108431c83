// gx learn [options] -- CMD ARGS...: RUN the command once under observation
// and write an unsigned artifact whose sandbox is what that run needed.
// Only wiring: flags -> LearnRequest, LearnResult -> files and messages.
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "cmd/common.h"
#include "lib/fsutil.h"
#include "lib/learn.h"
#include "lib/paths.h"
#include "lib/receipt_key.h"

extern char** environ;

namespace gx::cli {
namespace {

struct LearnOptions {
  std::string output, ttl, not_before, not_after, issuer, reason, ticket, parent, trust, state;
  uint32_t max_uses = 1;
  std::vector<std::string> env, pin, command;
  bool force = false, no_bind_user = false, no_bind_host = false, profile_only = false;
  bool allow_dangerous = false, exact_syscalls = false;
};

// The same files gx run keeps from its child (lib/run_pipeline.cc).
ProtectedPaths gx_own_paths(const LearnOptions& o) {
  std::string trust = o.trust.empty() ? paths::default_trust_store() : o.trust;
  std::string state = fs::absolute(o.state.empty() ? paths::default_state_dir() : o.state);
  ProtectedPaths p;
  p.no_write = {state, fs::dirname(fs::absolute(trust)), fs::dirname(fs::absolute(paths::default_revocations(trust)))};
  std::string self = fs::canonical("/proc/self/exe");
  if (!self.empty()) p.no_write.push_back(self);
  p.no_access = {state + "/" + std::string(kReceiptKeyFile)};
  return p;
}

int run_learn(const LearnOptions& o) {
  LearnRequest req;
  TemplateRequest& t = req.tmpl;
  t.argv = o.command;
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return report_error("cannot read the current directory");
  t.cwd = cwd;
  if (const char* p = getenv("PATH")) t.path_env = p;
  t.now = static_cast<UnixTime>(time(nullptr));
  if (!o.ttl.empty()) {
    auto ttl = parse_duration(o.ttl);
    if (!ttl || *ttl <= 0) return report_error("--ttl takes a duration like 90s, 15m, 2h, 1d, 1w: " + o.ttl);
    t.ttl_seconds = *ttl;
  }
  if (o.not_before.empty() != o.not_after.empty()) return report_error("--not-before and --not-after go together");
  if (!o.not_before.empty()) {
    t.not_before = parse_utc(o.not_before);
    t.not_after = parse_utc(o.not_after);
    if (!t.not_before || !t.not_after) return report_error("times must be RFC 3339 UTC like 2026-12-01T02:00:00Z");
  }
  t.max_uses = o.max_uses;
  t.issuer = o.issuer;
  if (t.issuer.empty()) {
    const char* u = getenv("USER");
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    t.issuer = std::string(u ? u : std::to_string(getuid())) + "@" + host;
  }
  t.reason = o.reason;
  t.ticket = o.ticket;
  t.env = o.env;
  t.pin_files = o.pin;
  t.parent = o.parent;
  t.bind_user = !o.no_bind_user;
  t.bind_host = !o.no_bind_host;
  for (char** e = environ; e && *e; ++e) req.env.emplace_back(*e);
  req.protect = gx_own_paths(o);
  req.allow_dangerous = o.allow_dangerous;
  req.exact_syscalls = o.exact_syscalls;
  const bool to_stdout = o.output.empty() || o.output == "-";
  // stdout carries the artifact: the command's own stdout goes to stderr.
  req.stdout_to_stderr = to_stdout;
  if (!to_stdout && !o.force && fs::exists(o.output))
    return report_error(o.output + " exists (use --force to replace it); nothing was run");

  std::fprintf(stderr, "gx: learning: running %s for real, unconfined, under observation\n", o.command[0].c_str());
  auto r = learn(req);
  if (!r) return report_denial(r.error());
  for (const auto& w : r->warnings) std::fprintf(stderr, "gx: warning: %s\n", w.c_str());

  std::string text = o.profile_only ? sandbox_table(r->artifact.body) : r->artifact.body;
  if (to_stdout) {
    fwrite(text.data(), 1, text.size(), stdout);
  } else {
    auto ow = o.force ? fs::Overwrite::Yes : fs::Overwrite::No;
    if (Decision d = fs::write_file_atomic(o.output, text, 0644, ow); !d) return report_denial(d);
  }
  const auto& obs = r->observed;
  std::fprintf(stderr, "gx: learned from one run: %zu syscalls seen (%zu distinct), command exited with status %d\n",
               static_cast<size_t>(obs.notifications), obs.syscalls.size(), r->exit_status);
  if (!to_stdout)
    std::fprintf(stderr, "gx: wrote %s; review it (learning saw ONE run), then: gx sign -k KEY %s\n", o.output.c_str(),
                 o.output.c_str());
  return kExitOk;
}

}  // namespace

void setup_learn(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<LearnOptions>();
  auto* sub = app.add_subcommand(
      "learn",
      "RUN a command once, unconfined but observed, and write an unsigned artifact whose sandbox is what that run "
      "needed: gx learn [OPTIONS] -- CMD ARGS...");
  sub->add_option("-o,--output", o->output, "Artifact file to write (default: stdout; the command's stdout then goes to stderr)");
  sub->add_flag("-f,--force", o->force, "Replace an existing output file");
  sub->add_flag("--profile-only", o->profile_only, "Write only the learned [sandbox] table instead of a whole artifact");
  sub->add_flag("--allow-dangerous", o->allow_dangerous,
                "Also allow dangerous/probed syscalls the run used (ptrace, bpf, io_uring_*, clone3...); warns");
  sub->add_flag("--exact-syscalls", o->exact_syscalls, "Name every syscall outside \"default\" instead of adding groups");
  sub->add_option("--ttl", o->ttl, "Validity from now: 90s, 15m, 2h, 1d, 1w (default 15m)");
  sub->add_option("--not-before", o->not_before, "Start of validity (RFC 3339 UTC, with --not-after)");
  sub->add_option("--not-after", o->not_after, "End of validity (RFC 3339 UTC, with --not-before)");
  sub->add_option("--max-uses", o->max_uses, "How many runs it authorizes (default 1)")->check(CLI::Range(1u, 1000000u));
  sub->add_option("--issuer", o->issuer, "Who requests it (default USER@HOST)");
  sub->add_option("--reason", o->reason, "Why it is needed (governance record)");
  sub->add_option("--ticket", o->ticket, "Ticket or change reference");
  sub->add_option("--env", o->env, "Let NAME pass to the command, or pin NAME=VALUE (repeatable); others are stripped");
  sub->add_option("--pin", o->pin, "Pin the SHA-256 of a file the command depends on (repeatable)");
  sub->add_option("--parent", o->parent, "Lineage: digest of the parent artifact (sha256:...)");
  sub->add_option("--trust", o->trust, "Trust store whose directory is never learned (default as gx run)");
  sub->add_option("--state", o->state, "State directory that is never learned (default as gx run)");
  sub->add_flag("--no-bind-user", o->no_bind_user, "Do not bind the artifact to the current uid");
  sub->add_flag("--no-bind-host", o->no_bind_host, "Do not bind the artifact to this host's name and machine-id");
  sub->add_option("command", o->command, "The command and its arguments, after --")->required();
  sub->footer(
      "WARNING: the command really runs, with your privileges and without a sandbox, exactly once.\n"
      "The artifact allows only what that one run did; review it before signing. Exit status: 0 when\n"
      "the artifact was written (the command's own status is reported on stderr), 125/126 otherwise.");
  sub->callback([o, &exit_code] { exit_code = run_learn(*o); });
}

}  // namespace gx::cli
