// gx init [options] -- CMD ARGS...: write an unsigned artifact for exactly that invocation.
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "cmd/common.h"
#include "lib/artifact_template.h"
#include "lib/fsutil.h"

namespace gx::cli {
namespace {

struct InitOptions {
  std::string output, ttl, not_before, not_after, issuer, reason, ticket, net = "none", parent;
  uint32_t max_uses = 1;
  std::vector<std::string> env, read, write, exec, pin, command;
  bool force = false, no_bind_user = false, no_bind_host = false;
};

int run_init(const InitOptions& o) {
  TemplateRequest req;
  req.argv = o.command;
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return report_error("cannot read the current directory");
  req.cwd = cwd;
  if (const char* p = getenv("PATH")) req.path_env = p;
  req.now = static_cast<UnixTime>(time(nullptr));
  if (!o.ttl.empty()) {
    auto t = parse_duration(o.ttl);
    if (!t || *t <= 0) return report_error("--ttl takes a duration like 90s, 15m, 2h, 1d, 1w: " + o.ttl);
    req.ttl_seconds = *t;
  }
  if (o.not_before.empty() != o.not_after.empty()) return report_error("--not-before and --not-after go together");
  if (!o.not_before.empty()) {
    req.not_before = parse_utc(o.not_before);
    req.not_after = parse_utc(o.not_after);
    if (!req.not_before || !req.not_after)
      return report_error("times must be RFC 3339 UTC like 2026-12-01T02:00:00Z");
  }
  req.max_uses = o.max_uses;
  req.issuer = o.issuer;
  if (req.issuer.empty()) {
    const char* u = getenv("USER");
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    req.issuer = std::string(u ? u : std::to_string(getuid())) + "@" + host;
  }
  req.reason = o.reason;
  req.ticket = o.ticket;
  req.env = o.env;
  req.read = o.read;
  req.write = o.write;
  req.exec = o.exec;
  req.net = o.net;
  req.pin_files = o.pin;
  req.parent = o.parent;
  req.bind_user = !o.no_bind_user;
  req.bind_host = !o.no_bind_host;
  auto art = make_template(req);
  if (!art) return report_denial(art.error());
  if (o.output.empty() || o.output == "-") {
    fwrite(art->body.data(), 1, art->body.size(), stdout);
    return kExitOk;
  }
  auto ow = o.force ? fs::Overwrite::Yes : fs::Overwrite::No;
  if (Decision d = fs::write_file_atomic(o.output, art->body, 0644, ow); !d) return report_denial(d);
  std::fprintf(stderr, "gx: wrote %s for %s (sha256 %s); review it, then: gx sign -k KEY %s\n", o.output.c_str(),
               art->scope.path.c_str(), art->scope.sha256.substr(0, 16).c_str(), o.output.c_str());
  return kExitOk;
}

}  // namespace

void setup_init(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<InitOptions>();
  auto* sub = app.add_subcommand("init", "Write an unsigned artifact template for one exact invocation: gx init [OPTIONS] -- CMD ARGS...");
  sub->add_option("-o,--output", o->output, "Artifact file to write (default: stdout)");
  sub->add_flag("-f,--force", o->force, "Replace an existing output file");
  sub->add_option("--ttl", o->ttl, "Validity from now: 90s, 15m, 2h, 1d, 1w (default 15m)");
  sub->add_option("--not-before", o->not_before, "Start of validity (RFC 3339 UTC, with --not-after)");
  sub->add_option("--not-after", o->not_after, "End of validity (RFC 3339 UTC, with --not-before)");
  sub->add_option("--max-uses", o->max_uses, "How many runs it authorizes (default 1)")->check(CLI::Range(1u, 1000000u));
  sub->add_option("--issuer", o->issuer, "Who requests it (default USER@HOST)");
  sub->add_option("--reason", o->reason, "Why it is needed (governance record)");
  sub->add_option("--ticket", o->ticket, "Ticket or change reference");
  sub->add_option("--env", o->env, "Let NAME pass to the child, or pin NAME=VALUE (repeatable)");
  sub->add_option("--read", o->read, "Extra path the child may read (repeatable)");
  sub->add_option("--write", o->write, "Path the child may write (repeatable)");
  sub->add_option("--exec", o->exec, "Extra path the child may execute (repeatable)");
  sub->add_option("--net", o->net, "none (default) or TCP ports: 443,8080 or connect:443,bind:8080");
  sub->add_option("--pin", o->pin, "Pin the SHA-256 of a file the command depends on (repeatable)");
  sub->add_option("--parent", o->parent, "Lineage: digest of the parent artifact (sha256:...)");
  sub->add_flag("--no-bind-user", o->no_bind_user, "Do not bind the artifact to the current uid");
  sub->add_flag("--no-bind-host", o->no_bind_host, "Do not bind the artifact to this host's name and machine-id");
  sub->add_option("command", o->command, "The command and its arguments, after --")->required();
  sub->callback([o, &exit_code] { exit_code = run_init(*o); });
}

}  // namespace gx::cli
