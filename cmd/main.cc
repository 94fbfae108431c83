// gx: a thin front end. Each subcommand lives in its own file (setup_*).
#include <CLI/CLI.hpp>

#if defined(__SANITIZE_ADDRESS__)
#include <stdlib.h>
#include <sys/prctl.h>
#endif

#include <cstdio>
#include <string_view>
#include <vector>

#include "cmd/common.h"
#include "cmd/suggest.h"

int main(int argc, char** argv) {
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
  gx::cli::setup_keygen(app, exit_code);
  gx::cli::setup_trust(app, exit_code);
  gx::cli::setup_init(app, exit_code);
  gx::cli::setup_sign(app, exit_code);
  gx::cli::setup_verify(app, exit_code);
  gx::cli::setup_run(app, exit_code);
  gx::cli::setup_log(app, exit_code);
  gx::cli::setup_profiles(app, exit_code);
  gx::cli::setup_revoke(app, exit_code);
  gx::cli::setup_state(app, exit_code);
  gx::cli::setup_learn(app, exit_code);
  gx::cli::setup_broker(app, exit_code);
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
  return exit_code;
}
