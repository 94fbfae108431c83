#include "lib/decision_json.h"

namespace gx {

nlohmann::json decision_json(const Decision& d) {
  nlohmann::json j;
  j["decision"] = d.allowed() ? "allow" : "deny";
  j["reason"] = std::string(d.code());
  if (!d.allowed()) {
    j["detail"] = d.detail;
    j["field"] = d.field;
    j["value"] = d.value;
  }
  return j;
}

nlohmann::json verification_json(const Verification& v) {
  nlohmann::json j = decision_json(v.decision);
  j["artifact_digest"] = v.digest;
  j["signers"] = v.signers;
  j["signer_names"] = v.signer_names;
  j["ignored_signatures"] = v.ignored;
  j["threshold"] = v.threshold;
  if (v.artifact) {
    const Artifact& a = *v.artifact;
    j["artifact_id"] = a.id;
    j["issuer"] = a.issuer;
    j["reason_text"] = a.reason;
    j["ticket"] = a.ticket;
    j["not_before"] = format_utc(a.not_before);
    j["not_after"] = format_utc(a.not_after);
    j["max_uses"] = a.max_uses;
    j["executable"] = a.scope.path;
    j["parent"] = a.parent;
  }
  return j;
}

}  // namespace gx
