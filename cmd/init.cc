// gx init [options] -- CMD ARGS...: write an unsigned artifact for exactly that invocation.
#include <cstdio>

#include "cmd/common.h"
#include "cmd/template_flags.h"
#include "lib/artifact_template.h"
#include "lib/attenuation.h"
#include "lib/crypto.h"
#include "lib/executable.h"
#include "lib/fsutil.h"
#include "lib/lineage.h"

namespace gx::cli {
namespace {

struct InitOptions {
  TemplateFlags t;
  std::string output, net = "none";
  std::vector<std::string> read, write, exec, groups, delegate, delegate_exec;
  int max_depth = 0;
  bool nested_runs = false;
  bool force = false;
};

// [delegation] from --delegate / --delegate-exec / --max-depth (none of them: no table).
Decision add_delegation(const InitOptions& o, const std::string& path_env, const std::string& cwd, Artifact& a) {
  if (o.delegate.empty() && o.delegate_exec.empty() && o.max_depth == 0 && !o.nested_runs) return Decision::allow();
  a.delegation.present = true;
  a.delegation.nested_runs = o.nested_runs;
  a.delegation.max_depth = o.max_depth > 0 ? o.max_depth : 1;
  for (const auto& file : o.delegate) {
    auto pem = fs::read_file(file, 64 * 1024);
    if (!pem)
      return Decision::deny(pem.error().reason, "--delegate " + file + ": " + pem.error().detail, "--delegate", file);
    auto key = crypto::PublicKey::from_pem(*pem);
    if (!key)
      return Decision::deny(DenyReason::Usage,
                            "--delegate " + file + " is not a P-256 public key: " + key.error().detail, "--delegate",
                            file);
    std::string name = file.substr(file.find_last_of('/') + 1);
    if (name.ends_with(".pub")) name.resize(name.size() - 4);
    a.delegation.keys.push_back(DelegatedKey{name, key->key_id(), key->pem()});
  }
  for (const auto& cmd : o.delegate_exec) {
    auto path = resolve_executable(cmd, path_env, cwd);
    if (!path) return path.error();
    auto sha = digest_file(*path);
    if (!sha) return sha.error();
    a.delegation.executables.push_back(DelegatedExecutable{*path, *sha, std::nullopt});
  }
  return Decision::allow();
}

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
  if (Decision d = add_delegation(o, req->path_env, req->cwd, *art); !d) return report_denial(d);
  if (!o.t.parent.empty() && o.t.parent.rfind("sha256:", 0) != 0) {
    // A parent file: pre-fill the child within the parent's bounds, and say
    // what still would not verify (gx verify --parent tells the same).
    auto parent = load_artifact_unverified(o.t.parent);
    if (!parent) return report_denial(parent.error());
    auto narrowed = narrow_to_parent(art.take(), *parent);
    if (!narrowed) return report_denial(narrowed.error());
    art = narrowed.take();
    if (Decision d = check_attenuation(*parent, *art); !d)
      std::fprintf(stderr, "gx: warning: this child is still wider than its parent and will not verify: %s\n",
                   d.explain().c_str());
  }
  art->body = render_artifact_body(*art);
  if (auto check = parse_artifact_body(art->body); !check) return report_denial(check.error());
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
  auto* sub = app.add_subcommand(
      "init", "Write an unsigned artifact template for one exact invocation: gx init [OPTIONS] -- CMD ARGS...");
  sub->add_option("-o,--output", o->output, "Artifact file to write (default: stdout)");
  sub->add_flag("-f,--force", o->force, "Replace an existing output file");
  add_template_flags(sub, o->t, "Let NAME pass to the child, or pin NAME=VALUE (repeatable)");
  sub->add_option("--read", o->read, "Extra path the child may read (repeatable)");
  sub->add_option("--write", o->write, "Path the child may write (repeatable)");
  sub->add_option("--exec", o->exec, "Extra path the child may execute (repeatable)");
  sub->add_option("--group", o->groups, "Extra syscall group, see gx profiles (repeatable)");
  sub->add_option("--net", o->net, "none (default) or TCP ports: 443,8080 or connect:443,bind:8080");
  sub->add_option(
      "--delegate", o->delegate,
      "Let children of this artifact be signed by this public key (PEM file; repeatable); writes [delegation]");
  sub->add_option(
      "--delegate-exec", o->delegate_exec,
      "A program children may run beyond this artifact's own (resolved like execvp, pinned by SHA-256; repeatable)");
  sub->add_flag("--nested-runs", o->nested_runs,
                "Let the command ask gx for nested runs of its children over a private channel (GX_CHANNEL); writes "
                "[delegation] nested_runs = true");
  sub->add_option("--max-depth", o->max_depth, "How many levels of descendants [delegation] allows (default 1)")
      ->check(CLI::Range(1, kMaxDelegationDepth));
  sub->callback([o, &exit_code] { exit_code = run_init(*o); });
}

}  // namespace gx::cli
