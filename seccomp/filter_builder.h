// Seccomp: turning an artifact's SandboxPolicy into a classic-BPF filter.
//
// The PARENT (gx) builds and exports the filter while it can still allocate,
// report and deny; the forked CHILD only installs it, with one seccomp(2)
// call (seccomp/bpf.h: install_filter), last before execveat:
//
//   auto filter = seccomp::FilterBuilder::from_policy(policy).build();
//   if (!filter) return filter.error();          // names the artifact field
//   sock_fprog prog{static_cast<unsigned short>(filter->program.size()), filter->program.data()};
//   ChildPlan plan;                              // lib/confine.h
//   plan.seccomp = &prog;
//   plan.seccomp_flags = filter->flags;
//   ... exec fd, argv, envp, Landlock ruleset ...
//   auto pid = spawn_confined(plan);             // no_new_privs, Landlock, seccomp, execveat
//
// What the filter enforces (docs/seccomp.md has the full picture):
//  * Architecture first, on every syscall: anything but AUDIT_ARCH_X86_64
//    (i386 via `int 0x80`, any other ABI) kills the process, and so does a
//    syscall number >= 0x40000000 (the x32 ABI, which shares x86-64's audit
//    arch). This prologue is gx's own BPF, ahead of libseccomp's program,
//    so it holds whatever libseccomp's version does.
//  * Always, whatever the groups: ioctl TIOCSTI and TIOCLINUX (the low 32
//    bits of the request, as the kernel reads it, CVE-2019-10063) -> EPERM;
//    any other ioctl request not in the allowlist (seccomp/ioctls.h: the
//    "default" set, sandbox.ioctl_groups, sandbox.ioctls) -> the default
//    action; socket()/socketpair() outside the network mode -> EPERM (below);
//    syscalls that name another process and that the kernel does not scope
//    to the caller's tree -> EPERM unless the pid argument is 0 (the
//    caller): prlimit64, sched_setaffinity, sched_setscheduler,
//    sched_setparam, sched_setattr, migrate_pages, move_pages; setpriority
//    and ioprio_set only as (PRIO_PROCESS / IOPRIO_WHO_PROCESS, 0). The
//    check holds even for syscalls named in allow_syscalls;
//    clone() with a namespace flag (CLONE_NEWUSER, NEWNS, NEWPID, NEWNET,
//    NEWUTS, NEWIPC, NEWCGROUP) -> EPERM unless "unshare" is allowed by name;
//    a setuid or setgid bit (S_ISUID | S_ISGID) in the mode of chmod, fchmod,
//    fchmodat, fchmodat2, creat, mknod, mknodat, and of open/openat when they
//    create (O_CREAT or O_TMPFILE) -> EPERM, even for syscalls named in
//    allow_syscalls: a child must not leave a program behind that runs with
//    its rights (root's, for a root child) for whoever starts it. (mkdir's
//    mode is not checked: a setgid directory only passes its group on.)
//    openat2, whose mode is in memory, -> ENOSYS always (programs fall back
//    to openat); naming it in allow_syscalls is invalid-value.
//  * Network mode (socket domain/type/protocol are ints: low 32 bits):
//      None: socket() only AF_UNIX, and only with unix_sockets = true.
//      Tcp:  AF_UNIX as for None, plus AF_INET/AF_INET6 with (type & 0xf)
//            == SOCK_STREAM and protocol 0 or IPPROTO_TCP. UDP, raw, MPTCP
//            (protocol 262), SCTP, netlink, packet... -> EPERM, because
//            Landlock's port rules cover TCP only. Without bind ports,
//            listen() -> EPERM: listen() on an unbound socket autobinds an
//            ephemeral port, which Landlock's bind rule never sees.
//      socketpair: AF_UNIX only, in both modes; without unix_sockets only
//            SOCK_STREAM and SOCK_SEQPACKET (a datagram pair can sendto()
//            any named unix socket, /dev/log or the journal's).
//    These checks only deny: socket itself must still be allowed by a group
//    ("default" and "network" contain it) or by allow_syscalls.
//  * Allowed: the union of the groups and allow_syscalls, minus
//    deny_syscalls (deny wins over both).
//  * Dangerous syscalls (syscall_groups.h) are in no group: denied unless
//    named in allow_syscalls.
//  * io_uring_* and clone3 -> ENOSYS (even under Kill: runtimes probe for
//    them and fall back) unless named in allow_syscalls.
//  * Everything else -> the default action: EPERM (Errno) or
//    SECCOMP_RET_KILL_PROCESS (Kill). deny_syscalls get the default action.
//  * log_denials sets SECCOMP_FILTER_FLAG_LOG: the kernel audit-logs every
//    action other than allow (type=1326 in `journalctl -k` / dmesg /
//    `ausearch -m SECCOMP`, with syscall=<nr>; resolve with
//    `scmp_sys_resolver <nr>`). Denials still deny. Kills are logged by the
//    kernel even without the flag (kernel.seccomp.actions_logged).
//
// Caveats: seccomp cannot read memory, so path, sockaddr and clone3
// arguments are never inspected (Landlock decides paths and TCP ports).
// x86-64 only: building on another architecture is sandbox-unavailable.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "lib/artifact.h"
#include "lib/decision.h"

