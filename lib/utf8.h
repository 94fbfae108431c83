// Well-formed UTF-8 (RFC 3629): what JSON text and TOML strings may hold.
#pragma once

#include <cstddef>
#include <string_view>

namespace gx {

// The offset of the first byte that is not part of well-formed UTF-8 --
// overlong forms, surrogates and code points above U+10FFFF included, which
// nlohmann::json's dump refuses -- or npos. NUL is well-formed (U+0000).
size_t invalid_utf8_at(std::string_view s);
inline bool valid_utf8(std::string_view s) { return invalid_utf8_at(s) == std::string_view::npos; }

}  // namespace gx
