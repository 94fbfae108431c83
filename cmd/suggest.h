// "Did you mean ...?" for mistyped subcommands and options (cmd-only helper).
//
// Only consulted after CLI11 has already rejected the command line, so it
// can never change what a valid command line means: it only words the
// error better. A suggestion is made only when exactly one spelling is
// close (edit distance), never a guess from a distant match.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gx::cli {

// Optimal-string-alignment distance: insertions, deletions, substitutions
// and transpositions of adjacent characters each cost 1 ("verfy" -> "verify"
// is 1, "sgin" -> "sign" is 1).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `typed`, if it is close enough to be a typo
// (distance 1 for words up to 4 characters, 2 up to 8, 3 beyond; leading
// dashes are ignored) and no other candidate is equally near.
std::optional<std::string> nearest(std::string_view typed, const std::vector<std::string>& candidates);

// Walks argv (up to "--") through `app`'s subcommands and options and
// returns the message for the first unknown subcommand or long option that
// has a close suggestion:
//   "unknown command 'verfy'; did you mean 'verify'?"
//   "unknown option '--dry-rn' for 'gx run'; did you mean '--dry-run'?"
// std::nullopt when nothing unknown was found or nothing is close (the
// caller then prints CLI11's own message).
std::optional<std::string> diagnose_unknown(const CLI::App& app, int argc, const char* const* argv);

}  // namespace gx::cli
