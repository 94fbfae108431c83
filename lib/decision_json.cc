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

std::optional<Decision> decision_from_json(const nlohmann::json& j, std::string* why) {
  auto bad = [&](const std::string& what) -> std::optional<Decision> {
    if (why) *why = what;
    return std::nullopt;
  };
  auto str = [&](const char* k) -> const std::string* {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  if (!j.is_object()) return bad("not an object");
  const std::string* kind = str("decision");
  const std::string* code = str("reason");
  if (!kind || !code) return bad("decision and reason must be strings");
  auto reason = reason_from_code(*code);
  if (!reason) return bad("unknown reason code '" + *code + "'");
  if (*kind == "allow" && *reason == DenyReason::None) return Decision::allow();
  if (*kind != "deny" || *reason == DenyReason::None) return bad("'" + *kind + "' with reason '" + *code + "'");
  const std::string *detail = str("detail"), *field = str("field"), *value = str("value");
  if (!detail || !field || !value) return bad("a denial needs detail, field and value strings");
  return Decision::deny(*reason, *detail, *field, *value);
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
