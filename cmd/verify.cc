// gx verify [--trust FILE] [--parent FILE|DIR]... [--json] ART: is this artifact (and its chain) valid here, now?
#include "lib/verify.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "cmd/common.h"
#include "lib/artifact.h"
#include "lib/authority.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/decision_json.h"
#include "lib/fsutil.h"
#include "lib/lineage.h"
#include "lib/paths.h"

namespace gx::cli {
namespace {

struct VerifyCmdOptions {
  std::string trust, revocations, state, artifact, print_signature;
  std::vector<std::string> parents;
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

// Root first; each line one link that verified. A denial names the link
// that broke on the line after (gx: denied ...).
void print_chain(const LineageVerification& lv) {
  std::printf("lineage: %zu link(s) verified, root first\n", lv.chain.size());
  for (const auto& l : lv.chain) {
    std::string who;
    for (size_t i = 0; i < l.signer_names.size(); ++i) who += (i ? ", " : "") + l.signer_names[i];
    std::printf(
        "  [%d] %s  id %s  issuer %s\n      signed by %s (%s)  valid %s .. %s  %s\n", l.depth, l.digest.c_str(),
        l.id.c_str(), l.issuer.c_str(), who.c_str(), l.authority.c_str(), format_utc(l.not_before).c_str(),
        format_utc(l.not_after).c_str(),
        l.max_depth > 0 ? ("delegates " + std::to_string(l.max_depth) + " level(s)").c_str() : "delegates nothing");
  }
}

int run_verify(const VerifyCmdOptions& o) {
  if (o.print_payload || !o.print_signature.empty()) return print_raw(o);
  const auto where = paths::with_defaults(o.trust, o.revocations, o.state);
  auto authority = load_authority(where.trust, where.revocations, where.state, now_unix());
  LineageVerification lv;
  ParentSet parents;
  Decision ready = authority ? Decision::allow() : authority.error();
  for (const auto& p : o.parents)
    if (ready) ready = parents.add_path(p);
  if (ready) lv = verify_lineage_file(o.artifact, parents, authority->options());
  else lv.decision = lv.leaf.decision = ready;
  const Verification& v = lv.leaf;
  if (o.json) {
    nlohmann::json j = verification_json(v);
    const nlohmann::json decision = decision_json(lv.decision);
    for (auto it = decision.begin(); it != decision.end(); ++it) j[it.key()] = it.value();
    j["lineage"] = lineage_json(lv.chain);
    std::printf("%s\n", json_text(j).c_str());
  } else if (lv.chain.size() > 1 || (!lv.decision && !lv.chain.empty())) {
    print_chain(lv);
  }
  if (!lv.decision) return o.json ? exit_code_for(lv.decision) : report_denial(lv.decision);
  if (!o.json)
    std::fprintf(
        stderr, "gx: valid: artifact %s (%s), signed by %zu of %d required, until %s%s\n", v.artifact->id.c_str(),
        v.digest.c_str(), v.signers.size(), v.threshold, format_utc(v.artifact->not_after).c_str(),
        lv.chain.size() > 1 ? (", through a chain of " + std::to_string(lv.chain.size()) + " links").c_str() : "");
  return kExitOk;
}

}  // namespace

void setup_verify(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<VerifyCmdOptions>();
  auto* sub = app.add_subcommand(
      "verify", "Check an artifact's signatures, trust, time window, revocation, bindings and lineage chain");
  sub->add_option("artifact", o->artifact, "Artifact file")->required();
  add_authority_options(sub, o->trust, o->revocations, o->state,
                        "State directory holding the highest serial seen of each revocation list");
  sub->add_option("--parent", o->parents,
                  "An ancestor of a child artifact (artifact file, or a directory of *.toml); repeatable. The chain "
                  "is verified link by link and shown");
  sub->add_flag("--json", o->json, "Print the whole decision as JSON on stdout (with \"lineage\": the chain)");
  sub->add_flag("--print-payload", o->print_payload,
                "Write the exact signed bytes, PAE(type, body), to stdout and exit");
  sub->add_option("--print-signature", o->print_signature, "Write the DER signature of KEYID to stdout and exit");
  sub->callback([o, &exit_code] { exit_code = run_verify(*o); });
}

}  // namespace gx::cli
