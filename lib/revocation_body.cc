#include "lib/revocation_body.h"

#include "lib/crypto.h"
#include "lib/toml_reader.h"

namespace gx {
namespace {

constexpr std::string_view kHeaderComment =
    "# gx revocation list (format: gx-revocations(5)). Signed: change it only with gx revoke.\n";

// ---- the canonical reader ----

// A cursor over the body; every read either consumes exactly what the
// renderer writes or fails (the caller then declines the whole body).
class CanonicalReader {
 public:
  explicit CanonicalReader(std::string_view text) : rest_(text) {}

  bool done() const { return rest_.empty(); }
  bool literal(std::string_view lit) {
    if (!rest_.starts_with(lit)) return false;
    rest_.remove_prefix(lit.size());
    return true;
  }
  // Digits as std::to_string writes a positive number: no sign, no leading zero.
  bool positive(uint64_t& out) {
    size_t n = 0;
    out = 0;
    while (n < rest_.size() && rest_[n] >= '0' && rest_[n] <= '9') {
      if (n == 18) return false;  // more than 18 digits: beyond what a valid serial needs
      out = out * 10 + static_cast<uint64_t>(rest_[n] - '0');
      ++n;
    }
    if (n == 0 || rest_[0] == '0') return false;
    rest_.remove_prefix(n);
    return true;
  }
  // A string exactly as toml_quote() writes it, printable ASCII only.
  bool quoted(std::string& out) {
    out.clear();
    if (!literal("\"")) return false;
    for (size_t i = 0; i < rest_.size(); ++i) {
      // The common case, a run of plain characters, is copied in one go.
      size_t run = i;
      while (run < rest_.size() && rest_[run] >= 0x20 && rest_[run] < 0x7f && rest_[run] != '"' && rest_[run] != '\\')
        ++run;
      out.append(rest_.substr(i, run - i));
      if (run == rest_.size()) return false;
      i = run;
      char c = rest_[i];
      if (c == '"') {
        rest_.remove_prefix(i + 1);
        return true;
      }
      if (c == '\\') {
        if (++i == rest_.size()) return false;
        switch (rest_[i]) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'u': {
            int v = control_escape(rest_.substr(i + 1));
            if (v < 0) return false;
            out += static_cast<char>(v);
            i += 4;
            break;
          }
          default: return false;
        }
        continue;
      }
      return false;  // a raw control character or non-ASCII: not our rendering
    }
    return false;
  }
  bool time(UnixTime& out) {
    if (!quoted(scratch_)) return false;
    if (scratch_ == last_time_text_) {  // lists are written in bursts: times repeat
      out = last_time_;
      return true;
    }
    auto t = parse_utc(scratch_);  // one spelling per instant (round-trips)
    if (!t) return false;
    last_time_text_ = scratch_;
    last_time_ = *t;
    out = *t;
    return true;
  }

 private:
  // "00XX" (lowercase hex) naming a byte toml_quote escapes as \u: a control
  // character without a short escape, or DEL. -1 otherwise.
  static int control_escape(std::string_view hex4) {
    if (hex4.size() < 4 || hex4[0] != '0' || hex4[1] != '0') return -1;
    auto digit = [](char h) { return h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : -1; };
    int hi = digit(hex4[2]), lo = digit(hex4[3]);
    if (hi < 0 || lo < 0) return -1;
    int v = hi * 16 + lo;
    if ((v >= 0x20 && v != 0x7f) || v == '\n' || v == '\t' || v == '\r') return -1;
    return v;
  }

  std::string_view rest_;
  std::string scratch_, last_time_text_;
  UnixTime last_time_ = 0;
};

// ---- the TOML reader ----

Result<UnixTime> read_time(TableReader& r, std::string_view key) {
  auto s = r.string(key, true);
  if (!s) return r.finish();
  auto t = parse_utc(*s);
  if (!t) {
    r.invalid(key, *s, "must be an RFC 3339 UTC time like 2026-01-31T23:59:00Z");
    return r.finish();
  }
  return *t;
}

}  // namespace

std::string render_revocation_body(const RevocationBody& b) {
  std::string out = std::string(kHeaderComment) + "version = " + std::to_string(b.version) +
                    "\nserial = " + std::to_string(b.serial) + "\nissued_at = " + toml_quote(format_utc(b.issued_at)) +
                    "\n";
  out.reserve(out.size() + b.entries.size() * 160);
  for (const auto& e : b.entries) {
    out += "\n[[entry]]\n";
    out += e.kind == RevocationKind::Artifact ? "artifact = " : "key_id = ";
    out += toml_quote(e.target);
    if (!e.reason.empty()) {
      out += "\nreason = ";
      out += toml_quote(e.reason);
    }
    out += "\nrevoked_at = ";
    out += toml_quote(format_utc(e.revoked_at));
    out += "\n";
  }
  out += "\n";  // a blank line before the signatures
  return out;
}

