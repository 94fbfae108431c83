// Decision: the one value every step of gx's pipeline returns.
//
// A Decision is either "allow" or "deny" with a stable reason code, the
// artifact field (or input) that caused it and the offending value. Reason
// codes are part of gx's interface: they are printed as
// `gx: denied (<code>): <detail>`, written into receipts and documented in
// gx-run(1). Never rename a code; add new ones.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace gx {

enum class DenyReason {
  None,                    // allowed
  MissingAuthorization,    // no artifact, or no signature on it
  TooLarge,                // input larger than its documented limit
  Empty,                   // empty input
  Malformed,               // not parseable TOML/JSON (syntax error, truncation)
  NotText,                 // binary data: NUL bytes or invalid UTF-8
  UnknownField,            // a key gx does not know
  DuplicateField,          // a key or table given twice
  WrongType,               // a key with a value of the wrong type
  MissingField,            // a required key is absent
  InvalidValue,            // a value of the right type but out of its domain
  UnsupportedVersion,      // a format version gx does not know
  UnsupportedAlgorithm,    // a signature algorithm other than the pinned one
  InvalidSignature,        // a signature that does not verify
  UntrustedKey,            // signed by a key not in the trust store
  KeyExpired,              // trusted key used outside its validity window
  KeyRevoked,              // trusted key marked revoked in the trust store (revocation list: Revoked)
  ThresholdNotMet,         // fewer distinct trusted signatures than required
  Expired,                 // artifact past not_after
  NotYetValid,             // artifact before not_before
  Revoked,                 // artifact, its lineage parent or its signing key revoked by the revocation list
  RevocationListInvalid,   // revocation list unverifiable or rolled back
  PolicyMismatch,          // invocation differs from the scope (argv, env, cwd, path)
  DigestMismatch,          // executable or its #! interpreter differs from its pinned digest
  Replay,                  // uses exhausted
  RuntimeIdentity,         // host/user binding mismatch
  EnvironmentalIntegrity,  // pinned [[file]] or environment value differs, or the file is not pinnable
  LineageInconsistency,    // parent artifact/receipt chain does not hold
  SandboxUnavailable,      // kernel cannot enforce what the artifact requires
  LogUnavailable,          // receipt log cannot be written durably
  StateUnavailable,        // use store cannot be read/written
  TrustStoreInvalid,       // trust store unreadable or malformed
  LogTampered,             // receipt log fails verification
  IoError,                 // any other input/output failure
  Usage,                   // caller error (bad flag combination, bad argument)
  RunAsUnavailable,        // [run] identity unresolvable, or gx lacks the rights to switch to it
};

// Stable, kebab-case code for a reason ("policy-mismatch").
std::string_view reason_code(DenyReason r);
// All reasons, for documentation and tests.
std::optional<DenyReason> reason_from_code(std::string_view code);

struct Decision {
  DenyReason reason = DenyReason::None;
  std::string field;   // artifact field or input name, e.g. "exec.argv[2]"
  std::string value;   // the offending value as seen (may be empty)
  std::string detail;  // one human sentence, no trailing newline

  bool allowed() const { return reason == DenyReason::None; }
  explicit operator bool() const { return allowed(); }
  std::string_view code() const { return reason_code(reason); }

  static Decision allow() { return {}; }
  static Decision deny(DenyReason r, std::string detail, std::string field = {}, std::string value = {}) {
    Decision d;
    d.reason = r;
    d.detail = std::move(detail);
    d.field = std::move(field);
    d.value = std::move(value);
    return d;
  }
  // "<detail>" plus " [field F = 'V']" where known (newlines in V become
  // spaces); one line.
  std::string explain() const;
};

// Result<T>: a value, or the Decision that says why there is none.
template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Decision denial) : error_(std::move(denial)) {
    if (error_.allowed()) error_ = Decision::deny(DenyReason::IoError, "internal: empty error");
  }
  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T take() { return std::move(*value_); }
  const Decision& error() const { return error_; }

 private:
  std::optional<T> value_;
  Decision error_;
};

}  // namespace gx
