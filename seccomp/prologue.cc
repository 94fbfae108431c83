#include "seccomp/prologue.h"

#include <asm/ioctls.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "seccomp/bpf.h"

namespace gx::seccomp {
namespace {

constexpr uint32_t kX32SyscallBit = 0x40000000;
// Namespace-creating clone flags (what unshare(2) would do).
constexpr uint32_t kCloneNamespaceFlags =
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;
// Labels of the prologue's jumps.
enum Label {
  kContinue,
  kEperm,
  kArchOk,
  kNotX32,
  kNotIoctl,
  kIoctlOk,
  kIoctlEperm,
  kSocket,
  kSocketpair,
  kClone,
  kInet,
  kFlags2,
  kFlags3,
  kSetsockopt,
  kPidArg0,
  kWhichWho,
  kIoprio,
  kModeArg1,
  kModeArg2,
  kModeArg3,
  kCreateFlags1,
  kCreateFlags2,
  kEnosys,
  kFirstFreeLabel  // the dispatch's search tree takes labels from here
};
constexpr int kNext = Assembler::kNext;

constexpr uint32_t kTcpFastopenConnect = 30;  // linux/tcp.h TCP_FASTOPEN_CONNECT
constexpr uint32_t kPrioProcess = 0;          // PRIO_PROCESS
constexpr uint32_t kIoprioWhoProcess = 1;     // IOPRIO_WHO_PROCESS
// A file mode that would let others run a program with the child's (or the
// file owner's) rights: never set by a sandboxed child, whatever its groups.
constexpr uint32_t kSetIdBits = S_ISUID | S_ISGID;
// open(2)/openat(2) use their mode only when creating (O_CREAT, O_TMPFILE).
constexpr uint32_t kCreatingFlags = O_CREAT | __O_TMPFILE;
#ifndef __NR_openat2
#define __NR_openat2 437  // Linux 5.6
#endif
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452  // Linux 6.6; Debian 12's headers predate it
#endif

// Syscalls whose first argument is a pid the kernel does not scope to the
// caller's tree (only a same-uid or CAP_SYS_NICE check): 0 (the caller) only.
constexpr int kPidArg0Syscalls[] = {__NR_prlimit64,      __NR_sched_setaffinity, __NR_sched_setscheduler,
                                    __NR_sched_setparam, __NR_sched_setattr,     __NR_migrate_pages,
                                    __NR_move_pages};

// Where each syscall that takes a file mode keeps it (setuid/setgid check);
// open and openat only when they create.
constexpr std::pair<int, Label> kModeSyscalls[] = {
    {__NR_chmod, kModeArg1},   {__NR_fchmod, kModeArg1},   {__NR_creat, kModeArg1},
    {__NR_mknod, kModeArg1},   {__NR_fchmodat, kModeArg2}, {__NR_fchmodat2, kModeArg2},
    {__NR_mknodat, kModeArg2}, {__NR_open, kCreateFlags1}, {__NR_openat, kCreateFlags2},
};

// Jumps from A (the syscall number) to the label of `nr` when A is one of
// `cases` (sorted by number, none twice), else to kContinue: a binary search,
// then a short chain. A chain of every case cost each syscall ~26
// instructions, and the kernel runs the program once for every syscall
// number when it builds its action cache at install (seccomp_cache_prepare).
void emit_dispatch(Assembler& a, const std::vector<std::pair<uint32_t, int>>& cases, size_t lo, size_t hi,
                   int& free_label) {
  constexpr size_t kChain = 3;
  if (hi - lo <= kChain) {
    for (size_t i = lo; i < hi; ++i) a.jcond(BPF_JEQ, cases[i].first, cases[i].second, i + 1 < hi ? kNext : kContinue);
    return;
  }
  const size_t mid = lo + (hi - lo) / 2;
  const int upper = free_label++;
  a.jcond(BPF_JGE, cases[mid].first, upper, kNext);
  emit_dispatch(a, cases, lo, mid, free_label);
  a.label(upper);
  emit_dispatch(a, cases, mid, hi, free_label);
}

}  // namespace

bool build_prologue(const PrologueOptions& o, std::vector<sock_filter>& out) {
  Assembler a;
  a.load(kOffArch);
  a.jcond(BPF_JEQ, AUDIT_ARCH_X86_64, kArchOk, kNext);
  a.ret(kRetKill);
  a.label(kArchOk);
  a.load(kOffNr);
  a.jcond(BPF_JGE, kX32SyscallBit, kNext, kNotX32);
  a.ret(kRetKill);
  a.label(kNotX32);
  // The ioctl allowlist comes first and is self-contained (its jumps stay
  // inside it), so its length never pushes another jump past 255.
  a.jcond(BPF_JEQ, __NR_ioctl, kNext, kNotIoctl);
  a.load(arg_lo(1));
  a.jcond(BPF_JEQ, TIOCSTI, kIoctlEperm, kNext);
  a.jcond(BPF_JEQ, TIOCLINUX, kIoctlEperm, kNext);
  for (uint32_t r : o.ioctls) a.jcond(BPF_JEQ, r, kIoctlOk, kNext);
  a.ret(o.default_ret);
  a.label(kIoctlEperm);
  a.ret(kRetEperm);
  a.label(kIoctlOk);
  a.jump(kContinue);
  a.label(kNotIoctl);  // A still holds nr
  std::vector<std::pair<uint32_t, int>> cases = {{__NR_socket, kSocket}, {__NR_socketpair, kSocketpair}};
  if (o.check_clone_namespaces) cases.emplace_back(__NR_clone, kClone);
  // TCP Fast Open connects inside sendto/sendmsg, a path Landlock's
  // connect-port rule never sees: refuse MSG_FASTOPEN and TCP_FASTOPEN_CONNECT.
  cases.emplace_back(__NR_sendto, kFlags3);
  cases.emplace_back(__NR_sendmmsg, kFlags3);
  cases.emplace_back(__NR_sendmsg, kFlags2);
  cases.emplace_back(__NR_setsockopt, kSetsockopt);
  for (int nr : kPidArg0Syscalls) cases.emplace_back(static_cast<uint32_t>(nr), kPidArg0);
  cases.emplace_back(__NR_setpriority, kWhichWho);
  cases.emplace_back(__NR_ioprio_set, kIoprio);
  if (o.deny_listen) cases.emplace_back(__NR_listen, kEperm);
  // Setuid/setgid bits, by the mode argument's position (kModeSyscalls).
  for (const auto& [nr, label] : kModeSyscalls) cases.emplace_back(static_cast<uint32_t>(nr), label);
  // openat2's mode is in memory: never (syscall_groups.h, never_allowed_syscalls).
  cases.emplace_back(__NR_openat2, kEnosys);
  std::sort(cases.begin(), cases.end());
  for (size_t i = 1; i < cases.size(); ++i)
    if (cases[i].first == cases[i - 1].first) return false;  // two checks for one syscall: which one?
  int free_label = kFirstFreeLabel;
  emit_dispatch(a, cases, 0, cases.size(), free_label);
  a.label(kEnosys);
  a.ret(kRetEnosys);

  // At `label`: argument `arg` (an int: the low 32 bits) with any of `bits` -> EPERM.
  auto refuse_bits = [&a](int label, int arg, uint32_t bits) {
    a.label(label);
    a.load(arg_lo(arg));
    a.jcond(BPF_JSET, bits, kEperm, kContinue);
  };
  a.label(kCreateFlags1);  // open(path, flags, mode)
  a.load(arg_lo(1));
  a.jcond(BPF_JSET, kCreatingFlags, kModeArg2, kContinue);
  a.label(kCreateFlags2);  // openat(dirfd, path, flags, mode)
  a.load(arg_lo(2));
  a.jcond(BPF_JSET, kCreatingFlags, kModeArg3, kContinue);
  refuse_bits(kModeArg1, 1, kSetIdBits);
  refuse_bits(kModeArg2, 2, kSetIdBits);
  refuse_bits(kModeArg3, 3, kSetIdBits);
  refuse_bits(kFlags3, 3, MSG_FASTOPEN);
  refuse_bits(kFlags2, 2, MSG_FASTOPEN);
  a.label(kSetsockopt);
  a.load(arg_lo(1));
  a.jcond(BPF_JEQ, IPPROTO_TCP, kNext, kContinue);
  a.load(arg_lo(2));
  a.jcond(BPF_JEQ, kTcpFastopenConnect, kEperm, kContinue);

  // pid_t and `int which` are C ints: the kernel reads the low 32 bits.
  a.label(kPidArg0);
  a.load(arg_lo(0));
  a.jcond(BPF_JEQ, 0, kContinue, kEperm);
  a.label(kWhichWho);  // setpriority(PRIO_PROCESS, 0, prio) only
  a.load(arg_lo(0));
  a.jcond(BPF_JEQ, kPrioProcess, kNext, kEperm);
  a.load(arg_lo(1));
  a.jcond(BPF_JEQ, 0, kContinue, kEperm);
  a.label(kIoprio);  // ioprio_set(IOPRIO_WHO_PROCESS, 0, prio) only
  a.load(arg_lo(0));
  a.jcond(BPF_JEQ, kIoprioWhoProcess, kNext, kEperm);
  a.load(arg_lo(1));
  a.jcond(BPF_JEQ, 0, kContinue, kEperm);

  // A datagram pair can sendto() (or connect() to) any named unix socket
  // its uid may write (/dev/log, the journal, sd_notify); a stream or
  // seqpacket pair is connected and stays that way (EISCONN).
  a.label(kSocketpair);
  a.load(arg_lo(0));
  if (o.unix_sockets) {
    a.jcond(BPF_JEQ, AF_UNIX, kContinue, kEperm);
  } else {
    a.jcond(BPF_JEQ, AF_UNIX, kNext, kEperm);
    a.load(arg_lo(1));
    a.and_k(0xf);  // SOCK_TYPE_MASK
    a.jcond(BPF_JEQ, SOCK_STREAM, kContinue, kNext);
    a.jcond(BPF_JEQ, SOCK_SEQPACKET, kContinue, kEperm);
  }

  a.label(kSocket);
  a.load(arg_lo(0));
  a.jcond(BPF_JEQ, AF_UNIX, o.unix_sockets ? kContinue : kEperm, kNext);
  if (o.network == NetMode::None) {
    a.jump(kEperm);
  } else {
    a.jcond(BPF_JEQ, AF_INET, kInet, kNext);
    a.jcond(BPF_JEQ, AF_INET6, kInet, kEperm);
    a.label(kInet);
    a.load(arg_lo(1));
    a.and_k(0xf);  // SOCK_TYPE_MASK: ignores SOCK_NONBLOCK | SOCK_CLOEXEC
    a.jcond(BPF_JEQ, SOCK_STREAM, kNext, kEperm);
    a.load(arg_lo(2));
    a.jcond(BPF_JEQ, 0, kContinue, kNext);
    a.jcond(BPF_JEQ, IPPROTO_TCP, kContinue, kEperm);
  }

  if (o.check_clone_namespaces) {
    a.label(kClone);
    a.load(arg_lo(0));  // the kernel uses lower_32_bits(clone_flags)
    a.jcond(BPF_JSET, kCloneNamespaceFlags, kEperm, kContinue);
  }

  a.label(kEperm);
  a.ret(kRetEperm);
  a.label(kContinue);
  return a.finish(out);
}

}  // namespace gx::seccomp