std::optional<RevocationBody> parse_canonical_revocation_body(std::string_view text) {
  CanonicalReader in(text);
  RevocationBody b;
  uint64_t version = 0;
  if (!in.literal(kHeaderComment) || !in.literal("version = ") || !in.positive(version) ||
      version != static_cast<uint64_t>(kRevocationsVersionCurrent) || !in.literal("\nserial = ") ||
      !in.positive(b.serial) || b.serial > static_cast<uint64_t>(INT64_MAX) || !in.literal("\nissued_at = ") ||
      !in.time(b.issued_at) || !in.literal("\n"))
    return std::nullopt;
  b.version = static_cast<int>(version);
  // An estimate from the size of a typical entry, so the vector is not
  // regrown a dozen times for a large list.
  b.entries.reserve(std::min(text.size() / 128, kRevocationsMaxEntries));
  while (in.literal("\n[[entry]]\n")) {
    RevocationEntry e;
    if (in.literal("artifact = ")) e.kind = RevocationKind::Artifact;
    else if (in.literal("key_id = ")) e.kind = RevocationKind::Key;
    else return std::nullopt;
    if (!in.quoted(e.target) || !crypto::is_sha256_ref(e.target) || !in.literal("\n")) return std::nullopt;
    if (in.literal("reason = ") && (!in.quoted(e.reason) || e.reason.empty() || !in.literal("\n"))) return std::nullopt;
    if (!in.literal("revoked_at = ") || !in.time(e.revoked_at) || !in.literal("\n")) return std::nullopt;
    if (b.entries.size() == kRevocationsMaxEntries) return std::nullopt;
    b.entries.push_back(std::move(e));
  }
  if (!in.literal("\n") || !in.done()) return std::nullopt;  // the blank line that ends the body
  return b;
}

Result<RevocationBody> parse_revocation_body(std::string_view text, const std::string& origin) {
  if (auto canonical = parse_canonical_revocation_body(text)) return std::move(*canonical);
  auto doc = parse_toml(text, origin);
  if (!doc) return doc.error();
  RevocationBody b;
  TableReader top(*doc, "");
  auto version = top.integer("version", true, kRevocationsVersionCurrent, kRevocationsVersionCurrent);
  auto serial = top.integer("serial", true, 1, INT64_MAX);
  auto issued = read_time(top, "issued_at");
  const toml::array* entries = top.array("entry", false);
  if (Decision d = top.finish(); !d) {
    if (!version && d.reason == DenyReason::InvalidValue) d.reason = DenyReason::UnsupportedVersion;
    return d;
  }
  b.version = static_cast<int>(*version);
  b.serial = static_cast<uint64_t>(*serial);
  b.issued_at = *issued;
  if (!entries) return b;
  if (!entries->empty() && !entries->is_array_of_tables())
    return Decision::deny(DenyReason::WrongType, "entry must be an array of tables", "entry");
  if (entries->size() > kRevocationsMaxEntries)
    return Decision::deny(DenyReason::InvalidValue, "more than " + std::to_string(kRevocationsMaxEntries) + " entries",
                          "revocations", origin);
  b.entries.reserve(entries->size());
  for (size_t i = 0; i < entries->size(); ++i) {
    TableReader r(*entries->get(i)->as_table(), "entry[" + std::to_string(i) + "]");
    auto artifact = r.string("artifact", false);
    auto key_id = r.string("key_id", false);
    auto reason = r.string("reason", false);
    auto when = read_time(r, "revoked_at");
    if (Decision d = r.finish(); !d) return d;
    if (artifact.has_value() == key_id.has_value())
      return Decision::deny(DenyReason::InvalidValue, r.path("") + " needs exactly one of artifact or key_id",
                            r.path(""));
    const std::string& target = artifact ? *artifact : *key_id;
    if (!crypto::is_sha256_ref(target))
      return Decision::deny(DenyReason::InvalidValue, "target must be sha256:<64 hex digits>",
                            r.path(artifact ? "artifact" : "key_id"), target);
    b.entries.push_back(
        RevocationEntry{artifact ? RevocationKind::Artifact : RevocationKind::Key, target, reason.value_or(""), *when});
  }
  return b;
}

}  // namespace gx
