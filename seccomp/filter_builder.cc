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
#include "seccomp/ioctls.h"
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

constexpr uint32_t kX32SyscallBit = 0x40000000;
constexpr uint32_t kRetEperm = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
constexpr uint32_t kRetKill = SECCOMP_RET_KILL_PROCESS;
// Namespace-creating clone flags (what unshare(2) would do).
constexpr uint32_t kCloneNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
                                          CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                          CLONE_NEWNET;

// seccomp_data offsets. Arguments are 64-bit; on little-endian x86-64 the
// low 32 bits of args[i] sit at 16 + 8*i. The checked arguments are all C
// ints (or unsigned int / lower_32_bits in the kernel), so the low half is
// exactly what the kernel acts on: comparing it, not the full register,
// is what stops high-bit smuggling (CVE-2019-10063).
constexpr uint32_t kOffNr = offsetof(seccomp_data, nr);
constexpr uint32_t kOffArch = offsetof(seccomp_data, arch);
constexpr uint32_t arg_lo(unsigned i) {
  return static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * i);
}

// A tiny forward-only assembler for the prologue: jumps name labels and are
// resolved once every label's position is known.
class Assembler {
 public:
  enum Label {
    kContinue, kEperm, kArchOk, kNotX32, kNotIoctl, kIoctlOk, kIoctlEperm, kSocket, kSocketpair,
    kClone, kInet, kFlags2, kFlags3, kSetsockopt, kPidArg0, kWhichWho, kIoprio, kLabels
  };

  void load(uint32_t offset) { emit(BPF_LD | BPF_W | BPF_ABS, offset); }
  void and_k(uint32_t k) { emit(BPF_ALU | BPF_AND | BPF_K, k); }
  void ret(uint32_t k) { emit(BPF_RET | BPF_K, k); }
  void jump(Label target) { code_.push_back({{BPF_JMP | BPF_JA, 0, 0, 0}, target, -1, true}); }
  // Conditional jump; -1 means "next instruction".
  void jcond(uint16_t op, uint32_t k, int jt, int jf) {
    code_.push_back({{static_cast<uint16_t>(BPF_JMP | op | BPF_K), 0, 0, k}, jt, jf, false});
  }
  void label(Label l) { where_[l] = static_cast<int>(code_.size()); }

  // Resolves jumps; false if a label is missing or a jump is out of range.
  bool finish(std::vector<sock_filter>& out) const {
    out.clear();
    for (size_t i = 0; i < code_.size(); ++i) {
      sock_filter f = code_[i].insn;
      auto offset = [&](int l, uint32_t& dst) {
        if (l < 0) return true;
        int to = where_[static_cast<size_t>(l)];
        int off = to - static_cast<int>(i) - 1;
        if (to < 0 || off < 0) return false;
        dst = static_cast<uint32_t>(off);
        return true;
      };
      uint32_t jt = 0, jf = 0;
      if (!offset(code_[i].jt, jt) || !offset(code_[i].jf, jf)) return false;
      if (code_[i].always) {
        f.k = jt;
      } else {
        if (jt > 255 || jf > 255) return false;
        f.jt = static_cast<uint8_t>(jt);
        f.jf = static_cast<uint8_t>(jf);
      }
      out.push_back(f);
    }
    return true;
  }

 private:
  struct Pending {
    sock_filter insn;
    int jt, jf;
    bool always;
  };
  void emit(uint16_t code, uint32_t k) { code_.push_back({{code, 0, 0, k}, -1, -1, false}); }
  std::vector<Pending> code_;
  std::array<int, kLabels> where_ = [] {
    std::array<int, kLabels> a{};
    a.fill(-1);
    return a;
  }();
};

// gx's own deny-only prologue. It never returns ALLOW: it kills foreign
// ABIs and denies by argument, then falls through to libseccomp's program.
// It exists because libseccomp 2.5.4 cannot express "allow ioctl except
// these masked values": it rejects two comparisons of one argument in a
// rule (EINVAL), and an unconditional rule silently replaces conditional
// rules of another action for the same syscall.
constexpr uint32_t kTcpFastopenConnect = 30;  // linux/tcp.h TCP_FASTOPEN_CONNECT
constexpr uint32_t kPrioProcess = 0;          // PRIO_PROCESS
constexpr uint32_t kIoprioWhoProcess = 1;     // IOPRIO_WHO_PROCESS

