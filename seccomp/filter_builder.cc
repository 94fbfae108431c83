#include "seccomp/filter_builder.h"

#include <asm/ioctls.h>
#include <linux/audit.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "lib/fsutil.h"
#include "seccomp/bpf.h"
#include "seccomp/ioctls.h"
#include "seccomp/prologue.h"
#include "seccomp/syscall_groups.h"

namespace gx::seccomp {
namespace {

constexpr const char* kGroupsField = "sandbox.groups";
constexpr const char* kAllowField = "sandbox.allow_syscalls";
constexpr const char* kDenyField = "sandbox.deny_syscalls";
constexpr const char* kIoctlGroupsField = "sandbox.ioctl_groups";
constexpr const char* kIoctlsField = "sandbox.ioctls";
// More would not fit the ioctl block's 8-bit jumps (and no artifact needs it).
constexpr size_t kMaxIoctls = 200;

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(static_cast<scmp_filter_ctx>(ctx)); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

Decision libseccomp_error(const std::string& what, int rc) {
  return Decision::deny(DenyReason::SandboxUnavailable, "libseccomp failed to " + what + ": " + fs::errno_text(-rc));
}

// libseccomp 2.5.4 only exports to an fd: export into a memfd, read it back.
Result<std::vector<sock_filter>> export_program(scmp_filter_ctx ctx) {
  int fd = memfd_create("gx-seccomp-export", MFD_CLOEXEC);
  if (fd < 0)
    return Decision::deny(DenyReason::SandboxUnavailable,
                          "cannot create a memfd to export the seccomp filter: " + fs::errno_text(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (int rc = seccomp_export_bpf(ctx, fd); rc != 0) return libseccomp_error("export BPF", rc);
  if (lseek(fd, 0, SEEK_SET) != 0)
    return Decision::deny(DenyReason::SandboxUnavailable,
                          "cannot rewind the exported seccomp filter: " + fs::errno_text(errno));
  std::string bytes;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Decision::deny(DenyReason::SandboxUnavailable,
                            "cannot read the exported seccomp filter: " + fs::errno_text(errno));
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  if (bytes.empty() || bytes.size() % sizeof(sock_filter) != 0)
    return Decision::deny(DenyReason::SandboxUnavailable, "libseccomp exported a malformed BPF program");
  std::vector<sock_filter> program(bytes.size() / sizeof(sock_filter));
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(program.data()));
  return program;
}

void push_unique(std::vector<std::string>& v, std::string_view s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.emplace_back(s);
}

}  // namespace

int syscall_number(std::string_view name) {
  if (name.empty() || name.size() > 64) return -1;
  std::string n(name);
  int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, n.c_str());
  // Negative numbers are libseccomp's pseudo syscalls (socketcall on i386...).
  return nr < 0 ? -1 : nr;
}

bool FilterSummary::allows(std::string_view syscall) const {
  return std::find(allowed.begin(), allowed.end(), syscall) != allowed.end();
}

void to_json(nlohmann::json& j, const FilterSummary& s) {
  j = nlohmann::json{{"architectures", s.architectures},
                     {"killed_abis", s.killed_abis},
                     {"default_action", s.default_action},
                     {"groups", s.groups},
                     {"allowed_count", s.allowed.size()},
                     {"allowed_dangerous", s.allowed_dangerous},
                     {"denied", s.denied},
                     {"enosys", s.enosys},
                     {"argument_checks", s.argument_checks},
                     {"network", s.network},
                     {"unix_sockets", s.unix_sockets},
                     {"ioctl_groups", s.ioctl_groups},
                     {"ioctls_count", s.ioctls.size()},
                     {"log_denials", s.log_denials},
                     {"instructions", s.instructions}};
}

int install_raw(const CompiledFilter& filter) noexcept {
  if (filter.program.size() > BPF_MAXINSNS) return EINVAL;
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(filter.program.size());
  prog.filter = const_cast<sock_filter*>(filter.program.data());
  return install_filter(&prog, filter.flags);
}

std::string install_error_text(int err) {
  std::string text = "cannot install the seccomp filter: " + fs::errno_text(err);
  if (err == EACCES)
    text +=
        " (no_new_privs is not set; gx requires it, which also means setuid programs "
        "such as sudo cannot gain privileges inside the sandbox)";
  else if (err == EINVAL) text += " (empty program, or a filter flag this kernel does not support)";
  return text;
}

Decision install(const CompiledFilter& filter) {
  int err = install_raw(filter);
  if (err == 0) return Decision::allow();
  return Decision::deny(DenyReason::SandboxUnavailable, install_error_text(err), "sandbox");
}

FilterBuilder FilterBuilder::from_policy(const SandboxPolicy& policy) {
  FilterBuilder b;
  for (const auto& g : policy.groups) b.add_group(g);
  for (const auto& s : policy.allow_syscalls) b.allow_syscall(s);
  for (const auto& s : policy.deny_syscalls) b.deny_syscall(s);
  b.default_action(policy.default_action).network(policy.network).log_denials(policy.log_denials);
  for (const auto& g : policy.ioctl_groups) b.add_ioctl_group(g);
  for (const auto& r : policy.ioctls) b.allow_ioctl(r);
  b.unix_sockets(policy.unix_sockets).may_bind(!policy.bind_tcp.empty());
  return b;
}

void FilterBuilder::fail(Decision d) {
  if (!failed()) error_ = std::move(d);
}

FilterBuilder& FilterBuilder::add_group(std::string_view name) {
  if (failed()) return *this;
  if (!find_group(name)) {
    fail(Decision::deny(DenyReason::InvalidValue, "unknown syscall group (see `gx profiles` for the list)",
                        kGroupsField, std::string(name)));
    return *this;
  }
  push_unique(groups_, name);
  return *this;
}

FilterBuilder& FilterBuilder::allow_syscall(std::string_view name) {
  if (failed()) return *this;
  if (syscall_number(name) < 0) {
    fail(Decision::deny(DenyReason::InvalidValue, "unknown x86-64 syscall name", kAllowField, std::string(name)));
    return *this;
  }
  if (is_never_allowed(name)) {
    fail(Decision::deny(DenyReason::InvalidValue,
                        "cannot be allowed: the file mode it creates with is in memory, out of seccomp's sight, so "
                        "gx could not refuse setuid/setgid files; programs fall back to openat (gx answers ENOSYS)",
                        kAllowField, std::string(name)));
    return *this;
  }
  push_unique(allow_, name);
  return *this;
}

FilterBuilder& FilterBuilder::deny_syscall(std::string_view name) {
  if (failed()) return *this;
  if (syscall_number(name) < 0) {
    fail(Decision::deny(DenyReason::InvalidValue, "unknown x86-64 syscall name", kDenyField, std::string(name)));
    return *this;
  }
  push_unique(deny_, name);
  return *this;
}

FilterBuilder& FilterBuilder::default_action(SeccompDefault action) {
  default_ = action;
  return *this;
}

FilterBuilder& FilterBuilder::network(NetMode mode) {
  network_ = mode;
  return *this;
}

FilterBuilder& FilterBuilder::log_denials(bool on) {
  log_ = on;
  return *this;
}

FilterBuilder& FilterBuilder::add_ioctl_group(std::string_view name) {
  if (failed()) return *this;
  if (!find_ioctl_group(name)) {
    fail(Decision::deny(DenyReason::InvalidValue, "unknown ioctl group (see `gx profiles`)", kIoctlGroupsField,
                        std::string(name)));
    return *this;
  }
  push_unique(ioctl_groups_, name);
  return *this;
}

FilterBuilder& FilterBuilder::allow_ioctl(std::string_view name_or_number) {
  if (failed()) return *this;
  auto nr = ioctl_number(name_or_number);
  if (!nr) {
    fail(Decision::deny(DenyReason::InvalidValue,
                        "unknown ioctl request: a name `gx profiles` lists, or a number such as 0x5401", kIoctlsField,
                        std::string(name_or_number)));
    return *this;
  }
  if (ioctl_forbidden(*nr)) {
    fail(Decision::deny(DenyReason::InvalidValue, "TIOCSTI and TIOCLINUX inject terminal input and are never allowed",
                        kIoctlsField, std::string(name_or_number)));
    return *this;
  }
  push_unique(ioctls_, name_or_number);
  return *this;
}

FilterBuilder& FilterBuilder::unix_sockets(bool on) {
  unix_ = on;
  return *this;
}

FilterBuilder& FilterBuilder::may_bind(bool on) {
  bind_ = on;
  return *this;
}

Result<CompiledFilter> FilterBuilder::build() {
  if (built_) return Decision::deny(DenyReason::Usage, "internal: seccomp FilterBuilder::build called twice");
  built_ = true;
  if (failed()) return error_;
#if !defined(__x86_64__)
  return Decision::deny(DenyReason::SandboxUnavailable, "gx's seccomp filter supports x86-64 only");
#else
  const std::set<std::string> denied(deny_.begin(), deny_.end());
  std::set<std::string> allowed;
  for (const auto& g : groups_)
    for (const auto& s : find_group(g)->syscalls) allowed.insert(s);
  allowed.insert(allow_.begin(), allow_.end());
  for (const auto& s : denied) allowed.erase(s);  // deny wins

  const uint32_t default_action = default_ == SeccompDefault::Kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ERRNO(EPERM);
  Ctx ctx(seccomp_init(default_action));
  if (!ctx) return libseccomp_error("initialise a filter", -ENOMEM);
  auto* c = static_cast<scmp_filter_ctx>(ctx.get());
  // The prologue already kills foreign ABIs; this is the second line.
  if (int rc = seccomp_attr_set(c, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc != 0)
    return libseccomp_error("set the bad-architecture action", rc);
  // Binary search over syscall numbers instead of a linear chain.
  if (int rc = seccomp_attr_set(c, SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0)
    return libseccomp_error("set the optimisation level", rc);

  FilterSummary summary;
  for (const auto& name : allowed) {
    int nr = syscall_number(name);
    if (nr < 0)  // table entry unknown to this libseccomp: fail closed, loudly
      return Decision::deny(DenyReason::SandboxUnavailable, "libseccomp does not know syscall '" + name + "'");
    if (int rc = seccomp_rule_add(c, SCMP_ACT_ALLOW, nr, 0); rc != 0) return libseccomp_error("allow " + name, rc);
    summary.allowed.push_back(name);
    if (is_dangerous(name)) summary.allowed_dangerous.push_back(name);
  }
  for (const auto& name : probed_syscalls()) {
    if (allowed.count(name) || denied.count(name)) continue;
    if (int rc = seccomp_rule_add(c, SCMP_ACT_ERRNO(ENOSYS), syscall_number(name), 0); rc != 0)
      return libseccomp_error("answer " + name + " with ENOSYS", rc);
    summary.enosys.push_back(name);
  }

  auto exported = export_program(c);
  if (!exported) return exported.error();

  const bool check_clone = !allowed.count("unshare");
  PrologueOptions po;
  po.network = network_;
  po.check_clone_namespaces = check_clone;
  po.unix_sockets = unix_;
  po.deny_listen = network_ == NetMode::Tcp && !bind_;
  po.default_ret = default_ == SeccompDefault::Kill ? kRetKill : kRetEperm;
  std::vector<std::string> ioctl_names;  // for the summary, in allowlist order
  std::vector<std::string> igroups = {"default"};
  for (const auto& g : ioctl_groups_)
    if (g != "default") igroups.push_back(g);
  auto add_ioctl = [&](const std::string& name) {
    uint32_t nr = *ioctl_number(name);  // validated by allow_ioctl / the tables
    if (std::find(po.ioctls.begin(), po.ioctls.end(), nr) != po.ioctls.end()) return;
    po.ioctls.push_back(nr);
    ioctl_names.push_back(ioctl_name(nr));
  };
  for (const auto& g : igroups)
    for (const auto& n : find_ioctl_group(g)->names) add_ioctl(n);
  for (const auto& n : ioctls_) add_ioctl(n);
  if (po.ioctls.size() > kMaxIoctls)
    return Decision::deny(DenyReason::InvalidValue,
                          "too many ioctl requests (at most " + std::to_string(kMaxIoctls) + ")", kIoctlsField,
                          std::to_string(po.ioctls.size()));
  std::vector<sock_filter> program;
  if (!build_prologue(po, program))
    return Decision::deny(DenyReason::SandboxUnavailable, "internal: seccomp prologue invalid");
  program.insert(program.end(), exported->begin(), exported->end());
  if (program.size() > BPF_MAXINSNS)
    return Decision::deny(DenyReason::SandboxUnavailable,
                          "seccomp filter too long (" + std::to_string(program.size()) + " instructions)");

  summary.architectures = {"x86_64"};
  summary.killed_abis = {"i386", "x32", "other"};
  summary.default_action = default_ == SeccompDefault::Kill ? "kill-process" : "errno(EPERM)";
  summary.groups = groups_;
  summary.denied.assign(denied.begin(), denied.end());
  summary.argument_checks.push_back("ioctl: request TIOCSTI or TIOCLINUX (low 32 bits) -> EPERM");
  summary.argument_checks.push_back("ioctl: request not in the allowlist (" + std::to_string(po.ioctls.size()) +
                                    " requests) -> " + summary.default_action);
  const std::string unix_text = unix_ ? "AF_UNIX (unix_sockets = true)" : "";
  if (network_ == NetMode::None)
    summary.argument_checks.push_back(unix_ ? "socket: domain other than AF_UNIX -> EPERM"
                                            : "socket: every domain (AF_UNIX too: unix_sockets "
                                              "is false) -> EPERM");
  else
    summary.argument_checks.push_back(
        "socket: " + (unix_ ? unix_text + ", or " : std::string()) +
        "AF_INET/AF_INET6 with SOCK_STREAM and protocol 0/IPPROTO_TCP; anything else -> EPERM");
  if (po.deny_listen) summary.argument_checks.push_back("listen: no bind_tcp port is granted -> EPERM");
  summary.argument_checks.push_back(
      "prlimit64, sched_setaffinity, sched_setscheduler, sched_setparam, sched_setattr, "
      "migrate_pages, move_pages: pid other than 0 (the caller) -> EPERM");
  summary.argument_checks.push_back(
      "setpriority, ioprio_set: anything but (PRIO_PROCESS / IOPRIO_WHO_PROCESS, 0) -> EPERM");
  summary.argument_checks.push_back("socketpair: domain other than AF_UNIX -> EPERM");
  summary.argument_checks.push_back(
      "sendto/sendmsg/sendmmsg: MSG_FASTOPEN -> EPERM; setsockopt TCP_FASTOPEN_CONNECT -> EPERM");
  if (check_clone) summary.argument_checks.push_back("clone: namespace flags -> EPERM");
  summary.network = network_ == NetMode::None ? "none" : "tcp";
  summary.ioctl_groups = igroups;
  summary.ioctls = ioctl_names;
  summary.unix_sockets = unix_;
  summary.log_denials = log_;
  summary.instructions = program.size();

  CompiledFilter out;
  out.program = std::move(program);
  out.flags = log_ ? SECCOMP_FILTER_FLAG_LOG : 0u;
  out.summary = std::move(summary);
  return out;
#endif
}

}  // namespace gx::seccomp
