// Flags shared by the commands that write an artifact template (gx init,
// gx learn): validity, uses, attribution, environment, pins, lineage,
// bindings and the governed command itself.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "lib/artifact_template.h"
#include "lib/decision.h"

namespace gx::cli {

struct TemplateFlags {
  std::string ttl, not_before, not_after, issuer, reason, ticket, parent, run_as;
  uint32_t max_uses = 1;
  std::vector<std::string> env, pin, command;
  bool no_bind_user = false, no_bind_host = false;
};

// `env_help` words --env for the command at hand.
void add_template_flags(CLI::App* sub, TemplateFlags& f, const std::string& env_help);

// The TemplateRequest for the current process (cwd, PATH, now, USER@HOST)
// and these flags; a Usage denial names the flag that is wrong.
Result<TemplateRequest> template_request(const TemplateFlags& f);

}  // namespace gx::cli
