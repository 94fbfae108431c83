// gx verify [--trust FILE] [--json] ART: is this artifact valid here, now?
#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "cmd/common.h"
#include "lib/artifact.h"
#include "lib/authority.h"
#include "lib/crypto.h"
#include "lib/decision_json.h"
#include "lib/fsutil.h"
#include "lib/paths.h"
#include "lib/verify.h"

namespace gx::cli {
namespace {

struct VerifyCmdOptions {
  std::string trust, revocations, state, artifact, print_signature;
  bool json = false, print_payload = false;
};

// Raw bytes for interop checks with stock tools (openssl dgst -verify).
int print_raw(const VerifyCmdOptions& o) {
  auto bytes = fs::read_file(o.artifact, kArtifactMaxBytes);
  if (!bytes) return report_denial(bytes.error());
  auto parts = split_artifact(*bytes);
  if (!parts) return report_denial(parts.error());
  std::string out;
  if (o.print_payload) {
    out = crypto::pae(crypto::kArtifactType, parts->body);
  } else {
    auto sigs = parse_signatures(parts->signature_block);
    if (!sigs) return report_denial(sigs.error());
    for (const auto& s : *sigs)
      if (s.key_id == o.print_signature) out = s.value;
    if (out.empty()) return report_error("no signature by " + o.print_signature + " in " + o.artifact);
  }
  fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

int run_verify(const VerifyCmdOptions& o) {
  if (o.print_payload || !o.print_signature.empty()) return print_raw(o);
  const std::string trust_path = o.trust.empty() ? paths::default_trust_store() : o.trust;
  const std::string revocations = o.revocations.empty() ? paths::default_revocations(trust_path) : o.revocations;
  const std::string state = o.state.empty() ? paths::default_state_dir() : o.state;
  auto authority = load_authority(trust_path, revocations, state, static_cast<UnixTime>(time(nullptr)));
  Verification v;
  if (!authority) v.decision = authority.error();
  else v = verify_artifact_file(o.artifact, authority->options());
  if (o.json) std::printf("%s\n", verification_json(v).dump(2).c_str());
  if (!v.decision) return o.json ? exit_code_for(v.decision) : report_denial(v.decision);
  if (!o.json)
    std::fprintf(stderr, "gx: valid: artifact %s (%s), signed by %zu of %d required, until %s\n", v.artifact->id.c_str(),
                 v.digest.c_str(), v.signers.size(), v.threshold, format_utc(v.artifact->not_after).c_str());
  return kExitOk;
}

}  // namespace

void setup_verify(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<VerifyCmdOptions>();
  auto* sub = app.add_subcommand("verify", "Check an artifact's signatures, trust, time window, revocation and bindings");
  sub->add_option("artifact", o->artifact, "Artifact file")->required();
  sub->add_option("--trust", o->trust, "Trust store file");
  sub->add_option("--revocations", o->revocations, "Revocation list (default: revocations.toml beside the trust store)");
  sub->add_option("--state", o->state, "State directory holding the highest serial seen of each revocation list");
  sub->add_flag("--json", o->json, "Print the whole decision as JSON on stdout");
  sub->add_flag("--print-payload", o->print_payload, "Write the exact signed bytes, PAE(type, body), to stdout and exit");
  sub->add_option("--print-signature", o->print_signature, "Write the DER signature of KEYID to stdout and exit");
  sub->callback([o, &exit_code] { exit_code = run_verify(*o); });
}

}  // namespace gx::cli
