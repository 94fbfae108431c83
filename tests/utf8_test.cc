// lib/utf8.h: well-formed UTF-8, as JSON text needs it.
#include "lib/utf8.h"

#include <catch2/catch.hpp>
#include <string>

using gx::invalid_utf8_at;
using gx::valid_utf8;

TEST_CASE("utf8: well-formed text of every length passes") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ASCII"));
  CHECK(valid_utf8("caf\xc3\xa9"));           // U+00E9
  CHECK(valid_utf8("\xe2\x82\xac"));          // U+20AC
  CHECK(valid_utf8("\xf0\x9f\x98\x80"));      // U+1F600
  CHECK(valid_utf8("\xf4\x8f\xbf\xbf"));      // U+10FFFF, the last code point
  CHECK(valid_utf8(std::string("a\0b", 3)));  // NUL is U+0000
}

TEST_CASE("utf8: the offset of the first bad byte") {
  CHECK(invalid_utf8_at("ok\xff") == 2);
  CHECK(invalid_utf8_at("\x80") == 0);                  // a continuation byte alone
  CHECK(invalid_utf8_at("ab\xc3") == 2);                // cut short
  CHECK(invalid_utf8_at("\xc3\x28") == 0);              // not a continuation
  CHECK(invalid_utf8_at("\xc0\xaf") == 0);              // overlong '/'
  CHECK(invalid_utf8_at("\xe0\x80\xaf") == 0);          // overlong, three bytes
  CHECK(invalid_utf8_at("x\xed\xa0\x80") == 1);         // a surrogate (U+D800)
  CHECK(invalid_utf8_at("\xf4\x90\x80\x80") == 0);      // above U+10FFFF
  CHECK(invalid_utf8_at("\xf8\x88\x80\x80\x80") == 0);  // five-byte form
}
