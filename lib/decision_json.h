// JSON views of decisions, shared by `--json` output and receipts.
#pragma once

#include <nlohmann/json.hpp>

#include "lib/decision.h"
#include "lib/verify.h"

namespace gx {

// {"decision": "allow"|"deny", "reason": code, "field", "value", "detail"}
nlohmann::json decision_json(const Decision& d);
// decision_json plus artifact id/digest, issuer, signers, window, threshold.
nlohmann::json verification_json(const Verification& v);

}  // namespace gx
