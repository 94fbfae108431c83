#include "lib/receipt_line.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <type_traits>
#include <vector>

#include "lib/receipt_members.h"

namespace gx {
namespace {

// Over the longest plain integer every reader agrees on: 18 digits stay
// inside int64_t and uint64_t whatever they are (nlohmann reads a longer
// one as unsigned, signed or a float depending on its value).
constexpr size_t kMaxDigits = 18;
// More members than any version has: a longer line is declined.
constexpr size_t kMaxMembers = 48;

enum class Type { String, Integer, Boolean, StringList, Object, Other };

struct Member {
  std::string_view key;
  Type type = Type::Other;
  size_t at = 0, len = 0;  // the value's text in the line
  size_t member_at = 0;    // where the member (its key) starts
  std::string_view str;    // Type::String: the contents (plain: what the value is)
  int64_t integer = 0;     // Type::Integer
  bool boolean = false;    // Type::Boolean
};

// A cursor over the line that recognises canonical JSON of the plain kind
// the contract describes; every method returns false to decline.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

  bool at_end() const { return p_ == end_; }
  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  bool eat(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  char peek() const { return p_ == end_ ? '\0' : *p_; }

  // "..." of printable ASCII but '"' and '\\': nlohmann writes such a
  // string byte for byte, and reads it back as those bytes.
  bool plain_string(std::string_view& out) {
    if (!eat('"')) return false;
    const char* start = p_;
    for (; p_ != end_; ++p_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c < 0x20 || c > 0x7e || c == '\\') return false;
    }
    if (p_ == end_) return false;
    out = std::string_view(start, static_cast<size_t>(p_ - start));
    ++p_;
    return true;
  }

  // -?(0|[1-9][0-9]*), at most kMaxDigits digits, not "-0" (read as 0 and
  // written "0"). What follows is the caller's: a '.', 'e' or digit after it
  // is not a ',', '}' or ']' and so declines there.
  bool integer(int64_t& out) {
    const bool negative = eat('-');
    const char* start = p_;
    int64_t value = 0;
    for (; p_ != end_ && *p_ >= '0' && *p_ <= '9'; ++p_) {
      if (static_cast<size_t>(p_ - start) == kMaxDigits) return false;  // before the value could overflow
      value = value * 10 + (*p_ - '0');
    }
    const size_t digits = static_cast<size_t>(p_ - start);
    if (digits == 0 || (digits > 1 && *start == '0') || (negative && value == 0)) return false;
    out = negative ? -value : value;
    return true;
  }

  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  // Any canonical value at nesting `depth` (the receipt object is depth 1).
  bool value(size_t depth) {
    switch (peek()) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': {
        std::string_view s;
        return plain_string(s);
      }
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: {
        int64_t n = 0;
        return integer(n);
      }
    }
  }

 private:
  // Keys strictly ascending as std::string orders them (nlohmann's object
  // is a std::map: a repeated key would be written once).
  bool object(size_t depth) {
    if (depth > kReceiptMaxDepth || !eat('{')) return false;
    if (eat('}')) return true;
    std::string_view previous, key;
    bool first = true;
    do {
      if (!plain_string(key) || (!first && !(previous < key)) || !eat(':') || !value(depth)) return false;
      previous = key;
      first = false;
    } while (eat(','));
    return eat('}');
  }
  bool array(size_t depth) {
    if (depth > kReceiptMaxDepth || !eat('[')) return false;
    if (eat(']')) return true;
    do {
      if (!value(depth)) return false;
    } while (eat(','));
    return eat(']');
  }

  const char* begin_;
  const char* p_;
  const char* end_;
};

// One member value of the receipt object, typed.
bool read_value(Scanner& s, Member& m) {
  m.at = s.offset();
  switch (s.peek()) {
    case '"':
      m.type = Type::String;
      if (!s.plain_string(m.str)) return false;
      break;
    case 't':
    case 'f':
      m.type = Type::Boolean;
      m.boolean = s.peek() == 't';
      if (!s.literal(m.boolean ? "true" : "false")) return false;
      break;
    case '[': {
      // Only what a receipt's lists hold: plain strings.
      m.type = Type::StringList;
      s.eat('[');
      if (!s.eat(']')) {
        std::string_view e;
        do {
          if (!s.plain_string(e)) return false;
        } while (s.eat(','));
        if (!s.eat(']')) return false;
      }
      break;
    }
    case '{':
      m.type = Type::Object;
      if (!s.value(1)) return false;
      break;
    default:
      m.type = Type::Integer;
      if (!s.integer(m.integer)) return false;
  }
  m.len = s.offset() - m.at;
  return true;
}

// Fills a Receipt from the scanned members in receipt_members::visit's
// order: each member visited must be the next one scanned, with its type.
class Filler {
 public:
  Filler(std::string_view line, const std::vector<Member>& members, ReceiptLine& out)
      : line_(line), members_(members), out_(out) {}

  bool ok() const { return ok_ && next_ == members_.size(); }

