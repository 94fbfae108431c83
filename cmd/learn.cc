// gx learn [options] -- CMD ARGS...: RUN the command once under observation
// and write an unsigned artifact whose sandbox is what that run needed.
// Only wiring: flags -> LearnRequest, LearnResult -> files and messages.
#include "lib/learn.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "cmd/common.h"
#include "cmd/template_flags.h"
#include "lib/authority.h"
#include "lib/fsutil.h"
#include "lib/paths.h"
#include "lib/receipt_key.h"

extern char** environ;

namespace gx::cli {
namespace {

struct LearnOptions {
  TemplateFlags t;
  std::string output, trust, state;
  bool force = false, profile_only = false, keep_failed = false;
  bool allow_dangerous = false, exact_syscalls = false;
};

int run_learn(const LearnOptions& o) {
  LearnRequest req;
  auto t = template_request(o.t);
  if (!t) return report_denial(t.error());
  req.tmpl = t.take();
  for (char** e = environ; e && *e; ++e) req.env.emplace_back(*e);
  const auto where = paths::with_defaults(o.trust, "", o.state);
  req.protect = own_files(where.state, where.trust, where.revocations, "");
  req.allow_dangerous = o.allow_dangerous;
  req.exact_syscalls = o.exact_syscalls;
  const bool to_stdout = o.output.empty() || o.output == "-";
  // stdout carries the artifact: the command's own stdout goes to stderr.
  req.stdout_to_stderr = to_stdout;
  req.signals = InheritedSignals::of_this_process();
  if (!to_stdout && !o.force && fs::exists(o.output))
    return report_error(o.output + " exists (use --force to replace it); nothing was run");

  std::fprintf(stderr, "gx: learning: running %s for real, unconfined, under observation\n", req.tmpl.argv[0].c_str());
  auto r = learn(req);
  if (!r) return report_denial(r.error());
  for (const auto& w : r->warnings) std::fprintf(stderr, "gx: warning: %s\n", w.c_str());
  const auto& obs = r->observed;
  // A failed run usually took an error path (command not found, missing
  // input): its sandbox is not the one the real job needs. Say so loudly.
  if (r->exit_status != 0 && !o.keep_failed) {
    std::fprintf(stderr,
                 "gx: error: the command FAILED while it was learned (exit status %d): no artifact written.\n"
                 "gx: error: fix the command and learn again, or pass --keep-failed to write the artifact anyway\n",
                 r->exit_status);
    return kExitError;
  }
  if (r->exit_status != 0)
    std::fprintf(stderr,
                 "gx: warning: the command FAILED while it was learned (exit status %d); writing the artifact "
                 "anyway (--keep-failed)\n",
                 r->exit_status);

  std::string text = o.profile_only ? sandbox_table(r->artifact.body) : r->artifact.body;
  if (to_stdout) {
    fwrite(text.data(), 1, text.size(), stdout);
  } else {
    auto ow = o.force ? fs::Overwrite::Yes : fs::Overwrite::No;
    if (Decision d = fs::write_file_atomic(o.output, text, 0644, ow); !d) return report_denial(d);
  }
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
  sub->add_option("-o,--output", o->output,
                  "Artifact file to write (default: stdout; the command's stdout then goes to stderr)");
  sub->add_flag("-f,--force", o->force, "Replace an existing output file");
  sub->add_flag("--keep-failed", o->keep_failed,
                "Write the artifact even when the command exits nonzero (by default that is an error, exit 125)");
  sub->add_flag("--profile-only", o->profile_only,
                "Write only the learned [sandbox] table instead of a whole artifact");
  sub->add_flag("--allow-dangerous", o->allow_dangerous,
                "Also allow dangerous/probed syscalls the run used (ptrace, bpf, io_uring_*, clone3...); warns");
  sub->add_flag("--exact-syscalls", o->exact_syscalls,
                "Name every syscall outside \"default\" instead of adding groups");
  add_template_flags(sub, o->t, "Let NAME pass to the command, or pin NAME=VALUE (repeatable); others are stripped");
  sub->add_option("--trust", o->trust, "Trust store whose directory is never learned (default as gx run)");
  sub->add_option("--state", o->state, "State directory that is never learned (default as gx run)");
  sub->footer(
      "WARNING: the command really runs, with your privileges and without a sandbox, exactly once.\n"
      "The artifact allows only what that one run did; review it before signing. Exit status: 0 when\n"
      "the artifact was written (the command's own status is reported on stderr), 125/126 otherwise;\n"
      "a command that exits nonzero writes nothing and gives 125 unless --keep-failed.\n");
  sub->callback([o, &exit_code] { exit_code = run_learn(*o); });
}

}  // namespace gx::cli