struct PrologueOptions {
  NetMode network = NetMode::None;
  bool check_clone_namespaces = true;
  bool unix_sockets = false;
  bool deny_listen = false;
  uint32_t default_ret = kRetEperm;
  std::vector<uint32_t> ioctls;  // allowed requests, deduplicated
};

// Syscalls whose first argument is a pid the kernel does not scope to the
// caller's tree (only a same-uid or CAP_SYS_NICE check): 0 (the caller) only.
constexpr int kPidArg0Syscalls[] = {__NR_prlimit64,         __NR_sched_setaffinity,
                                    __NR_sched_setscheduler, __NR_sched_setparam,
                                    __NR_sched_setattr,      __NR_migrate_pages,
                                    __NR_move_pages};

bool build_prologue(const PrologueOptions& o, std::vector<sock_filter>& out) {
  using A = Assembler;
  A a;
  a.load(kOffArch);
  a.jcond(BPF_JEQ, AUDIT_ARCH_X86_64, A::kArchOk, -1);
  a.ret(kRetKill);
  a.label(A::kArchOk);
  a.load(kOffNr);
  a.jcond(BPF_JGE, kX32SyscallBit, -1, A::kNotX32);
  a.ret(kRetKill);
  a.label(A::kNotX32);
  // The ioctl allowlist comes first and is self-contained (its jumps stay
  // inside it), so its length never pushes another jump past 255.
  a.jcond(BPF_JEQ, __NR_ioctl, -1, A::kNotIoctl);
  a.load(arg_lo(1));
  a.jcond(BPF_JEQ, TIOCSTI, A::kIoctlEperm, -1);
  a.jcond(BPF_JEQ, TIOCLINUX, A::kIoctlEperm, -1);
  for (uint32_t r : o.ioctls) a.jcond(BPF_JEQ, r, A::kIoctlOk, -1);
  a.ret(o.default_ret);
  a.label(A::kIoctlEperm);
  a.ret(kRetEperm);
  a.label(A::kIoctlOk);
  a.jump(A::kContinue);
  a.label(A::kNotIoctl);  // A still holds nr
  a.jcond(BPF_JEQ, __NR_socket, A::kSocket, -1);
  a.jcond(BPF_JEQ, __NR_socketpair, A::kSocketpair, -1);
  if (o.check_clone_namespaces) a.jcond(BPF_JEQ, __NR_clone, A::kClone, -1);
  // TCP Fast Open connects inside sendto/sendmsg, a path Landlock's
  // connect-port rule never sees: refuse MSG_FASTOPEN and TCP_FASTOPEN_CONNECT.
  a.jcond(BPF_JEQ, __NR_sendto, A::kFlags3, -1);
  a.jcond(BPF_JEQ, __NR_sendmmsg, A::kFlags3, -1);
  a.jcond(BPF_JEQ, __NR_sendmsg, A::kFlags2, -1);
  a.jcond(BPF_JEQ, __NR_setsockopt, A::kSetsockopt, -1);
  for (int nr : kPidArg0Syscalls) a.jcond(BPF_JEQ, static_cast<uint32_t>(nr), A::kPidArg0, -1);
  a.jcond(BPF_JEQ, __NR_setpriority, A::kWhichWho, -1);
  a.jcond(BPF_JEQ, __NR_ioprio_set, A::kIoprio, -1);
  if (o.deny_listen) a.jcond(BPF_JEQ, __NR_listen, A::kEperm, -1);
  a.jump(A::kContinue);

  a.label(A::kFlags3);
  a.load(arg_lo(3));
  a.jcond(BPF_JSET, MSG_FASTOPEN, A::kEperm, A::kContinue);
  a.label(A::kFlags2);
  a.load(arg_lo(2));
  a.jcond(BPF_JSET, MSG_FASTOPEN, A::kEperm, A::kContinue);
  a.label(A::kSetsockopt);
  a.load(arg_lo(1));
  a.jcond(BPF_JEQ, IPPROTO_TCP, -1, A::kContinue);
  a.load(arg_lo(2));
  a.jcond(BPF_JEQ, kTcpFastopenConnect, A::kEperm, A::kContinue);

  // pid_t and `int which` are C ints: the kernel reads the low 32 bits.
  a.label(A::kPidArg0);
  a.load(arg_lo(0));
  a.jcond(BPF_JEQ, 0, A::kContinue, A::kEperm);
  a.label(A::kWhichWho);  // setpriority(PRIO_PROCESS, 0, prio) only
  a.load(arg_lo(0));
  a.jcond(BPF_JEQ, kPrioProcess, -1, A::kEperm);
  a.load(arg_lo(1));
  a.jcond(BPF_JEQ, 0, A::kContinue, A::kEperm);
  a.label(A::kIoprio);  // ioprio_set(IOPRIO_WHO_PROCESS, 0, prio) only
  a.load(arg_lo(0));
  a.jcond(BPF_JEQ, kIoprioWhoProcess, -1, A::kEperm);
  a.load(arg_lo(1));
  a.jcond(BPF_JEQ, 0, A::kContinue, A::kEperm);

  a.label(A::kSocketpair);
  a.load(arg_lo(0));
  a.jcond(BPF_JEQ, AF_UNIX, A::kContinue, A::kEperm);

  a.label(A::kSocket);
  a.load(arg_lo(0));
  a.jcond(BPF_JEQ, AF_UNIX, o.unix_sockets ? A::kContinue : A::kEperm, -1);
  if (o.network == NetMode::None) {
    a.jump(A::kEperm);
  } else {
    a.jcond(BPF_JEQ, AF_INET, A::kInet, -1);
    a.jcond(BPF_JEQ, AF_INET6, A::kInet, A::kEperm);
    a.label(A::kInet);
    a.load(arg_lo(1));
    a.and_k(0xf);  // SOCK_TYPE_MASK: ignores SOCK_NONBLOCK | SOCK_CLOEXEC
    a.jcond(BPF_JEQ, SOCK_STREAM, -1, A::kEperm);
    a.load(arg_lo(2));
    a.jcond(BPF_JEQ, 0, A::kContinue, -1);
    a.jcond(BPF_JEQ, IPPROTO_TCP, A::kContinue, A::kEperm);
  }

  if (o.check_clone_namespaces) {
    a.label(A::kClone);
    a.load(arg_lo(0));  // the kernel uses lower_32_bits(clone_flags)
    a.jcond(BPF_JSET, kCloneNamespaceFlags, A::kEperm, A::kContinue);
  }

  a.label(A::kEperm);
  a.ret(kRetEperm);
  a.label(A::kContinue);
  return a.finish(out);
}

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(static_cast<scmp_filter_ctx>(ctx)); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

