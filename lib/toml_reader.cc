#include "lib/toml_reader.h"

#include <algorithm>
#include <cstdio>

#include "lib/utf8.h"

namespace gx {
namespace {

// toml++ validates UTF-8 too, but a separate early check gives binary input
// its own reason code instead of a confusing syntax error.
bool is_text(std::string_view s) { return s.find('\0') == std::string_view::npos && valid_utf8(s); }

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    default: return "date/time";
  }
}

// Where a string or key holds a NUL ("\u0000" is valid TOML): the first
// such path, dotted; nullopt when there is none. C strings (argv, fnmatch,
// the environment) would end there, reading less than was signed.
std::optional<std::string> nul_at(const toml::node& n, const std::string& path) {
  if (const toml::table* t = n.as_table()) {
    for (const auto& [k, v] : *t) {
      const std::string here = path.empty() ? std::string(k.str()) : path + "." + std::string(k.str());
      if (k.str().find('\0') != std::string_view::npos) return here;
      if (auto at = nul_at(v, here)) return at;
    }
  } else if (const toml::array* a = n.as_array()) {
    for (size_t i = 0; i < a->size(); ++i)
      if (auto at = nul_at(*a->get(i), path + "[" + std::to_string(i) + "]")) return at;
  } else if (const auto* s = n.as_string()) {
    if (s->get().find('\0') != std::string::npos) return path;
  }
  return std::nullopt;
}

}  // namespace

Decision check_text(std::string_view text, const std::string& origin) {
  bool blank = true;
  for (char c : text)
    if (c != ' ' && c != '\n' && c != '\t' && c != '\r') blank = false;
  if (blank) return Decision::deny(DenyReason::Empty, origin + " is empty");
  if (!is_text(text)) return Decision::deny(DenyReason::NotText, origin + " is not UTF-8 text (binary data)");
  return Decision::allow();
}

Result<toml::table> parse_toml(std::string_view text, const std::string& origin) {
  if (Decision d = check_text(text, origin); !d) return d;
  try {
    toml::table t = toml::parse(text, origin);
    if (auto at = nul_at(t, "")) {
      std::string field = *at;
      std::replace(field.begin(), field.end(), '\0', '?');
      return Decision::deny(DenyReason::NotText, origin + ": " + field + " holds a NUL character (\\u0000)", field);
    }
    return t;
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    std::string desc(e.description());
    DenyReason r = DenyReason::Malformed;
    // toml++ words duplicate keys/tables as "redefinition"/"already defined".
    if (desc.find("redefin") != std::string::npos || desc.find("already") != std::string::npos)
      r = DenyReason::DuplicateField;
    return Decision::deny(r,
                          origin + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " + desc);
  }
}

TableReader::TableReader(const toml::table& table, std::string prefix) : table_(table), prefix_(std::move(prefix)) {}

std::string TableReader::path(std::string_view key) const {
  return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
}

void TableReader::fail(Decision d) {
  if (error_.allowed()) error_ = std::move(d);
}

void TableReader::invalid(std::string_view key, std::string value, std::string why) {
  fail(Decision::deny(DenyReason::InvalidValue, path(key) + ": " + why, path(key), std::move(value)));
}

void TableReader::wrong_type(std::string_view key, const char* expected) {
  const toml::node* n = table_.get(key);
  fail(Decision::deny(DenyReason::WrongType,
                      path(key) + " must be " + expected + ", not " + (n ? type_name(*n) : "absent"), path(key)));
}

const toml::node* TableReader::get(std::string_view key, bool required) {
  seen_.emplace(key);
  const toml::node* n = table_.get(key);
  if (!n && required)
    fail(Decision::deny(DenyReason::MissingField, "required field " + path(key) + " is missing", path(key)));
  return n;
}

std::optional<std::string> TableReader::string(std::string_view key, bool required) {
  const toml::node* n = get(key, required);
  if (!n) return std::nullopt;
  if (auto v = n->value<std::string>(); v && n->is_string()) return *v;
  wrong_type(key, "a string");
  return std::nullopt;
}

std::optional<int64_t> TableReader::integer(std::string_view key, bool required, int64_t min, int64_t max) {
  const toml::node* n = get(key, required);
  if (!n) return std::nullopt;
  if (!n->is_integer()) {
    wrong_type(key, "an integer");
    return std::nullopt;
  }
  int64_t v = n->as_integer()->get();
  if (v < min || v > max) {
    invalid(key, std::to_string(v), "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> TableReader::boolean(std::string_view key, bool required) {
  const toml::node* n = get(key, required);
  if (!n) return std::nullopt;
  if (!n->is_boolean()) {
    wrong_type(key, "a boolean");
    return std::nullopt;
  }
  return n->as_boolean()->get();
}

std::optional<std::vector<std::string>> TableReader::string_array(std::string_view key, bool required) {
  const toml::array* a = array(key, required);
  if (!a) return std::nullopt;
  std::vector<std::string> out;
  for (size_t i = 0; i < a->size(); ++i) {
    const toml::node* e = a->get(i);
    if (!e->is_string()) {
      fail(Decision::deny(DenyReason::WrongType, path(key) + "[" + std::to_string(i) + "] must be a string",
                          path(key) + "[" + std::to_string(i) + "]"));
      return std::nullopt;
    }
    out.push_back(e->as_string()->get());
  }
  return out;
}

std::optional<std::vector<int64_t>> TableReader::integer_array(std::string_view key, bool required, int64_t min,
                                                               int64_t max) {
  const toml::array* a = array(key, required);
  if (!a) return std::nullopt;
  std::vector<int64_t> out;
  for (size_t i = 0; i < a->size(); ++i) {
    const toml::node* e = a->get(i);
    std::string where = path(key) + "[" + std::to_string(i) + "]";
    if (!e->is_integer()) {
      fail(Decision::deny(DenyReason::WrongType, where + " must be an integer", where));
      return std::nullopt;
    }
    int64_t v = e->as_integer()->get();
    if (v < min || v > max) {
      fail(Decision::deny(DenyReason::InvalidValue,
                          where + " must be between " + std::to_string(min) + " and " + std::to_string(max), where,
                          std::to_string(v)));
      return std::nullopt;
    }
    out.push_back(v);
  }
  return out;
}

const toml::table* TableReader::table(std::string_view key, bool required) {
  const toml::node* n = get(key, required);
  if (!n) return nullptr;
  if (!n->is_table()) {
    wrong_type(key, "a table");
    return nullptr;
  }
  return n->as_table();
}

const toml::array* TableReader::array(std::string_view key, bool required) {
  const toml::node* n = get(key, required);
  if (!n) return nullptr;
  if (!n->is_array()) {
    wrong_type(key, "an array");
    return nullptr;
  }
  return n->as_array();
}

std::optional<std::map<std::string, std::string>> TableReader::string_map(std::string_view key, bool required) {
  const toml::table* t = table(key, required);
  if (!t) return std::nullopt;
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : *t) {
    std::string where = path(key) + "." + std::string(k.str());
    if (!v.is_string()) {
      fail(Decision::deny(DenyReason::WrongType, where + " must be a string", where));
      return std::nullopt;
    }
    out.emplace(std::string(k.str()), v.as_string()->get());
  }
  return out;
}

Decision TableReader::finish() {
  if (!error_.allowed()) return error_;
  for (const auto& [k, v] : table_) {
    if (!seen_.contains(k.str())) {
      std::string where = path(k.str());
      return Decision::deny(DenyReason::UnknownField, "unknown field " + where, where);
    }
  }
  return Decision::allow();
}

std::string toml_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace gx
