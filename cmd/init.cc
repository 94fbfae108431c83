// gx init [options] -- CMD ARGS...: write an unsigned artifact for exactly that invocation.
#include <cstdio>

#include "cmd/common.h"
#include "cmd/template_flags.h"
#include "lib/artifact_template.h"
#include "lib/fsutil.h"

namespace gx::cli {
namespace {

struct InitOptions {
  TemplateFlags t;
  std::string output, net = "none";
  std::vector<std::string> read, write, exec, groups;
  bool force = false;
};

int run_init(const InitOptions& o) {
  auto req = template_request(o.t);
  if (!req) return report_denial(req.error());
  req->read = o.read;
  req->write = o.write;
  req->exec = o.exec;
  req->groups = o.groups;
  req->net = o.net;
  auto art = make_template(*req);
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
  add_template_flags(sub, o->t, "Let NAME pass to the child, or pin NAME=VALUE (repeatable)");
  sub->add_option("--read", o->read, "Extra path the child may read (repeatable)");
  sub->add_option("--write", o->write, "Path the child may write (repeatable)");
  sub->add_option("--exec", o->exec, "Extra path the child may execute (repeatable)");
  sub->add_option("--group", o->groups, "Extra syscall group, see gx profiles (repeatable)");
  sub->add_option("--net", o->net, "none (default) or TCP ports: 443,8080 or connect:443,bind:8080");
  sub->callback([o, &exit_code] { exit_code = run_init(*o); });
}

}  // namespace gx::cli
