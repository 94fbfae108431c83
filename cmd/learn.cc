// TEMPORARY placeholder so the tree links while gx learn is being written.
#include "cmd/common.h"

namespace gx::cli {
void setup_learn(CLI::App& app, int& exit_code) {
  (void)exit_code;
  app.add_subcommand("learn", "(not yet implemented)");
}
}  // namespace gx::cli