Decision libseccomp_error(const std::string& what, int rc) {
  return Decision::deny(DenyReason::SandboxUnavailable,
                        "libseccomp failed to " + what + ": " + fs::errno_text(-rc));
}

// libseccomp 2.5.4 only exports to an fd: export into a memfd, read it back.
Result<std::vector<sock_filter>> export_program(scmp_filter_ctx ctx) {
  int fd = memfd_create("gx-seccomp-export", MFD_CLOEXEC);
  if (fd < 0)
    return Decision::deny(DenyReason::SandboxUnavailable,
                          "cannot create a memfd to export the seccomp filter: " +
                              fs::errno_text(errno));
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
    return Decision::deny(DenyReason::SandboxUnavailable,
                          "libseccomp exported a malformed BPF program");
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
  if (filter.program.empty() || filter.program.size() > BPF_MAXINSNS) return EINVAL;
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(filter.program.size());
  prog.filter = const_cast<sock_filter*>(filter.program.data());
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, filter.flags, &prog) == 0) return 0;
  return errno != 0 ? errno : EINVAL;
}

std::string install_error_text(int err) {
  std::string text = "cannot install the seccomp filter: " + fs::errno_text(err);
  if (err == EACCES)
    text += " (no_new_privs is not set; gx requires it, which also means setuid programs "
            "such as sudo cannot gain privileges inside the sandbox)";
  else if (err == EINVAL)
    text += " (empty program, or a filter flag this kernel does not support)";
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
    fail(Decision::deny(DenyReason::InvalidValue,
                        "unknown syscall group (see `gx profiles` for the list)", kGroupsField,
                        std::string(name)));
    return *this;
  }
  push_unique(groups_, name);
  return *this;
}

