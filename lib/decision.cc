#include "lib/decision.h"

#include <array>

namespace gx {
namespace {
struct Entry {
  DenyReason reason;
  std::string_view code;
};
constexpr std::array kCodes = {
    Entry{DenyReason::None, "allow"},
    Entry{DenyReason::MissingAuthorization, "missing-authorization"},
    Entry{DenyReason::TooLarge, "too-large"},
    Entry{DenyReason::Empty, "empty"},
    Entry{DenyReason::Malformed, "malformed"},
    Entry{DenyReason::NotText, "not-text"},
    Entry{DenyReason::UnknownField, "unknown-field"},
    Entry{DenyReason::DuplicateField, "duplicate-field"},
    Entry{DenyReason::WrongType, "wrong-type"},
    Entry{DenyReason::MissingField, "missing-field"},
    Entry{DenyReason::InvalidValue, "invalid-value"},
    Entry{DenyReason::UnsupportedVersion, "unsupported-version"},
    Entry{DenyReason::UnsupportedAlgorithm, "unsupported-algorithm"},
    Entry{DenyReason::InvalidSignature, "invalid-signature"},
    Entry{DenyReason::UntrustedKey, "untrusted-key"},
    Entry{DenyReason::KeyExpired, "key-expired"},
    Entry{DenyReason::KeyRevoked, "key-revoked"},
    Entry{DenyReason::ThresholdNotMet, "threshold-not-met"},
    Entry{DenyReason::Expired, "expired"},
    Entry{DenyReason::NotYetValid, "not-yet-valid"},
    Entry{DenyReason::Revoked, "revoked"},
    Entry{DenyReason::RevocationListInvalid, "revocation-list-invalid"},
    Entry{DenyReason::PolicyMismatch, "policy-mismatch"},
    Entry{DenyReason::DigestMismatch, "digest-mismatch"},
    Entry{DenyReason::Replay, "replay"},
    Entry{DenyReason::RuntimeIdentity, "runtime-identity"},
    Entry{DenyReason::EnvironmentalIntegrity, "environmental-integrity"},
    Entry{DenyReason::LineageInconsistency, "lineage-inconsistency"},
    Entry{DenyReason::SandboxUnavailable, "sandbox-unavailable"},
    Entry{DenyReason::LogUnavailable, "log-unavailable"},
    Entry{DenyReason::StateUnavailable, "state-unavailable"},
    Entry{DenyReason::TrustStoreInvalid, "trust-store-invalid"},
    Entry{DenyReason::LogTampered, "log-tampered"},
    Entry{DenyReason::IoError, "io-error"},
    Entry{DenyReason::Usage, "usage"},
    Entry{DenyReason::RunAsUnavailable, "run-as-unavailable"},
};
}  // namespace

std::string_view reason_code(DenyReason r) {
  for (const auto& e : kCodes)
    if (e.reason == r) return e.code;
  return "unknown";
}

std::optional<DenyReason> reason_from_code(std::string_view code) {
  for (const auto& e : kCodes)
    if (e.code == code) return e.reason;
  return std::nullopt;
}

std::string Decision::explain() const {
  std::string out = detail;
  if (!field.empty()) {
    out += " [field ";
    out += field;
    if (!value.empty()) {
      out += " = '";
      for (char c : value) out += (c == '\n' || c == '\r') ? ' ' : c;
      out += "'";
    }
    out += "]";
  }
  return out;
}

}  // namespace gx
