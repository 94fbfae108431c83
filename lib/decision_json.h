// JSON views of decisions, shared by `--json` output and receipts.
#pragma once

#include <nlohmann/json.hpp>

#include "lib/decision.h"
#include "lib/verify.h"

namespace gx {

// {"decision": "allow"|"deny", "reason": code, "field", "value", "detail"}
nlohmann::json decision_json(const Decision& d);
// Its inverse, strict: decision_from_json(decision_json(d)) == d; an
// unknown reason code or a missing or mistyped key gives nullopt and, when
// `why` is set, one line saying what was wrong.
std::optional<Decision> decision_from_json(const nlohmann::json& j, std::string* why = nullptr);
// decision_json plus artifact id/digest, issuer, signers, window, threshold.
nlohmann::json verification_json(const Verification& v);

}  // namespace gx
