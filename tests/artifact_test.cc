#include "lib/artifact.h"

#include <catch2/catch.hpp>

#include "lib/crypto.h"
#include "lib/envelope.h"
#include "lib/toml_reader.h"

using namespace gx;

namespace {

Artifact sample() {
  Artifact a;
  a.id = "abc123";
  a.issuer = "alice@host";
  a.reason = "why \"quoted\"\nnewline";
  a.issued_at = 1'800'000'000;
  a.not_before = 1'800'000'000;
  a.not_after = 1'800'000'900;
  a.scope.path = "/usr/bin/echo";
  a.scope.sha256 = std::string(64, 'a');
  a.scope.argv = {{"echo", false}, {"*.txt", true}};
  a.scope.cwd = "/tmp";
  a.scope.env.allow = {"PATH"};
  a.scope.env.pin = {{"LANG", "C"}};
  a.scope.sandbox.read = {"/usr"};
  a.scope.sandbox.network = NetMode::Tcp;
  a.scope.sandbox.connect_tcp = {443};
  a.scope.files = {{"/etc/hosts", std::string(64, 'b')}};
  a.nonce = std::string(32, 'c');
  a.max_uses = 3;
  a.bindings.uid = 1000;
  a.parent = "sha256:" + std::string(64, 'd');
  return a;
}

Result<Artifact> parse(const std::string& body) { return parse_artifact_body(body); }

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  return s.replace(pos, from.size(), to);
}

}  // namespace

TEST_CASE("render then parse round-trips every field") {
  Artifact a = sample();
  std::string body = render_artifact_body(a);
  auto b = parse(body);
  REQUIRE(b);
  CHECK(b->id == a.id);
  CHECK(b->reason == a.reason);
  CHECK(b->not_after == a.not_after);
  CHECK(b->scope.argv.size() == 2);
  CHECK(b->scope.argv[1].glob);
  CHECK(b->scope.argv[1].matches("x.txt"));
  CHECK_FALSE(b->scope.argv[1].matches("x.txt.sh"));
  CHECK(b->scope.env.pin.at("LANG") == "C");
  CHECK(b->scope.sandbox.network == NetMode::Tcp);
  CHECK(b->scope.sandbox.connect_tcp == std::vector<uint16_t>{443});
  CHECK(b->scope.files.size() == 1);
  CHECK(b->max_uses == 3);
  CHECK(b->bindings.uid == 1000u);
  CHECK(b->parent == a.parent);
  CHECK(b->body == body);
  CHECK(b->digest() == "sha256:" + crypto::sha256_hex(body));
}

TEST_CASE("ArtifactParseMemo: a signature block parses as parse_signatures does, whatever was parsed before") {
  ArtifactParseMemo memo;
  const std::string body = render_artifact_body(sample());
  auto k1 = crypto::PrivateKey::generate();
  auto k2 = crypto::PrivateKey::generate();
  REQUIRE(k1);
  REQUIRE(k2);
  auto one = append_signature(body, crypto::kArtifactType, *k1);
  REQUIRE(one);
  auto two = append_signature(*one, crypto::kArtifactType, *k2);
  REQUIRE(two);
  auto block_of = [](const std::string& bytes) {
    auto parts = split_artifact(bytes);
    REQUIRE(parts);
    return parts->signature_block;
  };
  auto same = [](const Result<std::vector<Signature>>& a, const Result<std::vector<Signature>>& b) {
    REQUIRE(a.ok() == b.ok());
    if (!a) return a.error().reason == b.error().reason && a.error().detail == b.error().detail;
    if (a->size() != b->size()) return false;
    for (size_t i = 0; i < a->size(); ++i)
      if ((*a)[i].key_id != (*b)[i].key_id || (*a)[i].algorithm != (*b)[i].algorithm || (*a)[i].value != (*b)[i].value)
        return false;
    return true;
  };
  const std::string b1 = block_of(*one), b2 = block_of(*two);
  std::string altered = b2;  // one base64 character of the last signature's value changed
  const size_t at = altered.rfind("value");
  REQUIRE(at != std::string::npos);
  const size_t q = altered.find('"', at) + 5;
  altered[q] = altered[q] == 'A' ? 'B' : 'A';
  const std::string broken = b2 + "\n[[signature]]\nkey_id = 1\n";
  // Each block after every other, twice over: always what parse_signatures says.
  for (int round = 0; round < 2; ++round)
    for (const std::string* b :
         {&b1, &b2, &b2, static_cast<const std::string*>(&altered), static_cast<const std::string*>(&broken), &b1})
      CHECK(same(memo.signatures(*b), parse_signatures(*b)));
  CHECK(memo.signatures(b2)->size() == 2);
  CHECK_FALSE(memo.signatures(broken));
}

