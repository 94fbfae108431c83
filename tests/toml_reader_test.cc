// lib/toml_reader: the strict TOML layer every gx file format reads through.
#include "lib/toml_reader.h"

#include <catch2/catch.hpp>
#include <string>

using namespace gx;

namespace {

toml::table parsed(const std::string& text) {
  auto t = parse_toml(text, "test.toml");
  REQUIRE(t.ok());
  return t.take();
}

}  // namespace

TEST_CASE("check_text: empty and binary input are refused by name") {
  CHECK(check_text("a = 1\n", "x").allowed());
  CHECK(check_text("", "x").reason == DenyReason::Empty);
  CHECK(check_text(" \n\t\n", "x").reason == DenyReason::Empty);
  CHECK(check_text(std::string("a = 1\0b", 7), "x").reason == DenyReason::NotText);
  CHECK(check_text("a = \"\xff\xfe\"", "x").reason == DenyReason::NotText);
  CHECK(check_text("a = \"caf\xc3\xa9\"", "x").allowed());  // valid UTF-8
}

TEST_CASE("parse_toml: syntax errors, duplicate keys and redefined tables") {
  CHECK(parse_toml("a = ", "t").error().reason == DenyReason::Malformed);
  CHECK(parse_toml("a = 1\na = 2\n", "t").error().reason == DenyReason::DuplicateField);
  CHECK(parse_toml("[x]\nb = 1\n[x]\nc = 2\n", "t").error().reason == DenyReason::DuplicateField);
  CHECK(parse_toml("x.b = 1\n[x]\nb = 2\n", "t").error().reason == DenyReason::DuplicateField);
  auto d = parse_toml("a = 1\na = 2\n", "artifact.toml").error();
  CHECK(d.explain().find("artifact.toml") != std::string::npos);
  CHECK(parse_toml("a = 1\n[t]\nb = \"x\"\n", "t").ok());
}

TEST_CASE("TableReader: typed getters, required keys and ranges name the dotted key") {
  auto t = parsed("s = \"v\"\nn = 5\nb = true\narr = [\"a\", \"b\"]\nints = [1, 2]\n[sub]\nk = \"x\"\n");
  TableReader r(t, "top");
  CHECK(r.string("s", true) == std::optional<std::string>("v"));
  CHECK(r.integer("n", true, 0, 10) == std::optional<int64_t>(5));
  CHECK(r.boolean("b", true) == std::optional<bool>(true));
  CHECK(r.string_array("arr", true) == std::optional<std::vector<std::string>>({"a", "b"}));
  CHECK(r.integer_array("ints", true, 0, 9) == std::optional<std::vector<int64_t>>({1, 2}));
  CHECK(r.table("sub", true) != nullptr);
  CHECK(r.string("absent", false) == std::nullopt);
  CHECK(r.ok());
  CHECK(r.finish().allowed());

  TableReader missing(t, "top");
  CHECK_FALSE(missing.string("absent", true).has_value());
  Decision m = missing.finish();
  CHECK(m.reason == DenyReason::MissingField);
  CHECK(m.field == "top.absent");

  TableReader range(t, "top");
  CHECK_FALSE(range.integer("n", true, 0, 4).has_value());
  CHECK(range.finish().reason == DenyReason::InvalidValue);

  TableReader type(t, "top");
  CHECK_FALSE(type.integer("s", true, 0, 4).has_value());
  Decision w = type.finish();
  CHECK(w.reason == DenyReason::WrongType);
  CHECK(w.field == "top.s");
}

TEST_CASE("TableReader: keys nobody asked for are UnknownField, and the first error wins") {
  auto t = parsed("known = 1\nextra = 2\n");
  TableReader r(t, "sandbox");
  CHECK(r.integer("known", true, 0, 9).has_value());
  Decision d = r.finish();
  CHECK(d.reason == DenyReason::UnknownField);
  CHECK(d.field == "sandbox.extra");

  TableReader first(t, "sandbox");
  first.invalid("known", "1", "first problem");
  first.invalid("extra", "2", "second problem");
  Decision f = first.finish();
  CHECK(f.reason == DenyReason::InvalidValue);
  CHECK(f.field == "sandbox.known");
  CHECK(f.detail.find("first problem") != std::string::npos);
}

TEST_CASE("TableReader: string arrays and maps refuse mixed types") {
  auto t = parsed("arr = [\"a\", 1]\n[pin]\nA = \"1\"\nB = 2\n");
  TableReader r(t, "env");
  CHECK_FALSE(r.string_array("arr", true).has_value());
  CHECK(r.finish().reason == DenyReason::WrongType);
  TableReader m(t, "env");
  CHECK_FALSE(m.string_map("pin", true).has_value());
  Decision d = m.finish();
  CHECK(d.reason == DenyReason::WrongType);
}

TEST_CASE("toml_quote round-trips through the parser") {
  for (std::string s : {std::string("plain"), std::string("quote \" and \\ backslash"),
                        std::string("tab\tnewline\nbell\x07"), std::string("caf\xc3\xa9")}) {
    auto t = parsed("k = " + toml_quote(s) + "\n");
    TableReader r(t, "");
    CHECK(r.string("k", true) == std::optional<std::string>(s));
  }
}
