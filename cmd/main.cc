// gx: a thin front end. Each subcommand lives in its own file (setup_*).
#include <CLI/CLI.hpp>

#if defined(__SANITIZE_ADDRESS__)
#include <stdlib.h>
#include <sys/prctl.h>
#endif

#include <unistd.h>

#include <cstdio>
#include <string_view>
#include <utility>
#include <vector>

#include "cmd/common.h"
#include "cmd/suggest.h"
#include "lib/fd.h"
#include "lib/fsutil.h"

int main(int argc, char** argv) {
  // Before gx opens anything: no file of gx's may become a standard stream.
  if (int err = gx::fs::open_closed_std_fds()) {
    std::fprintf(stderr, "gx: cannot open /dev/null for a closed standard stream: %s\n",
                 gx::fs::errno_text(err).c_str());
    return gx::cli::kExitError;
  }
#if defined(__SANITIZE_ADDRESS__)
  // ASan builds only (GX_SANITIZE): LeakSanitizer checks at exit by attaching
  // to gx with ptrace from a helper task, which a non-dumpable gx
  // (harden_supervisor) refuses unless the caller is root. This hook is
  // registered after LeakSanitizer's, so it runs first; release builds never
  // become dumpable again.
  atexit([] { prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); });
#endif
  CLI::App app{"gx: run a command only if a signed authorization artifact allows it", "gx"};
  app.set_version_flag("-V,--version", std::string("gx ") + GX_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  int exit_code = gx::cli::kExitOk;
  // Only the subcommand being called is built when argv[1] names one exactly
  // (CLI11's tree for all of them was ~1.5 M of gx's ~2.1 M start-up
  // instructions); --version needs none; anything else -- no subcommand, a
  // flag, a typo -- gets the whole tree, for top-level help and "did you mean".
  using Setup = void (*)(CLI::App&, int&);
  static constexpr std::pair<std::string_view, Setup> kSubcommands[] = {
      {"keygen", gx::cli::setup_keygen}, {"trust", gx::cli::setup_trust},       {"init", gx::cli::setup_init},
      {"sign", gx::cli::setup_sign},     {"verify", gx::cli::setup_verify},     {"run", gx::cli::setup_run},
      {"log", gx::cli::setup_log},       {"profiles", gx::cli::setup_profiles}, {"revoke", gx::cli::setup_revoke},
      {"state", gx::cli::setup_state},   {"learn", gx::cli::setup_learn},       {"broker", gx::cli::setup_broker}};
  const std::string_view first = argc > 1 ? argv[1] : "";
  bool built = first == "-V" || first == "--version";  // needs no subcommand
  for (const auto& [name, setup] : kSubcommands) {
    if (name == first) {
      setup(app, exit_code);
      built = true;
    }
  }
  if (!built)
    for (const auto& [name, setup] : kSubcommands) setup(app, exit_code);
  // Everything after the first "--" is the governed command, verbatim: CLI11
  // never sees it, so no argument of the command can be taken for a gx flag
  // (or swallowed by a repeatable option before it).
  std::vector<char*> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    if (std::string_view(args[i]) == "--") {
      gx::cli::set_command_tail(std::vector<std::string>(args.begin() + static_cast<long>(i) + 1, args.end()));
      args.resize(i);
      break;
    }
  }
  const int gx_argc = static_cast<int>(args.size());
  try {
    app.parse(gx_argc, args.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (auto hint = gx::cli::diagnose_unknown(app, gx_argc, args.data())) {
      std::fprintf(stderr, "gx: error: %s\n", hint->c_str());
      return gx::cli::kExitError;
    }
    app.exit(e);
    return gx::cli::kExitError;  // usage errors are "could not run"
  }
  // Done: the command tree and the static objects are not destroyed (~50 µs).
  if constexpr (gx::cli::kLeaveEarly) gx::cli::leave(exit_code);
  return exit_code;
}
