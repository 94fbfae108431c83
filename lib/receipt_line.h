// Reading a receipt line without building its JSON: the hot path of `gx log
// verify` and of the use store's reconciliation (lib/receipt_scan.h). The
// general reader -- parse_receipt_line, canonical_dump(j) == line,
// Receipt::from_json -- builds a JSON tree of the line, dumps it again and
// copies it into a Receipt: ~70 % of a verify's time.
//
// Contract: parse_canonical_line accepts a line only if the general reader
// accepts it, and then gives exactly the fields that reader gives (the
// sandbox summary as its canonical text instead of a JSON tree). It declines
// (std::nullopt) whatever it does not handle itself, never answering
// differently:
//   * a string with an escape or a byte outside printable ASCII (argv of
//     non-ASCII text; the general reader checks UTF-8 and escape spelling),
//   * a number other than a plain integer of at most 18 digits ("-0",
//     fractions, exponents, leading zeros, larger integers),
//   * anything non-canonical or not a receipt: whitespace, a key out of
//     order, repeated, unknown to the line's version or missing, a value of
//     the wrong type, a value from_json refuses (Receipt::check_values),
//     nesting deeper than kReceiptMaxDepth, bytes after the object.
// A caller takes the general reader for a declined line: it gives the
// verdict and, for a bad line, the reason. So a decline costs time, never a
// different answer. tests/receipt_line_test.cc holds the two readers to each
// other on real receipts and every single-byte change of them;
// fuzz/receipt_line_fuzz.cc on whatever libFuzzer makes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "lib/receipt.h"

namespace gx {

struct ReceiptLine {
  // Every field of the line but "sandbox", which is left an empty object:
  // the summary is checked to be canonical JSON, not built.
  Receipt fields;
  // Where the summary's text and the member `,"sig":"..."` are in the line
  // (offset, length): the line without that member is the signed body.
  size_t sandbox_at = 0, sandbox_len = 0;
  size_t sig_member_at = 0, sig_member_len = 0;

  // `line` must be the line this was parsed from.
  std::string_view sandbox_text(std::string_view line) const { return line.substr(sandbox_at, sandbox_len); }
  // The bytes the signature covers (Receipt::signed_body of `fields` with
  // the summary put back).
  std::string signed_body(std::string_view line) const;
};

// See the contract above. `line` is one log line without its "\n".
std::optional<ReceiptLine> parse_canonical_line(std::string_view line);

// Every reader that checks lines (gx log verify, the use store's scan): the
// fast reader, and the general one for what it declines. The receipt's
// fields, its sandbox summary left an empty object (neither reader keeps
// it), and with `signed_body` the bytes its signature covers. A line the
// general reader refuses is Malformed, its detail saying why: "not valid
// JSON (...)", "not in canonical form (bytes were changed)" or "not a valid
// receipt: <from_json's reason>".
Result<Receipt> read_receipt_fields(std::string_view line, std::string* signed_body = nullptr);

}  // namespace gx