namespace gx::seccomp {

// What is enforced, for `--json` decisions and receipts.
struct FilterSummary {
  std::vector<std::string> architectures;      // allowed: {"x86_64"}
  std::vector<std::string> killed_abis;        // {"i386", "x32", "other"}
  std::string default_action;                  // "errno(EPERM)" | "kill-process"
  std::vector<std::string> groups;             // as requested, deduplicated
  std::vector<std::string> allowed;            // every allowed syscall, sorted
  std::vector<std::string> allowed_dangerous;  // dangerous ones named in allow_syscalls
  std::vector<std::string> denied;             // deny_syscalls, sorted
  std::vector<std::string> enosys;             // probed syscalls answered with ENOSYS
  std::vector<std::string> argument_checks;    // e.g. "ioctl: TIOCSTI, TIOCLINUX -> EPERM"
  std::vector<std::string> ioctl_groups;       // "default" first
  std::vector<std::string> ioctls;             // every allowed request (names or 0x..)
  bool unix_sockets = false;
  std::string network;  // "none" | "tcp"
  bool log_denials = false;
  size_t instructions = 0;  // BPF program length
  // Whether `syscall` is in `allowed` (its argument checks, if any, apply).
  bool allows(std::string_view syscall) const;
};
// Counts rather than the full allowed list, plus every explicit choice.
void to_json(nlohmann::json& j, const FilterSummary& s);

// A ready-to-install program. Copyable; install needs no allocation.
struct CompiledFilter {
  std::vector<sock_filter> program;  // classic BPF, prologue + libseccomp's
  unsigned int flags = 0;            // SECCOMP_FILTER_FLAG_* for seccomp(2)
  FilterSummary summary;
};

// seccomp::install_filter (seccomp/bpf.h, the path gx run's child takes)
// for a CompiledFilter: async-signal-safe, one syscall, no allocation.
// Returns 0 or an errno: EACCES means no_new_privs was not set
// (PR_SET_NO_NEW_PRIVS is required; it also stops setuid programs such as
// sudo inside the sandbox); EINVAL an empty program or a flag the kernel
// lacks. Never returns 0 without a filter in place.
int install_raw(const CompiledFilter& filter) noexcept;

// install_raw() as a Decision (sandbox-unavailable on failure). Allocates
// only on failure; in a child forked from a multi-threaded parent prefer
// install_raw() and send the errno back to the parent.
Decision install(const CompiledFilter& filter);

// The sentence install() uses for an errno from install_raw().
std::string install_error_text(int err);

// A fluent builder in the style of sandbox2's PolicyBuilder: each call
// validates its argument, the FIRST error is kept (later calls are then
// ignored) and returned by build(). build() may be called once.
class FilterBuilder {
 public:
  FilterBuilder() = default;
  // groups, allow_syscalls, deny_syscalls, default_action, network,
  // log_denials, ioctl_groups, ioctls, unix_sockets and whether bind_tcp is
  // empty (the ports themselves are Landlock's).
  static FilterBuilder from_policy(const SandboxPolicy& policy);

  // Unknown group -> invalid-value, field "sandbox.groups".
  FilterBuilder& add_group(std::string_view name);
  // Unknown (or not x86-64) syscall -> invalid-value, field
  // "sandbox.allow_syscalls" / "sandbox.deny_syscalls".
  FilterBuilder& allow_syscall(std::string_view name);
  FilterBuilder& deny_syscall(std::string_view name);
  FilterBuilder& default_action(SeccompDefault action);
  FilterBuilder& network(NetMode mode);
  FilterBuilder& log_denials(bool on);
  // Unknown group -> invalid-value, field "sandbox.ioctl_groups".
  FilterBuilder& add_ioctl_group(std::string_view name);
  // A request name or number; unknown, or TIOCSTI/TIOCLINUX ->
  // invalid-value, field "sandbox.ioctls".
  FilterBuilder& allow_ioctl(std::string_view name_or_number);
  FilterBuilder& unix_sockets(bool on);
  // Whether the artifact grants any TCP bind port (listen() needs one).
  FilterBuilder& may_bind(bool on);

  // The first error, or the compiled filter. A second call is a usage error.
  Result<CompiledFilter> build();

 private:
  void fail(Decision d);
  bool failed() const { return !error_.allowed(); }

  Decision error_ = Decision::allow();
  bool built_ = false;
  std::vector<std::string> groups_;
  std::vector<std::string> allow_;  // explicit allow_syscalls
  std::vector<std::string> deny_;
  SeccompDefault default_ = SeccompDefault::Errno;
  NetMode network_ = NetMode::None;
  bool log_ = false;
  std::vector<std::string> ioctl_groups_;
  std::vector<std::string> ioctls_;
  bool unix_ = false;
  bool bind_ = false;
};

// The x86-64 number of a syscall name, or -1 when libseccomp does not know
// it for x86-64 (including other architectures' pseudo numbers).
int syscall_number(std::string_view name);

}  // namespace gx::seccomp
