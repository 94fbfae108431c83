// Strict TOML reading shared by every gx file format (artifact, trust store,
// revocation list).
//
// parse_toml() rejects empty input, binary data (NUL, invalid UTF-8), a
// string or key that decodes to a NUL ("\u0000": argv, fnmatch and the
// environment would read less than was signed; NotText, naming the field),
// syntax errors, duplicate keys and table redefinition, including through
// dotted keys (toml++ refuses those; parse_toml reports them as
// DuplicateField, and tests/artifact_test.cc holds both to that). TableReader then reads a
// table against a schema: every get names its key, the first problem is
// kept (later ones are ignored), and finish() reports any key that was not
// asked for as UnknownField — nothing a reader does not understand is ever
// silently ignored.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <vector>

#include "lib/decision.h"

namespace gx {

// Empty (only whitespace) -> Empty; NUL bytes or invalid UTF-8 -> NotText.
Decision check_text(std::string_view text, const std::string& origin);

// `origin` names the input in messages ("artifact.toml", "trust store").
Result<toml::table> parse_toml(std::string_view text, const std::string& origin);

class TableReader {
 public:
  // `prefix` is the dotted path of this table ("sandbox", "env.pin"), for
  // messages and Decision::field.
  TableReader(const toml::table& table, std::string prefix);

  std::optional<std::string> string(std::string_view key, bool required);
  std::optional<int64_t> integer(std::string_view key, bool required, int64_t min, int64_t max);
  std::optional<bool> boolean(std::string_view key, bool required);
  std::optional<std::vector<std::string>> string_array(std::string_view key, bool required);
  std::optional<std::vector<int64_t>> integer_array(std::string_view key, bool required, int64_t min, int64_t max);
  const toml::table* table(std::string_view key, bool required);
  const toml::array* array(std::string_view key, bool required);
  // A table of string values (e.g. pinned environment values).
  std::optional<std::map<std::string, std::string>> string_map(std::string_view key, bool required);

  // Records a domain error for `key` (value of the right type but invalid).
  void invalid(std::string_view key, std::string value, std::string why);
  void fail(Decision d);

  std::string path(std::string_view key) const;
  bool ok() const { return error_.allowed(); }
  // Checks for unknown keys; returns the first error seen, or allow.
  Decision finish();

 private:
  const toml::node* get(std::string_view key, bool required);
  void wrong_type(std::string_view key, const char* expected);

  const toml::table& table_;
  std::string prefix_;
  std::set<std::string, std::less<>> seen_;
  Decision error_;
};

// Quotes a string as a TOML basic string ("..." with escapes).
std::string toml_quote(std::string_view s);

}  // namespace gx