FilterBuilder& FilterBuilder::allow_syscall(std::string_view name) {
  if (failed()) return *this;
  if (syscall_number(name) < 0) {
    fail(Decision::deny(DenyReason::InvalidValue, "unknown x86-64 syscall name", kAllowField,
                        std::string(name)));
    return *this;
  }
  push_unique(allow_, name);
  return *this;
}

FilterBuilder& FilterBuilder::deny_syscall(std::string_view name) {
  if (failed()) return *this;
  if (syscall_number(name) < 0) {
    fail(Decision::deny(DenyReason::InvalidValue, "unknown x86-64 syscall name", kDenyField,
                        std::string(name)));
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
    fail(Decision::deny(DenyReason::InvalidValue, "unknown ioctl group (see `gx profiles`)",
                        kIoctlGroupsField, std::string(name)));
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
                        "unknown ioctl request: a name `gx profiles` lists, or a number such as 0x5401",
                        kIoctlsField, std::string(name_or_number)));
    return *this;
  }
  if (ioctl_forbidden(*nr)) {
    fail(Decision::deny(DenyReason::InvalidValue,
                        "TIOCSTI and TIOCLINUX inject terminal input and are never allowed",
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
  if (built_)
    return Decision::deny(DenyReason::Usage, "internal: seccomp FilterBuilder::build called twice");
  built_ = true;
  if (failed()) return error_;
#if !defined(__x86_64__)
  return Decision::deny(DenyReason::SandboxUnavailable,
                        "gx's seccomp filter supports x86-64 only");
#else
  const std::set<std::string> denied(deny_.begin(), deny_.end());
  std::set<std::string> allowed;
  for (const auto& g : groups_)
    for (const auto& s : find_group(g)->syscalls) allowed.insert(s);
  allowed.insert(allow_.begin(), allow_.end());
  for (const auto& s : denied) allowed.erase(s);  // deny wins

  const uint32_t default_action =
      default_ == SeccompDefault::Kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ERRNO(EPERM);
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
      return Decision::deny(DenyReason::SandboxUnavailable,
                            "libseccomp does not know syscall '" + name + "'");
    if (int rc = seccomp_rule_add(c, SCMP_ACT_ALLOW, nr, 0); rc != 0)
      return libseccomp_error("allow " + name, rc);
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
                          "too many ioctl requests (at most " + std::to_string(kMaxIoctls) + ")",
                          kIoctlsField, std::to_string(po.ioctls.size()));
  std::vector<sock_filter> program;
  if (!build_prologue(po, program))
    return Decision::deny(DenyReason::SandboxUnavailable, "internal: seccomp prologue invalid");
  program.insert(program.end(), exported->begin(), exported->end());
  if (program.size() > BPF_MAXINSNS)
    return Decision::deny(DenyReason::SandboxUnavailable,
                          "seccomp filter too long (" + std::to_string(program.size()) +
                              " instructions)");

  summary.architectures = {"x86_64"};
  summary.killed_abis = {"i386", "x32", "other"};
  summary.default_action = default_ == SeccompDefault::Kill ? "kill-process" : "errno(EPERM)";
  summary.groups = groups_;
  summary.denied.assign(denied.begin(), denied.end());
  summary.argument_checks.push_back("ioctl: request TIOCSTI or TIOCLINUX (low 32 bits) -> EPERM");
  summary.argument_checks.push_back("ioctl: request not in the allowlist (" +
                                    std::to_string(po.ioctls.size()) + " requests) -> " +
                                    summary.default_action);
  const std::string unix_text = unix_ ? "AF_UNIX (unix_sockets = true)" : "";
  if (network_ == NetMode::None)
    summary.argument_checks.push_back(unix_ ? "socket: domain other than AF_UNIX -> EPERM"
                                            : "socket: every domain (AF_UNIX too: unix_sockets "
                                              "is false) -> EPERM");
  else
    summary.argument_checks.push_back(
        "socket: " + (unix_ ? unix_text + ", or " : std::string()) +
        "AF_INET/AF_INET6 with SOCK_STREAM and protocol 0/IPPROTO_TCP; anything else -> EPERM");
  if (po.deny_listen)
    summary.argument_checks.push_back("listen: no bind_tcp port is granted -> EPERM");
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