TEST_CASE("ArtifactParseMemo: the same body parses to the same artifact; any other byte is parsed afresh") {
  ArtifactParseMemo memo;
  Artifact a = sample();
  const std::string body = render_artifact_body(a);
  auto first = memo.parse(body);
  REQUIRE(first);
  CHECK(memo.hits() == 0);
  auto again = memo.parse(body);
  REQUIRE(again);
  CHECK(memo.hits() == 1);
  CHECK(again->body == body);
  CHECK(render_artifact_body(*again) == render_artifact_body(*first));
  CHECK(again->max_uses == 3);
  // One byte more (a different reason) is another body: parsed, not looked up.
  Artifact b = sample();
  b.reason += "!";
  const std::string other = render_artifact_body(b);
  auto second = memo.parse(other);
  REQUIRE(second);
  CHECK(memo.hits() == 1);
  CHECK(second->reason == b.reason);
  CHECK(second->body == other);
  // A body that does not parse is refused every time and never kept.
  const std::string broken = body + "\nunknown_field = 1\n";
  for (int i = 0; i < 2; ++i) {
    auto bad = memo.parse(broken);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().reason == DenyReason::UnknownField);
  }
  CHECK(memo.hits() == 1);
  // Both kept bodies hit; a third evicts the least recent.
  CHECK(memo.parse(body));
  CHECK(memo.parse(other));
  CHECK(memo.hits() == 3);
  Artifact c = sample();
  c.reason += "?";
  CHECK(memo.parse(render_artifact_body(c)));
  CHECK(memo.parse(other));  // kept
  CHECK(memo.hits() == 4);
  CHECK(memo.parse(body));  // evicted: parsed afresh
  CHECK(memo.hits() == 4);
}

TEST_CASE("strict parsing: each problem has its own reason and names the field") {
  const std::string body = render_artifact_body(sample());
  auto reason = [](const Result<Artifact>& r) { return r ? DenyReason::None : r.error().reason; };

  CHECK(reason(parse(body + "extra = 1\n")) == DenyReason::UnknownField);  // lands in [lineage]
  auto unknown = parse(replace(body, "[exec]\n", "[exec]\nsetuid = true\n"));
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().reason == DenyReason::UnknownField);
  CHECK(unknown.error().field == "exec.setuid");

  CHECK(reason(parse(replace(body, "issuer = ", "issuer = \"x\"\nissuer = "))) == DenyReason::DuplicateField);
  CHECK(reason(parse(body + "[exec]\ncwd = \"/\"\n")) == DenyReason::DuplicateField);
  // Dotted keys may not redefine a table either (go-toml#666, toml-rs#509
  // class of bugs). Control first: the same dotted key where it defines the
  // table alone is accepted, so the refusals below are about redefinition.
  const std::string top = "not_after = \"2027-01-15T08:15:00Z\"\n";
  const std::string no_bindings = replace(body, "\n[bindings]\nuid = 1000\n", "\n");
  auto dotted = parse(replace(no_bindings, top, top + "bindings.uid = 1000\n"));
  REQUIRE(dotted);
  CHECK(dotted->bindings.uid == 1000u);
  // A table made by a dotted key, then opened again with a [bindings] header.
  CHECK(reason(parse(replace(body, top, top + "bindings.hostname = \"h\"\n"))) == DenyReason::DuplicateField);
  // A key set in [exec], then again through a top-level dotted key.
  CHECK(reason(parse(replace(body, top, top + "exec.cwd = \"/\"\n"))) == DenyReason::DuplicateField);
  // [env.pin] made by a dotted key inside [env], then opened as a header.
  CHECK(reason(parse(replace(body, "[env.pin]\n", "pin.TZ = \"UTC\"\n[env.pin]\n"))) == DenyReason::DuplicateField);
  CHECK(reason(parse(replace(body, "max_uses = 3", "max_uses = \"3\""))) == DenyReason::WrongType);
  CHECK(reason(parse(replace(body, "max_uses = 3", "max_uses = 0"))) == DenyReason::InvalidValue);
  CHECK(reason(parse(replace(body, "max_uses = 3", "max_uses = 3.0"))) == DenyReason::WrongType);
  CHECK(reason(parse(replace(body, "version = 1", "version = 2"))) == DenyReason::UnsupportedVersion);
  CHECK(reason(parse(replace(body, "not_after = \"2027-01-15T08:15:00Z\"", ""))) == DenyReason::MissingField);
  CHECK(reason(parse(replace(body, "2027-01-15T08:15:00Z", "2027-01-15T08:15:00+01:00"))) == DenyReason::InvalidValue);
  CHECK(reason(parse(replace(body, "cwd = \"/tmp\"", "cwd = \"tmp\""))) == DenyReason::InvalidValue);
  CHECK(reason(parse(replace(body, "cwd = \"/tmp\"", "cwd = \"/tmp/../etc\""))) == DenyReason::InvalidValue);
  // One spelling per path (gx-artifact(5)): no trailing or repeated slash, no "." or "..".
  for (const char* spelling : {"/tmp/", "//tmp", "/tmp//", "/./tmp", "/tmp/.", "/tmp/x/.."})
    CHECK(reason(parse(replace(body, "cwd = \"/tmp\"", std::string("cwd = \"") + spelling + "\""))) ==
          DenyReason::InvalidValue);
  CHECK(reason(parse(replace(body, "cwd = \"/tmp\"", "cwd = \"/\""))) == DenyReason::None);
  CHECK(reason(parse(replace(body, "path = \"/usr/bin/echo\"", "path = \"/usr/bin/echo/\""))) ==
        DenyReason::InvalidValue);
  CHECK(reason(parse(replace(body, "read = [\"/usr\"]", "read = [\"/usr/\"]"))) == DenyReason::InvalidValue);
  CHECK(reason(parse(replace(body, "path = \"/etc/hosts\"", "path = \"/etc/hosts/\""))) == DenyReason::InvalidValue);
  CHECK(reason(parse(replace(body, "network = \"tcp\"", "network = \"udp\""))) == DenyReason::InvalidValue);
  CHECK(reason(parse("")) == DenyReason::Empty);
  CHECK(reason(parse(std::string("version = 1\n\0\n", 13))) == DenyReason::NotText);
  CHECK(reason(parse("version = 1\n\xff\xfe\n")) == DenyReason::NotText);
  CHECK(reason(parse("version = [1,\n")) == DenyReason::Malformed);
  // "\u0000" is valid TOML, but a C string ends there: a glob "/backup/*\u0000.tgz"
  // would match as "/backup/*" (review helper-37). Refused wherever it is, naming it.
  auto nul_glob = parse(replace(body, "{ glob = \"*.txt\" }", "{ glob = \"/backup/*\\u0000.txt\" }"));
  REQUIRE_FALSE(nul_glob);
  CHECK(nul_glob.error().reason == DenyReason::NotText);
  CHECK(nul_glob.error().field == "exec.argv[1].glob");
  auto nul_pin = parse(replace(body, "\"LANG\" = \"C\"", "\"LANG\" = \"C\\u0000x\""));
  REQUIRE_FALSE(nul_pin);
  CHECK(nul_pin.error().field == "env.pin.LANG");
  auto nul_key = parse(replace(body, "\"LANG\" = \"C\"", "\"LA\\u0000NG\" = \"C\""));
  REQUIRE_FALSE(nul_key);
  CHECK(nul_key.error().reason == DenyReason::NotText);
  CHECK(nul_key.error().field == "env.pin.LA?NG");
  CHECK(reason(parse(body + std::string(kArtifactMaxBytes, '#'))) == DenyReason::TooLarge);
  // A signature table inside the body is not a signature.
  CHECK(reason(parse(body + "[[ signature ]]\nkey_id = \"x\"\n")) != DenyReason::None);
}

