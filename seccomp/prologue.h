// The deny-only prologue gx puts ahead of libseccomp's program
// (seccomp/filter_builder.h lists what it enforces). It never returns ALLOW:
// it kills foreign ABIs and x32 numbers and denies by argument, then falls
// through to libseccomp's program. It exists because libseccomp 2.5.4
// cannot express "allow ioctl except these masked values": it rejects two
// comparisons of one argument in a rule (EINVAL), and an unconditional rule
// silently replaces conditional rules of another action for the same syscall.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "lib/artifact.h"

namespace gx::seccomp {

inline constexpr uint32_t kRetEperm = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
inline constexpr uint32_t kRetKill = SECCOMP_RET_KILL_PROCESS;
inline constexpr uint32_t kRetEnosys = SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA);

struct PrologueOptions {
  NetMode network = NetMode::None;
  bool check_clone_namespaces = true;
  bool unix_sockets = false;
  bool deny_listen = false;
  uint32_t default_ret = kRetEperm;  // for an ioctl request outside the allowlist
  std::vector<uint32_t> ioctls;      // allowed requests, deduplicated
};

// False when the program cannot be assembled (a jump out of range: too many
// ioctl requests).
bool build_prologue(const PrologueOptions& o, std::vector<sock_filter>& out);

}  // namespace gx::seccomp
