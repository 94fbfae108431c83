// TEMPORARY placeholder so the tree links while gx run is being written.
#include "cmd/common.h"

namespace gx::cli {
void setup_run(CLI::App& app, int& exit_code) {
  (void)exit_code;
  app.add_subcommand("run", "(not yet implemented)");
}
}  // namespace gx::cli
