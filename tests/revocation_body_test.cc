// The revocation list body: gx's canonical rendering, the canonical reader
// that accepts exactly it, and the TOML reader it falls back to.
#include "lib/revocation_body.h"

#include <catch2/catch.hpp>

#include "lib/crypto.h"

using namespace gx;

namespace {

const UnixTime kT = 1'800'000'000;

std::string ref(const std::string& tag) { return "sha256:" + crypto::sha256_hex(tag); }

RevocationBody sample(const std::string& reason = "ticket closed") {
  RevocationBody b;
  b.serial = 7;
  b.issued_at = kT;
  b.entries.push_back({RevocationKind::Artifact, ref("a"), reason, kT - 60});
  b.entries.push_back({RevocationKind::Key, ref("k"), "", kT - 3600});
  b.entries.push_back({RevocationKind::Artifact, ref("b"), "second", kT});
  return b;
}

void require_same(const RevocationBody& a, const RevocationBody& b) {
  CHECK(a.version == b.version);
  CHECK(a.serial == b.serial);
  CHECK(a.issued_at == b.issued_at);
  REQUIRE(a.entries.size() == b.entries.size());
  for (size_t i = 0; i < a.entries.size(); ++i) {
    INFO("entry " << i);
    CHECK(a.entries[i].kind == b.entries[i].kind);
    CHECK(a.entries[i].target == b.entries[i].target);
    CHECK(a.entries[i].reason == b.entries[i].reason);
    CHECK(a.entries[i].revoked_at == b.entries[i].revoked_at);
  }
}

// What the TOML reader alone makes of `text` (the canonical reader declines
// anything with a prefix that is not a header comment).
Result<RevocationBody> via_toml(const std::string& text) { return parse_revocation_body("\n" + text, "test"); }

// `text` with the first `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

}  // namespace

TEST_CASE("revocation body: the canonical reader reads back exactly what the renderer wrote") {
  for (const std::string& reason : {std::string("ticket closed"), std::string("quote \" and \\ backslash"),
                                    std::string("line\nbreak\ttab\rcr"), std::string("ctl \x01\x1f del \x7f")}) {
    INFO(reason);
    RevocationBody b = sample(reason);
    std::string text = render_revocation_body(b);
    auto canonical = parse_canonical_revocation_body(text);
    REQUIRE(canonical.has_value());
    require_same(*canonical, b);
    // The TOML reader agrees on the same bytes.
    auto toml = via_toml(text);
    REQUIRE(toml.ok());
    require_same(*toml, b);
    CHECK(render_revocation_body(*canonical) == text);
  }
  RevocationBody empty;
  empty.serial = 1;
  empty.issued_at = kT;
  auto none = parse_canonical_revocation_body(render_revocation_body(empty));
  REQUIRE(none.has_value());
  CHECK(none->entries.empty());
}

TEST_CASE("revocation body: any other spelling is declined by the canonical reader, read by TOML") {
  const std::string text = render_revocation_body(sample());
  auto replace = [&](const std::string& from, const std::string& to) { return replaced(text, from, to); };
  const std::string variants[] = {
      replace("serial = 7", "serial  = 7"),
      replace("serial = 7", "serial = +7"),
      replace("\n[[entry]]\n", "\n[[entry]] # first\n"),
      replace("reason = \"ticket closed\"", "reason = 'ticket closed'"),
      replace("reason = \"ticket closed\"\n", "reason = \"ticket closed\"\n\n"),
      text + "# trailing comment\n",
      replace("# gx revocation list", "#  gx revocation list"),
  };
  for (const auto& v : variants) {
    INFO(v);
    CHECK_FALSE(parse_canonical_revocation_body(v).has_value());
    auto read = parse_revocation_body(v, "test");
    REQUIRE(read.ok());
    require_same(*read, sample());
  }
  // Spellings only the canonical reader could confuse: an explicit empty
  // reason, an escape gx does not write, non-ASCII text.
  RevocationBody no_reason = sample("");
  std::string explicit_empty = render_revocation_body(no_reason);
  explicit_empty.replace(explicit_empty.find("revoked_at"), 0, "reason = \"\"\n");
  CHECK_FALSE(parse_canonical_revocation_body(explicit_empty).has_value());
  auto e = parse_revocation_body(explicit_empty, "test");
  REQUIRE(e.ok());
  require_same(*e, no_reason);
  CHECK_FALSE(parse_canonical_revocation_body(replace("ticket closed", "ticket\\u0041closed")).has_value());
  CHECK_FALSE(parse_canonical_revocation_body(replace("ticket closed", "ticket\\u001Fclosed")).has_value());
  std::string utf8 = replace("ticket closed", "ticket \xc3\xa9t\xc3\xa9");
  CHECK_FALSE(parse_canonical_revocation_body(utf8).has_value());
  auto u = parse_revocation_body(utf8, "test");
  REQUIRE(u.ok());
  CHECK(u->entries[0].reason == "ticket \xc3\xa9t\xc3\xa9");
}

TEST_CASE("revocation body: invalid values are declined by the canonical reader and explained by the TOML reader") {
  const std::string text = render_revocation_body(sample());
  auto replace = [&](const std::string& from, const std::string& to) { return replaced(text, from, to); };
  struct Case {
    std::string text;
    DenyReason reason;
    std::string field;
  };
  const Case cases[] = {
      {replace("version = 1", "version = 2"), DenyReason::UnsupportedVersion, "version"},
      {replace("serial = 7", "serial = 0"), DenyReason::InvalidValue, "serial"},
      {replace(ref("a"), "sha256:ABC"), DenyReason::InvalidValue, "entry[0].artifact"},
      {replace(ref("a"), ref("a").substr(7)), DenyReason::InvalidValue, "entry[0].artifact"},
      {replace("2027-01-15T08:00:00Z", "2027-02-30T08:00:00Z"), DenyReason::InvalidValue, "issued_at"},
      {replace("reason = \"second\"", "note = \"second\""), DenyReason::UnknownField, "entry[2].note"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK_FALSE(parse_canonical_revocation_body(c.text).has_value());
    auto r = parse_revocation_body(c.text, "test");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == c.reason);
    CHECK(r.error().field == c.field);
  }
}