  void str(std::string_view key, std::string& v) {
    if (const Member* m = take(key, Type::String)) v.assign(m->str);
  }
  template <class Integer>
  void num(std::string_view key, Integer& v) {
    const Member* m = take(key, Type::Integer);
    if (!m) return;
    // from_json reads every number as int64_t; seq (unsigned here) must be
    // at least 1 and version (int) one it knows, both checked by the caller.
    if constexpr (std::is_unsigned_v<Integer>) {
      if (m->integer < 0) {
        ok_ = false;
        return;
      }
    }
    v = static_cast<Integer>(m->integer);
  }
  void boolean(std::string_view key, bool& v) {
    if (const Member* m = take(key, Type::Boolean)) v = m->boolean;
  }
  void list(std::string_view key, std::vector<std::string>& v) {
    const Member* m = take(key, Type::StringList);
    if (!m) return;
    v.clear();
    // Plain strings hold no '"': the elements are what lies between quotes.
    std::string_view inner = line_.substr(m->at + 1, m->len - 2);
    while (!inner.empty()) {
      const size_t close = inner.find('"', 1);
      v.emplace_back(inner.substr(1, close - 1));
      inner.remove_prefix(std::min(inner.size(), close + 2));  // the '"' and a ','
    }
  }
  void decision(std::string_view key, ReceiptKind& v) {
    const Member* m = take(key, Type::String);
    if (!m) return;
    if (const auto kind = kind_from_name(m->str)) v = *kind;
    else ok_ = false;
  }
  void sandbox() {
    if (const Member* m = take("sandbox", Type::Object)) {
      out_.sandbox_at = m->at;
      out_.sandbox_len = m->len;
    }
  }
  void sig() {
    const Member* m = take("sig", Type::String);
    if (!m) return;
    out_.fields.sig.assign(m->str);
    // With the comma before it: "seq" precedes "sig" in every version, so
    // there is one (checked all the same).
    const size_t from = m->member_at - 1;
    if (line_[from] != ',') {
      ok_ = false;
      return;
    }
    out_.sig_member_at = from;
    out_.sig_member_len = m->at + m->len - from;
  }

 private:
  const Member* take(std::string_view key, Type type) {
    if (!ok_ || next_ == members_.size() || members_[next_].key != key || members_[next_].type != type) {
      ok_ = false;
      return nullptr;
    }
    return &members_[next_++];
  }

  std::string_view line_;
  const std::vector<Member>& members_;
  ReceiptLine& out_;
  size_t next_ = 0;
  bool ok_ = true;
};

}  // namespace

std::string ReceiptLine::signed_body(std::string_view line) const {
  std::string body;
  body.reserve(line.size() - sig_member_len);
  body.append(line.substr(0, sig_member_at));
  body.append(line.substr(sig_member_at + sig_member_len));
  return body;
}

Result<Receipt> read_receipt_fields(std::string_view line, std::string* signed_body) {
  if (auto fast = parse_canonical_line(line)) {
    if (signed_body) *signed_body = fast->signed_body(line);
    return std::move(fast->fields);
  }
  nlohmann::json j = parse_receipt_line(line);
  if (j.is_discarded())
    return Decision::deny(DenyReason::Malformed,
                          "not valid JSON (or nested deeper than " + std::to_string(kReceiptMaxDepth) + " levels)");
  if (canonical_dump(j) != line)
    return Decision::deny(DenyReason::Malformed, "not in canonical form (bytes were changed)");
  auto rec = Receipt::from_json(j);
  if (!rec) return Decision::deny(DenyReason::Malformed, "not a valid receipt: " + rec.error().explain());
  if (signed_body) {
    j.erase("sig");
    *signed_body = canonical_dump(j);
  }
  Receipt r = rec.take();
  r.sandbox = nlohmann::json::object();
  return r;
}

std::optional<ReceiptLine> parse_canonical_line(std::string_view line) {
  // The members, scanned and typed. Their order is the Filler's to check:
  // exactly receipt_members::visit's, which is sorted, without repeats.
  thread_local std::vector<Member> members;
  members.clear();
  Scanner s(line);
  if (!s.eat('{') || s.eat('}')) return std::nullopt;
  do {
    if (members.size() == kMaxMembers) return std::nullopt;
    Member& m = members.emplace_back();
    m.member_at = s.offset();
    if (!s.plain_string(m.key) || !s.eat(':') || !read_value(s, m)) return std::nullopt;
  } while (s.eat(','));
  if (!s.eat('}') || !s.at_end()) return std::nullopt;

  // The version decides which members there are; "version" sorts near the end.
  int64_t version = 0;
  for (const Member& m : members)
    if (m.key == "version" && m.type == Type::Integer) version = m.integer;
  if (version < kReceiptVersionOldest || version > kReceiptVersionCurrent) return std::nullopt;

  ReceiptLine out;
  out.fields.version = static_cast<int>(version);
  Filler fill(line, members, out);
  receipt_members::visit(out.fields, fill);
  if (!fill.ok() || out.fields.seq < 1 || out.fields.version != version || !out.fields.check_values())
    return std::nullopt;
  return out;
}

}  // namespace gx
