// Named syscall groups: the vocabulary of `sandbox.groups`.
//
// A group is data (name, one-line description, syscall names); the filter
// builder (seccomp/filter_builder.h) turns the chosen groups into an allow
// list. Groups may overlap. Names are x86-64 syscall names as libseccomp
// spells them; every name in every table resolves on x86-64 (tested).
//
// Dangerous syscalls (kernel attack surface, other processes' memory,
// namespaces, mounts, keyrings, io_uring...) are in NO group: an artifact
// gets one only by naming it in `allow_syscalls`. See dangerous_syscalls().
//
// Groups reduce kernel attack surface; they do not decide which files or
// ports are reachable (Landlock does), nor which sockets may be created
// (the network mode's argument checks do, see filter_builder.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gx::seccomp {

struct SyscallGroup {
  std::string name;
  std::string description;  // one line
  std::vector<std::string> syscalls;
};

// All groups, in display order ("default" first).
const std::vector<SyscallGroup>& syscall_groups();

// The group with that name, or nullptr.
const SyscallGroup* find_group(std::string_view name);

// Syscalls that no group contains and that are denied unless listed by name
// in allow_syscalls, sorted by name.
const std::vector<std::string>& dangerous_syscalls();
bool is_dangerous(std::string_view syscall_name);

// Syscalls whose denial is an errno (ENOSYS) even when the default action is
// Kill, because runtimes probe for them and fall back: io_uring_* (bypasses
// seccomp for the operations it performs) and clone3 (its flags live in
// memory, so namespace flags cannot be checked; glibc falls back to clone).
const std::vector<std::string>& probed_syscalls();

// Syscalls gx answers with ENOSYS whatever the artifact says (an artifact
// naming one in allow_syscalls is refused): openat2, whose file mode sits in
// memory, so the setuid/setgid refusal (filter_builder.h) could not hold for
// it. Programs fall back to openat, which is checked. seccomp/prologue.cc
// answers them by number (it does not depend on libseccomp);
// seccomp_filter_test keeps the two in step.
const std::vector<std::string>& never_allowed_syscalls();
bool is_never_allowed(std::string_view syscall_name);

}  // namespace gx::seccomp
