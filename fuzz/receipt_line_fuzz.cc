// libFuzzer target for the fast receipt reader (lib/receipt_line.h): the
// input is one log line. Its contract is checked on every input: whatever
// parse_canonical_line accepts, the general reader (parse_receipt_line,
// canonical_dump == line, Receipt::from_json) accepts too, with the same
// fields, summary and signed body. A difference aborts (a finding), as do a
// crash and a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "lib/receipt.h"
#include "lib/receipt_line.h"

namespace {

[[noreturn]] void differ(const char* what, const std::string& line) {
  std::fprintf(stderr, "receipt_line_fuzz: the readers differ (%s) on: %s\n", what, line.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  auto fast = gx::parse_canonical_line(line);
  std::string body;
  auto fields = gx::read_receipt_fields(line, &body);  // either reader, as verify calls it
  if (!fast) return 0;
  nlohmann::json j = gx::parse_receipt_line(line);
  if (j.is_discarded() || gx::canonical_dump(j) != line) differ("the general reader finds no canonical JSON", line);
  auto slow = gx::Receipt::from_json(j);
  if (!slow) differ("from_json refuses", line);
  if (fast->sandbox_text(line) != gx::canonical_dump(slow->sandbox)) differ("sandbox", line);
  if (fast->signed_body(line) != slow->signed_body() || !fields || body != slow->signed_body())
    differ("signed body", line);
  gx::Receipt filled = fast->fields;
  filled.sandbox = slow->sandbox;
  if (filled.line() != line || slow->line() != line) differ("fields", line);
  return 0;
}