// parse_utc/format_utc: tests/clock_test.cc.
TEST_CASE("durations") {
  CHECK(parse_duration("15m") == 900);
  CHECK(parse_duration("2h") == 7200);
  CHECK(parse_duration("1w") == 604800);
  CHECK_FALSE(parse_duration("15"));
  CHECK_FALSE(parse_duration("m"));
  CHECK_FALSE(parse_duration("-5m"));
}

TEST_CASE("split: the body is every byte before the first exact [[signature]] line") {
  auto p = split_artifact("a = 1\n[[signature]]\nkey_id = \"x\"\n");
  REQUIRE(p);
  CHECK(p->body == "a = 1\n");
  CHECK(p->signature_block == "[[signature]]\nkey_id = \"x\"\n");
  auto none = split_artifact("a = 1\n [[signature]]\n");
  REQUIRE(none);
  CHECK(none->signature_block.empty());
}

TEST_CASE("signature block parsing is strict and pins the algorithm") {
  const std::string id = "sha256:" + std::string(64, 'e');
  const std::string good =
      "[[signature]]\nkey_id = \"" + id + "\"\nalgorithm = \"ecdsa-p256-sha256\"\nvalue = \"AAAA\"\n";
  auto ok = parse_signatures(good);
  REQUIRE(ok);
  CHECK(ok->size() == 1);
  auto alg = parse_signatures(replace(good, "ecdsa-p256-sha256", "none"));
  REQUIRE_FALSE(alg);
  CHECK(alg.error().reason == DenyReason::UnsupportedAlgorithm);
  CHECK(parse_signatures(good + "extra = 1\n").error().reason == DenyReason::UnknownField);
  CHECK(parse_signatures(replace(good, "AAAA", "AAA")).error().reason == DenyReason::InvalidValue);
  CHECK(parse_signatures(replace(good, id, "sha256:xyz")).error().reason == DenyReason::InvalidValue);
  std::string many;
  for (size_t i = 0; i <= kArtifactMaxSignatures; ++i) many += good;
  CHECK(parse_signatures(many).error().reason == DenyReason::TooLarge);
}
