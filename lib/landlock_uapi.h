// Landlock user-space ABI, mirrored from the kernel's
// include/uapi/linux/landlock.h up to ABI 7 (Linux 6.15).
//
// Why a private copy: Debian 12's linux-libc-dev (6.1) stops at ABI 2, while
// gx must use TRUNCATE (ABI 3), TCP ports (ABI 4), IOCTL_DEV (ABI 5), scoping
// (ABI 6) and the logging flags of landlock_restrict_self (ABI 7). The names
// live in namespace gx::ll so this header never clashes with
// <linux/landlock.h> if another file includes it. Values are kernel ABI and
// must never change; the static_asserts pin the layouts.
//
// Struct-size rule (kernel copy_min_struct_from_user): the kernel accepts any
// size between the first field and its own struct size, and larger sizes only
// if the extra bytes are zero. gx passes ruleset_attr_size(abi) so that an
// older kernel is never handed fields it does not know.
//
// The syscall wrappers are plain syscall(2) calls: async-signal-safe, usable
// in a child between fork and exec.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace gx::ll {

// Highest ABI whose rights gx knows; a newer kernel is used at this level.
inline constexpr int kAbiKnown = 7;

struct RulesetAttr {
  uint64_t handled_access_fs;   // ABI 1
  uint64_t handled_access_net;  // ABI 4
  uint64_t scoped;              // ABI 6
};
static_assert(sizeof(RulesetAttr) == 24);

// Size of struct landlock_ruleset_attr as known by a kernel of that ABI.
constexpr size_t ruleset_attr_size(int abi) {
  if (abi >= 6) return offsetof(RulesetAttr, scoped) + sizeof(uint64_t);
  if (abi >= 4) return offsetof(RulesetAttr, handled_access_net) + sizeof(uint64_t);
  return offsetof(RulesetAttr, handled_access_fs) + sizeof(uint64_t);
}

// landlock_create_ruleset() flags.
inline constexpr uint32_t kCreateRulesetVersion = 1U << 0;
inline constexpr uint32_t kCreateRulesetErrata = 1U << 1;

// landlock_restrict_self() flags (ABI 7): audit logging of denials.
inline constexpr uint32_t kRestrictSelfLogSameExecOff = 1U << 0;
inline constexpr uint32_t kRestrictSelfLogNewExecOn = 1U << 1;
inline constexpr uint32_t kRestrictSelfLogSubdomainsOff = 1U << 2;

// enum landlock_rule_type
inline constexpr int kRulePathBeneath = 1;
inline constexpr int kRuleNetPort = 2;  // ABI 4

struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};
static_assert(sizeof(PathBeneathAttr) == 12);

struct NetPortAttr {
  uint64_t allowed_access;
  uint64_t port;  // host endianness
};
static_assert(sizeof(NetPortAttr) == 16);

// Filesystem rights (LANDLOCK_ACCESS_FS_*).
inline constexpr uint64_t kAccessFsExecute = 1ULL << 0;
inline constexpr uint64_t kAccessFsWriteFile = 1ULL << 1;
inline constexpr uint64_t kAccessFsReadFile = 1ULL << 2;
inline constexpr uint64_t kAccessFsReadDir = 1ULL << 3;
inline constexpr uint64_t kAccessFsRemoveDir = 1ULL << 4;
inline constexpr uint64_t kAccessFsRemoveFile = 1ULL << 5;
inline constexpr uint64_t kAccessFsMakeChar = 1ULL << 6;
inline constexpr uint64_t kAccessFsMakeDir = 1ULL << 7;
inline constexpr uint64_t kAccessFsMakeReg = 1ULL << 8;
inline constexpr uint64_t kAccessFsMakeSock = 1ULL << 9;
inline constexpr uint64_t kAccessFsMakeFifo = 1ULL << 10;
inline constexpr uint64_t kAccessFsMakeBlock = 1ULL << 11;
inline constexpr uint64_t kAccessFsMakeSym = 1ULL << 12;
inline constexpr uint64_t kAccessFsRefer = 1ULL << 13;     // ABI 2
inline constexpr uint64_t kAccessFsTruncate = 1ULL << 14;  // ABI 3
inline constexpr uint64_t kAccessFsIoctlDev = 1ULL << 15;  // ABI 5

// Rights the kernel accepts on a rule whose target is not a directory.
inline constexpr uint64_t kAccessFsFileRights =
    kAccessFsExecute | kAccessFsWriteFile | kAccessFsReadFile | kAccessFsTruncate | kAccessFsIoctlDev;

// Every filesystem right a kernel of that ABI can handle.
constexpr uint64_t fs_rights_for_abi(int abi) {
  if (abi < 1) return 0;
  uint64_t r = (kAccessFsMakeSym << 1) - 1;  // ABI 1: bits 0..12
  if (abi >= 2) r |= kAccessFsRefer;
  if (abi >= 3) r |= kAccessFsTruncate;
  if (abi >= 5) r |= kAccessFsIoctlDev;
  return r;
}

// Network rights (LANDLOCK_ACCESS_NET_*), ABI 4.
inline constexpr uint64_t kAccessNetBindTcp = 1ULL << 0;
inline constexpr uint64_t kAccessNetConnectTcp = 1ULL << 1;

// Scopes (LANDLOCK_SCOPE_*), ABI 6.
inline constexpr uint64_t kScopeAbstractUnixSocket = 1ULL << 0;
inline constexpr uint64_t kScopeSignal = 1ULL << 1;

inline int create_ruleset(const RulesetAttr* attr, size_t size, uint32_t flags) {
  return static_cast<int>(syscall(SYS_landlock_create_ruleset, attr, size, flags));
}
inline int add_rule(int ruleset_fd, int rule_type, const void* rule_attr, uint32_t flags) {
  return static_cast<int>(syscall(SYS_landlock_add_rule, ruleset_fd, rule_type, rule_attr, flags));
}
inline int restrict_self(int ruleset_fd, uint32_t flags) {
  return static_cast<int>(syscall(SYS_landlock_restrict_self, ruleset_fd, flags));
}

}  // namespace gx::ll
