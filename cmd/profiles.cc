// gx profiles [--json] [NAME]: the syscall groups an artifact may name in
// scope.sandbox.groups, one group's syscalls, and the always-denied list.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cmd/common.h"
#include "seccomp/syscall_groups.h"

namespace gx::cli {
namespace {

// Names separated by spaces, wrapped before column 80 with a two-space indent.
std::string wrapped(const std::vector<std::string>& v) {
  std::string out = " ";
  size_t column = 1;
  for (const auto& s : v) {
    if (column + 1 + s.size() > 78) {
      out += "\n ";
      column = 1;
    }
    out += " " + s;
    column += 1 + s.size();
  }
  return out;
}

nlohmann::json group_json(const seccomp::SyscallGroup& g) {
  return {{"name", g.name}, {"description", g.description}, {"syscalls", g.syscalls}};
}

int list_all(bool json) {
  const auto& groups = seccomp::syscall_groups();
  if (json) {
    nlohmann::json out;
    out["groups"] = nlohmann::json::array();
    for (const auto& g : groups) out["groups"].push_back(group_json(g));
    out["dangerous"] = seccomp::dangerous_syscalls();
    out["enosys_unless_allowed"] = seccomp::probed_syscalls();
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  std::printf("Syscall groups (scope.sandbox.groups):\n");
  for (const auto& g : groups)
    std::printf("  %-11s %s (%zu syscalls)\n", g.name.c_str(), g.description.c_str(),
                g.syscalls.size());
  std::printf(
      "\nDenied unless named in scope.sandbox.allow_syscalls (in no group):\n%s\n"
      "\nAnswered with ENOSYS unless named in allow_syscalls (runtimes probe and fall back):\n"
      "%s\n"
      "\nAlways checked by argument: ioctl TIOCSTI/TIOCLINUX, socket()/socketpair() domains "
      "(scope.sandbox.network), clone() namespace flags.\n"
      "Show one group's syscalls with: gx profiles NAME\n",
      wrapped(seccomp::dangerous_syscalls()).c_str(), wrapped(seccomp::probed_syscalls()).c_str());
  return kExitOk;
}

int show_group(const std::string& name, bool json) {
  const auto* g = seccomp::find_group(name);
  if (!g)
    return report_error("unknown syscall group '" + name + "' (run `gx profiles` for the list)");
  if (json) {
    std::printf("%s\n", group_json(*g).dump(2).c_str());
    return kExitOk;
  }
  for (const auto& s : g->syscalls) std::printf("%s\n", s.c_str());
  return kExitOk;
}

}  // namespace

void setup_profiles(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("profiles", "List syscall groups, or the syscalls of one group");
  struct Options {
    bool json = false;
    std::string name;
  };
  auto opts = std::make_shared<Options>();
  cmd->add_flag("--json", opts->json, "Machine-readable output");
  cmd->add_option("NAME", opts->name, "A group name: print its syscalls");
  cmd->callback([opts, &exit_code] {
    exit_code = opts->name.empty() ? list_all(opts->json) : show_group(opts->name, opts->json);
  });
}

}  // namespace gx::cli
