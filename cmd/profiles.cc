// gx profiles [--json] [NAME]: the syscall groups an artifact may name in
// sandbox.groups, one group's syscalls, and the always-denied list.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cmd/common.h"
#include "seccomp/ioctls.h"
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

std::string hex(uint32_t n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", n);
  return buf;
}

nlohmann::json ioctl_group_json(const seccomp::IoctlGroup& g) {
  nlohmann::json requests = nlohmann::json::array();
  for (const auto& n : g.names) requests.push_back({{"name", n}, {"number", hex(*seccomp::ioctl_number(n))}});
  return {{"name", g.name}, {"description", g.description}, {"requests", requests}};
}

// Known requests in no ioctl group: reachable only by naming them in sandbox.ioctls.
std::vector<std::string> opt_in_only_ioctls() {
  std::vector<std::string> out;
  for (const auto& r : seccomp::known_ioctls()) {
    if (seccomp::ioctl_forbidden(r.number)) continue;
    bool grouped = false;
    for (const auto& g : seccomp::ioctl_groups())
      for (const auto& n : g.names) grouped = grouped || n == r.name;
    if (!grouped) out.push_back(r.name);
  }
  return out;
}

int list_all(bool json) {
  const auto& groups = seccomp::syscall_groups();
  if (json) {
    nlohmann::json out;
    out["groups"] = nlohmann::json::array();
    for (const auto& g : groups) out["groups"].push_back(group_json(g));
    out["dangerous"] = seccomp::dangerous_syscalls();
    out["enosys_unless_allowed"] = seccomp::probed_syscalls();
    out["ioctl_groups"] = nlohmann::json::array();
    for (const auto& g : seccomp::ioctl_groups()) out["ioctl_groups"].push_back(ioctl_group_json(g));
    out["ioctls_by_name_only"] = opt_in_only_ioctls();
    out["ioctls_never"] = {"TIOCSTI", "TIOCLINUX"};
    std::printf("%s\n", json_text(out).c_str());
    return kExitOk;
  }
  std::printf("Syscall groups (sandbox.groups):\n");
  for (const auto& g : groups)
    std::printf("  %-11s %s (%zu syscalls)\n", g.name.c_str(), g.description.c_str(), g.syscalls.size());
  std::printf(
      "\nDenied unless named in sandbox.allow_syscalls (in no group):\n%s\n"
      "\nAnswered with ENOSYS unless named in allow_syscalls (runtimes probe and fall back):\n"
      "%s\n"
      "\nAlways checked by argument: ioctl requests (allowlist below; TIOCSTI/TIOCLINUX never), "
      "socket()/socketpair() domains (sandbox.network, sandbox.unix_sockets), listen() without "
      "bind_tcp, clone() namespace flags, the pid of prlimit64/sched_set*/setpriority/ioprio_set/"
      "migrate_pages/move_pages (0 only).\n",
      wrapped(seccomp::dangerous_syscalls()).c_str(), wrapped(seccomp::probed_syscalls()).c_str());
  std::printf("\nioctl groups (sandbox.ioctl_groups; \"default\" is always in force):\n");
  for (const auto& g : seccomp::ioctl_groups())
    std::printf("  %-11s %s (%zu requests)\n", g.name.c_str(), g.description.c_str(), g.names.size());
  std::printf(
      "\nioctl requests allowed only by name in sandbox.ioctls (or any number as 0x...):\n%s\n"
      "\nNever allowed: TIOCSTI TIOCLINUX\n"
      "Show one group's syscalls or requests with: gx profiles NAME\n",
      wrapped(opt_in_only_ioctls()).c_str());
  return kExitOk;
}

int show_group(const std::string& name, bool json) {
  const bool ioctl_only = name.rfind("ioctl:", 0) == 0;
  const auto* g = ioctl_only ? nullptr : seccomp::find_group(name);
  const auto* ig = seccomp::find_ioctl_group(ioctl_only ? name.substr(6) : name);
  if (!g && ig) {  // an ioctl group ("default" names the syscall group)
    if (json) {
      std::printf("%s\n", json_text(ioctl_group_json(*ig)).c_str());
      return kExitOk;
    }
    for (const auto& n : ig->names) std::printf("%s %s\n", n.c_str(), hex(*seccomp::ioctl_number(n)).c_str());
    return kExitOk;
  }
  if (!g) return report_error("unknown syscall group '" + name + "' (run `gx profiles` for the list)");
  if (json) {
    std::printf("%s\n", json_text(group_json(*g)).c_str());
    return kExitOk;
  }
  for (const auto& s : g->syscalls) std::printf("%s\n", s.c_str());
  return kExitOk;
}

}  // namespace

void setup_profiles(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("profiles", "List syscall and ioctl groups, or the contents of one group");
  struct Options {
    bool json = false;
    std::string name;
  };
  auto opts = std::make_shared<Options>();
  cmd->add_flag("--json", opts->json, "Machine-readable output");
  cmd->add_option("NAME", opts->name,
                  "A group name: print its syscalls (or, for an ioctl group such as tty, its requests; "
                  "`ioctl:default` shows the default ioctl set)");
  cmd->callback([opts, &exit_code] {
    exit_code = opts->name.empty() ? list_all(opts->json) : show_group(opts->name, opts->json);
  });
}

}  // namespace gx::cli
