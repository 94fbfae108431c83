// Shared by the subcommands: the exit codes (defined here and only here,
// documented in gx(1)) and the way a Decision becomes a message.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/decision.h"

namespace gx::cli {

enum ExitCode : int {
  kExitOk = 0,            // valid / success (gx run: the child's own status instead)
  kExitError = 125,       // could not run: bad usage, unreadable input, I/O error
  kExitDenied = 126,      // denied: the request was checked and refused
  kExitNotStarted = 127,  // gx run: authorized, but the program never started
};

// Whether gx leaves with leave() once it has answered, skipping the
// destructors nothing of gx's needs (the command tree, static objects, a
// run's teardown: ~0.15 ms of a gx run, docs/performance.md): every file,
// lock and database is closed or committed by its owner before, and output
// goes through stdio, flushed by leave(). Not in sanitizer builds, which
// return (LeakSanitizer checks at exit).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kLeaveEarly = false;
#else
inline constexpr bool kLeaveEarly = true;
#endif
// Flushes stdio and _exits with `code`.
[[noreturn]] void leave(int code);

// Prints "gx: denied (<code>): <detail>" (or "gx: error: ..." for I/O and
// usage problems) on stderr and returns the matching exit code.
int report_denial(const Decision& d);
int report_error(const std::string& message);
// Exit code for a decision that was not allowed.
int exit_code_for(const Decision& d);

// JSON text for output (`indent` as nlohmann's dump). Never throws: strings
// that are not valid UTF-8 (an argv element, a file name: any bytes) are
// printed with U+FFFD in place of the bad bytes.
std::string json_text(const nlohmann::json& j, int indent = 2);

// --trust, --revocations and --state, in the same words for every
// subcommand that verifies (defaults: lib/paths.h, applied by
// paths::with_defaults); `state_help` says what the subcommand keeps there.
void add_authority_options(CLI::App* sub, std::string& trust, std::string& revocations, std::string& state,
                           const std::string& state_help);

// The arguments after the first "--" on gx's command line (main.cc splits
// them off before CLI11 parses the rest).
void set_command_tail(std::vector<std::string> tail);
// The governed command of run/init/learn: the "--" tail, or else the
// positional words CLI11 collected; a usage error when there is none or
// when both are given.
Result<std::vector<std::string>> governed_command(const std::vector<std::string>& positional);

// Every subcommand file provides one setup function: it adds its
// subcommand and options to `app` and, when chosen, stores its exit code in
// `exit_code`.
void setup_keygen(CLI::App& app, int& exit_code);
void setup_trust(CLI::App& app, int& exit_code);
void setup_init(CLI::App& app, int& exit_code);
void setup_sign(CLI::App& app, int& exit_code);
void setup_verify(CLI::App& app, int& exit_code);
void setup_run(CLI::App& app, int& exit_code);
void setup_log(CLI::App& app, int& exit_code);
void setup_profiles(CLI::App& app, int& exit_code);
void setup_revoke(CLI::App& app, int& exit_code);
void setup_state(CLI::App& app, int& exit_code);
void setup_learn(CLI::App& app, int& exit_code);
void setup_broker(CLI::App& app, int& exit_code);

}  // namespace gx::cli
