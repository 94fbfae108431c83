// gx sign -k KEY ART [-o OUT]: add (or co-sign with) a signature.
#include <cstdio>

#include "cmd/common.h"
#include "lib/artifact.h"
#include "lib/crypto.h"
#include "lib/envelope.h"
#include "lib/fsutil.h"

namespace gx::cli {
namespace {

struct SignOptions {
  std::string key, artifact, output;
};

int run_sign(const SignOptions& o) {
  auto key = crypto::load_private_key(o.key);
  if (!key) return report_denial(key.error());
  auto bytes = fs::read_file(o.artifact, kArtifactMaxBytes);
  if (!bytes) return report_denial(bytes.error());
  auto parts = split_artifact(*bytes);
  if (!parts) return report_denial(parts.error());
  // Never sign what gx itself would refuse to run.
  auto body = parse_artifact_body(parts->body);
  if (!body) {
    Decision d = body.error();
    d.detail = o.artifact + ": " + d.detail;
    return report_denial(d);
  }
  auto signed_bytes = append_signature(*bytes, crypto::kArtifactType, *key);
  if (!signed_bytes) return report_denial(signed_bytes.error());
  const std::string out = o.output.empty() ? o.artifact : o.output;
  if (Decision d = fs::write_file_atomic(out, *signed_bytes, 0644, fs::Overwrite::Yes); !d) return report_denial(d);
  std::fprintf(stderr, "gx: signed %s (artifact %s) with %s\n", out.c_str(), body->digest().c_str(),
               key->public_key().key_id().c_str());
  return kExitOk;
}

}  // namespace

void setup_sign(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<SignOptions>();
  auto* sub = app.add_subcommand("sign", "Sign an artifact (a second key co-signs it)");
  sub->add_option("-k,--key", o->key, "Private key file (PEM)")->required();
  sub->add_option("artifact", o->artifact, "Artifact file")->required();
  sub->add_option("-o,--output", o->output, "Write the signed artifact here instead of in place");
  sub->callback([o, &exit_code] { exit_code = run_sign(*o); });
}

}  // namespace gx::cli
