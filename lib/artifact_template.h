// Builds the unsigned artifact `gx init` writes for one exact invocation.
//
// The default sandbox lets an ordinary program run (read the system's
// library and configuration trees, /dev/null, /dev/zero, /dev/urandom) and
// nothing more: no network, no writes except /dev/null, no execution of
// anything but the authorized executable and its ELF loader (which gx adds
// at run time from the verified image). Flags widen it explicitly.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/artifact.h"
#include "lib/decision.h"

namespace gx {

inline constexpr int64_t kDefaultTtlSeconds = 15 * 60;

struct TemplateRequest {
  std::vector<std::string> argv;  // argv[0] is resolved like execvp
  std::string cwd;
  std::string path_env;
  UnixTime now = 0;
  int64_t ttl_seconds = kDefaultTtlSeconds;
  std::optional<UnixTime> not_before, not_after;  // unset: now / not_before + ttl
  uint32_t max_uses = 1;
  std::string issuer, reason, ticket;
  std::vector<std::string> env;                // NAME (allow) or NAME=VALUE (pin)
  std::vector<std::string> read, write, exec;  // extra sandbox paths (made absolute)
  std::vector<std::string> groups;             // extra syscall groups beside "default"
  std::string net = "none";                    // "none" or e.g. "443,8080" / "connect:443,bind:8080"
  std::vector<std::string> pin_files;          // environmental integrity
  std::string parent;                          // lineage: parent artifact digest
  RunAs run_as;                                // [run]; empty user: none
  bool bind_user = true;
  bool bind_host = true;
};

// Default environment allowlist and read paths (documented in gx-init(1)).
const std::vector<std::string>& default_env_allow();
const std::vector<std::string>& default_read_paths();

Result<Artifact> make_template(const TemplateRequest& req);

// Parses --net: "none", "443", "80,443", "connect:443,bind:8080".
Decision parse_net_spec(const std::string& spec, SandboxPolicy& sb);

}  // namespace gx
