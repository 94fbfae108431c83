#include "cmd/common.h"

#include <unistd.h>

#include <cstdio>
#include <optional>

namespace gx::cli {

namespace {
std::optional<std::vector<std::string>>& tail_storage() {
  static std::optional<std::vector<std::string>> tail;
  return tail;
}
}  // namespace

void set_command_tail(std::vector<std::string> tail) { tail_storage() = std::move(tail); }

Result<std::vector<std::string>> governed_command(const std::vector<std::string>& positional) {
  const auto& tail = tail_storage();
  if (tail && !positional.empty())
    return Decision::deny(DenyReason::Usage, "put the whole command after --, not before it", "command", positional[0]);
  std::vector<std::string> cmd = tail ? *tail : positional;
  if (cmd.empty()) return Decision::deny(DenyReason::Usage, "no command given: add -- CMD ARGS...");
  return cmd;
}

int exit_code_for(const Decision& d) {
  switch (d.reason) {
    case DenyReason::None: return kExitOk;
    case DenyReason::IoError:
    case DenyReason::Usage: return kExitError;
    default: return kExitDenied;
  }
}

int report_denial(const Decision& d) {
  int code = exit_code_for(d);
  if (code == kExitError) std::fprintf(stderr, "gx: error: %s\n", d.explain().c_str());
  else std::fprintf(stderr, "gx: denied (%s): %s\n", std::string(d.code()).c_str(), d.explain().c_str());
  return code;
}

std::string json_text(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

void leave(int code) {
  std::fflush(nullptr);
  _exit(code);
}

int report_error(const std::string& message) {
  std::fprintf(stderr, "gx: error: %s\n", message.c_str());
  return kExitError;
}

void add_authority_options(CLI::App* sub, std::string& trust, std::string& revocations, std::string& state,
                           const std::string& state_help) {
  sub->add_option("--trust", trust,
                  "Trust store file (default: $XDG_CONFIG_HOME/gx/trust.toml; root: /etc/gx/trust.toml)");
  sub->add_option("--revocations", revocations, "Revocation list (default: revocations.toml beside the trust store)");
  sub->add_option("--state", state, state_help + " (default: $XDG_STATE_HOME/gx; root: /var/lib/gx)");
}

}  // namespace gx::cli
