#include "seccomp/syscall_groups.h"

#include <algorithm>

namespace gx::seccomp {
namespace {

// What an ordinary dynamically linked program (ls, sh -c, python3) needs:
// the loader, libc start-up, threads, fd I/O, metadata reads, pipes and
// children (sh -c forks; glibc's posix_spawn uses clone/vfork). Creating or
// removing files is the `filesystem` group; which paths are reachable at all
// is Landlock's job. Socket calls are here because socket() itself is
// argument-filtered by the network mode and unix_sockets (socketpair only
// unless opted in). tgkill/tkill are needed by raise(), abort() and
// pthread_kill(); kill(2) by every shell (`kill $$`, `kill %1`, job
// control, trap tests) and by make/xargs/timeout stopping their children.
// Cross-process signals are confined by Landlock's signal scope (ABI 6),
// not here. prlimit64 is here for getrlimit/setrlimit/`ulimit` and
// setpriority for nice(1)/os.nice (glibc passes pid 0 / PRIO_PROCESS 0);
// the filter refuses any other target (filter_builder.h).
const std::vector<std::string> kDefault = {
    // memory
    "brk",
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "madvise",
    "msync",
    "mincore",
    "mlock",
    "munlock",
    "membarrier",
    // fd I/O
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "lseek",
    "close",
    "close_range",
    "sendfile",
    "splice",
    "tee",
    "copy_file_range",
    "fcntl",
    "dup",
    "dup2",
    "dup3",
    "pipe",
    "pipe2",
    "ioctl",
    "fsync",
    "fdatasync",
    "flock",
    // waiting for fds
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "eventfd",
    "eventfd2",
    // opening and inspecting files (no creation beyond open(O_CREAT) and its
    // older spelling creat(2): which paths may be written is Landlock's call)
    "open",
    "openat",
    "creat",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents",
    "getdents64",
    "getcwd",
    "chdir",
    "fchdir",
    "umask",
    "fadvise64",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    // sockets (socket/socketpair are argument-filtered by the network mode)
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "shutdown",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
    // signals
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigpending",
    "rt_sigtimedwait",
    "sigaltstack",
    "restart_syscall",
    "kill",
    "tgkill",
    "tkill",
    // identity and limits
    "getpid",
    "getppid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "getpgrp",
    "getpgid",
    "getsid",
    "getrlimit",
    "prlimit64",
    "getrusage",
    "times",
    "uname",
    "sysinfo",
    "getcpu",
    "getpriority",
    "setpriority",
    "capget",
    // threads, libc and loader start-up
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "futex",
    "futex_waitv",
    "sched_yield",
    "sched_getaffinity",
    "sched_getparam",
    "sched_getscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "getrandom",
    // time
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "nanosleep",
    "gettimeofday",
    "time",
    // processes: starting the program itself, sh -c, posix_spawn
    "execve",
    "execveat",
    "clone",
    "fork",
    "vfork",
    "wait4",
    "waitid",
    "exit",
    "exit_group",
};

const std::vector<std::string> kBasicIo = {
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "lseek",
    "close",
    "close_range",
    "openat",
    "fstat",
    "newfstatat",
    "statx",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "pipe",
    "pipe2",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "sendfile",
    "splice",
    "tee",
    "copy_file_range",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "flock",
};

const std::vector<std::string> kFilesystem = {
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "truncate",
    "ftruncate",
    "fallocate",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "mknod",
    "mknodat",
    "chdir",
    "fchdir",
    "umask",
    "statfs",
    "fstatfs",
    "sync_file_range",
    "syncfs",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
};

// Who may use a file: its mode, owner and extended attributes. Landlock has
// no access right for these, so whoever has this group can change them on
// ANY file its uid owns (or, as root, any file) that it can name -- outside
// its grants too, gx's own state directory and keys included when they
// belong to the same uid. Not part of `filesystem` for that reason: an
// artifact opts in by name. Setuid/setgid mode bits stay refused whatever
// the groups say (the prologue, filter_builder.h).
const std::vector<std::string> kPermissions = {
    "chmod",  "fchmod",   "fchmodat",  "fchmodat2", "chown",       "fchown",       "fchownat",
    "lchown", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
};

const std::vector<std::string> kNetwork = {
    "socket",   "socketpair", "connect",    "bind",       "listen",      "accept",
    "accept4",  "sendto",     "recvfrom",   "sendmsg",    "recvmsg",     "sendmmsg",
    "recvmmsg", "shutdown",   "getsockopt", "setsockopt", "getsockname", "getpeername",
};

// Signal targets are not checked by seccomp (it cannot know the target's
// ancestry); Landlock's signal scope (ABI 6) confines them to the sandbox.
const std::vector<std::string> kProcess = {
    "clone",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "wait4",
    "waitid",
    "exit",
    "exit_group",
    "kill",
    "tgkill",
    "tkill",
    "pidfd_open",
    "pidfd_send_signal",
    "setpgid",
    "getpgid",
    "getpgrp",
    "setsid",
    "getsid",
    "prctl",
    "setpriority",
    "getpriority",
    "sched_setaffinity",
    "sched_setscheduler",
    "sched_setparam",
    "setrlimit",
    "prlimit64",
    "capset",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "setfsuid",
    "setfsgid",
    "seccomp",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
};

const std::vector<std::string> kSignals = {
    "rt_sigaction",  "rt_sigprocmask",  "rt_sigreturn",      "rt_sigsuspend",
    "rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo",   "rt_tgsigqueueinfo",
    "sigaltstack",   "signalfd",        "signalfd4",         "kill",
    "tgkill",        "tkill",           "pidfd_send_signal", "pause",
    "alarm",         "restart_syscall",
};

const std::vector<std::string> kTime = {
    "clock_gettime",  "clock_getres",    "clock_nanosleep", "nanosleep",        "gettimeofday",
    "time",           "times",           "alarm",           "getitimer",        "setitimer",
    "timer_create",   "timer_settime",   "timer_gettime",   "timer_getoverrun", "timer_delete",
    "timerfd_create", "timerfd_settime", "timerfd_gettime",
};

// SysV IPC objects and POSIX message queues live in the IPC namespace, which
// Landlock does not cover: a sandboxed program with this group can reach
// other same-uid processes' queues, semaphores and segments. (memfd_create
// is not here: it is dangerous, see make_dangerous().)
const std::vector<std::string> kIpc = {
    "msgget",    "msgsnd",        "msgrcv",  "msgctl",   "semget",  "semop",     "semtimedop",   "semctl",
    "shmget",    "shmat",         "shmdt",   "shmctl",   "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
    "mq_notify", "mq_getsetattr", "eventfd", "eventfd2", "pipe",    "pipe2",     "futex",
};

std::vector<SyscallGroup> make_groups() {
  return {
      {"default", "safe base for ordinary dynamically linked programs (ls, sh -c, python3)", kDefault},
      {"basic-io", "read/write/poll on already open file descriptors", kBasicIo},
      {"filesystem", "create, remove, rename, link, truncate, timestamps, inotify (not modes or owners)", kFilesystem},
      {"permissions",
       "chmod/chown/xattrs: Landlock does not check these, so they reach ANY file the child's uid may change, "
       "outside its grants too (setuid/setgid bits are refused regardless)",
       kPermissions},
      {"network", "socket calls; socket() domains still follow sandbox.network", kNetwork},
      {"process", "children, exec, wait, kill, sessions, priorities, credentials dropping", kProcess},
      {"signals", "signal handlers, masks, signalfd, sending signals", kSignals},
      {"time", "clocks, sleeps, interval timers, timerfd", kTime},
      {"ipc", "SysV IPC, POSIX message queues, eventfd", kIpc},
  };
}

// Sorted. Each is either a way around the sandbox (other processes' memory,
// namespaces and mounts, io_uring's seccomp-free operations, file handles
// that bypass path checks, memfd_create: Landlock never checks execute on a
// memfd, so a child could copy any readable file into one and execveat it
// past the exec paths — gx creates its own memfd in the parent and does not
// need it in the child) or large kernel attack surface (bpf, perf,
// userfaultfd, keyrings, modules), or a host-wide change (clock, swap, reboot).
std::vector<std::string> make_dangerous() {
  std::vector<std::string> v = {
      "acct",
      "add_key",
      "bpf",
      "chroot",
      "clock_adjtime",
      "clock_settime",
      "delete_module",
      "finit_module",
      "fsconfig",
      "fsmount",
      "fsopen",
      "fspick",
      "init_module",
      "io_uring_enter",
      "io_uring_register",
      "io_uring_setup",
      "ioperm",
      "iopl",
      "kcmp",
      "kexec_file_load",
      "kexec_load",
      "keyctl",
      "lookup_dcookie",
      "memfd_create",
      "modify_ldt",
      "mount",
      "mount_setattr",
      "move_mount",
      "name_to_handle_at",
      "open_by_handle_at",
      "open_tree",
      "perf_event_open",
      "personality",
      "pidfd_getfd",
      "pivot_root",
      "process_madvise",
      "process_vm_readv",
      "process_vm_writev",
      "ptrace",
      "quotactl",
      "quotactl_fd",
      "reboot",
      "request_key",
      "setdomainname",
      "sethostname",
      "setns",
      "settimeofday",
      "adjtimex",
      "swapoff",
      "swapon",
      "syslog",
      "umount2",
      "unshare",
      "uselib",
      "userfaultfd",
      "vhangup",
  };
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

const std::vector<SyscallGroup>& syscall_groups() {
  static const std::vector<SyscallGroup> groups = make_groups();
  return groups;
}

const SyscallGroup* find_group(std::string_view name) {
  for (const auto& g : syscall_groups())
    if (g.name == name) return &g;
  return nullptr;
}

const std::vector<std::string>& dangerous_syscalls() {
  static const std::vector<std::string> list = make_dangerous();
  return list;
}

bool is_dangerous(std::string_view syscall_name) {
  const auto& list = dangerous_syscalls();
  return std::binary_search(list.begin(), list.end(), syscall_name);
}

const std::vector<std::string>& never_allowed_syscalls() {
  static const std::vector<std::string> list = {"openat2"};
  return list;
}

bool is_never_allowed(std::string_view syscall_name) {
  const auto& list = never_allowed_syscalls();
  return std::find(list.begin(), list.end(), syscall_name) != list.end();
}

const std::vector<std::string>& probed_syscalls() {
  static const std::vector<std::string> list = {"clone3", "io_uring_enter", "io_uring_register", "io_uring_setup"};
  return list;
}

}  // namespace gx::seccomp
