// The signed body of a revocation list (format: man/gx-revocations.5): its
// value, gx's one rendering of it, and the two ways of reading it back.
//
// gx writes every list body with render_revocation_body() (gx revoke), so
// the lists gx verifies are almost always in that canonical form. Reading:
//   - parse_canonical_revocation_body() is a strict single-pass reader that
//     accepts EXACTLY the bytes render_revocation_body() produces for some
//     valid value — every line, space, quote escape, integer and time
//     spelling as the renderer writes it — and returns nullopt for anything
//     else (other spacing, comments, key order, non-ASCII text, an invalid
//     value, ...). It never rejects a list: it only declines to read it.
//   - parse_revocation_body() tries it first and otherwise parses the body
//     as TOML (toml++, strict schema: the reader every list went through
//     before), which accepts any TOML spelling and explains every error.
// Both give the same value for a canonical body (tests/revocation_body_test
// renders, reads both ways and compares). Why: the TOML DOM parse of a
// 1,000,000-entry list took ~14 s CPU; the canonical reader ~0.3 s
// (docs/performance.md, "Revocation list").
//
// Neither checks signatures (the caller verifies them over the exact body
// bytes before parsing) nor duplicate targets (the list's lookup set does).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/artifact.h"
#include "lib/decision.h"

namespace gx {

inline constexpr int kRevocationsVersionCurrent = 1;
inline constexpr size_t kRevocationsMaxBytes = 512ull * 1024 * 1024;
inline constexpr size_t kRevocationsMaxEntries = 2'000'000;

enum class RevocationKind { Artifact, Key };

struct RevocationEntry {
  RevocationKind kind = RevocationKind::Artifact;
  std::string target;  // "sha256:<64 hex>": an artifact digest or a key id
  std::string reason;
  UnixTime revoked_at = 0;
};

struct RevocationBody {
  int version = kRevocationsVersionCurrent;
  uint64_t serial = 0;
  UnixTime issued_at = 0;
  std::vector<RevocationEntry> entries;
};

// The canonical text: a comment line, version, serial, issued_at, then one
// [[entry]] table per entry (reason omitted when empty), then a blank line.
std::string render_revocation_body(const RevocationBody& body);
// The value of a canonical body, or nullopt (see above).
std::optional<RevocationBody> parse_canonical_revocation_body(std::string_view body);
// Any valid body. Errors: the schema reader's Decision (unknown/duplicate
// field, wrong type, missing field, invalid value, unsupported version,
// malformed TOML), its detail naming the field; the caller words it as a
// list error.
Result<RevocationBody> parse_revocation_body(std::string_view body, const std::string& origin);

}  // namespace gx
