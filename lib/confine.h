// The child side of `gx run`: one flat, fixed sequence between fork and exec.
//
// Everything is prepared in the parent (ruleset fd, seccomp program, argv and
// envp arrays, exec fd); the child only issues syscalls. confine_and_exec()
// is async-signal-safe: no allocation, no locks, no stdio, no exceptions,
// so it is safe after fork() in a multi-threaded gx, and in a child that
// shares gx's memory until its exec (spawn_confined clones with CLONE_VM |
// CLONE_VFORK, like posix_spawn): it writes nothing but its own stack (and
// errno, in the suspended parent thread's TLS).
//
// Sequence (each step fatal; on failure the child writes one ConfineFailure
// to the error pipe and _exit(127)s, and never runs the command):
//   0. the plan: exec fd, argv and envp set; ruleset and seccomp when
//      confinement is required; none of its own fds on 0, 1, 2 (step 2
//      would overwrite it; EBADF)
//   1. reset signal dispositions, then the mask (gx's blocked/ignored
//      signals must not leak into the command; the child starts with every
//      signal blocked and, until its exec, on gx's memory: see below): every
//      disposition SIG_DFL except the plan's signals.ignored (SIG_IGN), the
//      mask its signals.blocked -- what gx's caller left, not gx's own
//   2. stdio (optional): the plan's stdin, stdout and stderr fds become 0, 1
//      and 2 (a brokered run: the client's own, received over SCM_RIGHTS)
//   2b. close every fd except 0, 1, 2 and the plan's own fds (exec fd, error
//      pipe, ruleset fd; close-on-exec) and the two the command is meant to
//      get (inherit_fd, channel_fd; kept across exec). An fd inherited
//      across restriction would bypass Landlock, which checks only at open.
//   2c. credentials (optional, ChildCredentials below; lib/run_as.h plans
//      them): drop every capability not kept from the bounding set; lock
//      securebits; setgroups, setresgid, setresuid; verify the ids; capset
//      to exactly the kept set; clear the ambient set and raise the kept
//      capabilities in it; verify the capability sets. Before the death
//      signal, because a credential change clears PR_SET_PDEATHSIG.
//   2c'. no switch but drop_caps set (a privileged gx without [run]): those
//      capabilities leave the bounding, inheritable and ambient sets.
//   3. PR_SET_PDEATHSIG(SIGKILL), then re-check getppid(): if gx dies, even
//      by SIGKILL, its child must not run on unsupervised. (PDEATHSIG fires
//      when the forking *thread* exits: fork from the thread that waits.)
//   4. setsid() (optional, default on): no controlling terminal, so TIOCSTI
//      and TIOCLINUX cannot reach gx's terminal even if an ioctl slips past
//      seccomp. Terminal-generated SIGINT/SIGTSTP then reach only gx, which
//      forwards them. Programs that open /dev/tty get ENXIO.
//   5. chdir(cwd)
//   6. PR_SET_NO_NEW_PRIVS (required for unprivileged Landlock and seccomp;
//      setuid programs such as sudo no longer gain privileges inside)
//   7. landlock_restrict_self(ruleset fd, flags); close the ruleset fd
//   8. (notify_filter set) a seccomp user-notification filter — gx run's
//      exec guard on execve/execveat (lib/exec_guard.h), or gx learn's
//      observer on everything (lib/learn_observe.h); its listener fd is sent to gx
//      over the error channel (SCM_RIGHTS) and closed here
//   8b. (gate_fd set) wait for gx's go-ahead: read one byte from gate_fd,
//      then close it. End of stream (gx could not do what must precede the
//      exec: make the run's authorized receipt durable, lib/run_record.h)
//      fails with ConfineStep::Gate. So gx's own work overlaps steps 1-8
//      and nothing execs before it is done. Before step 9, which may deny
//      read(2) -- unless plan.seccomp_before_gate: the planner vouches that
//      the filter allows read(2) and close(2) unconditionally, and step 9
//      comes before 8b, overlapping gx's work too. spawn_confined sets no
//      gate_fd when there is an exec guard (step 8): the kernel then holds
//      step 10 until gx answers, and gx answers only after that work, so
//      the answer is the gate (a refusal fails the exec with EPERM).
//   9. seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) — after every other
//      restriction, so the filter may deny the Landlock syscalls and
//      everything before it
//  10. execveat(exec fd, "", argv, envp, AT_EMPTY_PATH) — with the exec
//      guard, this blocks until gx answers CONTINUE
//
// The parent's side (forking into this sequence, reading its outcome,
// hardening gx itself) is lib/confine_spawn.h, included here.
#pragma once

#include <linux/filter.h>
#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/confine_spawn.h"
#include "lib/decision.h"

namespace gx {

enum class ConfineStep : int32_t {
  Plan = 1,  // the plan itself is unusable
  Signals,
  CloseFds,
  DeathSignal,
  ParentGone,
  Setsid,
  Chdir,
  NoNewPrivs,
  Landlock,
  Seccomp,
  Exec,
  ExecGuard,  // installing or handing over the exec guard's listener
  Died,       // the child died before its exec completed (no errno)
  Stdio,      // making the plan's stdio fds 0, 1, 2
  // Credentials (step 2c); each failure is run-as-unavailable.
  CapBound,    // PR_CAPBSET_DROP
  Securebits,  // PR_SET_SECUREBITS
  Setgroups,
  Setresgid,
  Setresuid,
  IdentityCheck,  // getresuid/getresgid/getgroups differ from the target
  Capset,
  AmbientCaps,  // PR_CAP_AMBIENT clear / raise
  CapCheck,     // capget/PR_CAPBSET_READ differ from the kept set
  Gate,         // step 8b: gx gave no go-ahead (end of stream) or the read failed
};

// What the child writes to the error pipe when a step fails.
struct ConfineFailure {
  int32_t step;  // ConfineStep
  int32_t err;   // errno
};

// Whose rights the command gets (step 2c), prepared in the parent by
// prepare_credentials() (lib/run_as.h). Trivially copyable: `groups` points
// into storage the parent keeps alive until spawn_confined returns.
//
// Applied as root (or with CAP_SETUID, CAP_SETGID and CAP_SETPCAP), in
// this order, each step fatal:
//   * PR_CAPBSET_DROP for every capability 0..last_cap not in keep_caps;
//   * securebits NOROOT, NO_SETUID_FIXUP, KEEP_CAPS (off), each locked, and
//     with keep_caps == 0 also NO_CAP_AMBIENT_RAISE locked: neither exec of
//     a root-owned or setuid-root file nor a later setuid() can ever give
//     the command capabilities back;
//   * setgroups(groups), setresgid(gid x3), setresuid(uid x3), then
//     getresuid/getresgid/getgroups must show exactly the target;
//   * capset: effective = permitted = inheritable = keep_caps;
//   * ambient: cleared, then each kept capability raised, so that it
//     survives execveat of an ordinary (non-setuid, no file caps) program;
//   * capget and PR_CAPBSET_READ must show exactly keep_caps.
// Caveat: inheritable holds the kept capabilities (the kernel requires it
// for ambient ones); with none kept it is empty.
struct ChildCredentials {
  bool apply = false;  // false: the command keeps gx's credentials
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;  // supplementary groups, exactly these
  size_t group_count = 0;         // <= kMaxChildGroups
  uint64_t keep_caps = 0;         // bit n: capability n is kept
  int last_cap = -1;              // /proc/sys/kernel/cap_last_cap
  // Without a switch (apply false): capabilities dropped from the bounding,
  // inheritable and ambient sets all the same (step 2c'), so the command --
  // root keeping root's other rights -- never has them after its exec.
  uint64_t drop_caps = 0;
};
inline constexpr size_t kMaxChildGroups = 256;

// What gx's caller left to the commands it starts: the signals it ignores
// and those it blocks. Without gx a command inherits both across exec
// (`nohup` is an ignored SIGHUP; a background job of a script ignores
// SIGINT), so a governed child gets the same (ChildPlan::signals, step 1).
// gx still forwards every forwarded signal: the command's own disposition
// decides, as it would without gx (a program may catch or sigwait for a
// signal its caller ignored). A brokered or nested run's
// requester sends its sets in the request (bit n-1: signal n).
struct InheritedSignals {
  sigset_t ignored{};  // zeroed: the empty set
  sigset_t blocked{};
  // This process's dispositions and mask, read before gx changes any
  // (cmd/run.cc: before the pipeline; lib/supervise.h's SignalGuard and
  // OwnLimits change some).
  static InheritedSignals of_this_process();
  static InheritedSignals from_bits(uint64_t ignored, uint64_t blocked);
  static uint64_t bits_of(const sigset_t& set);  // signals 1..64
};

struct ChildPlan {
  int exec_fd = -1;             // executable; should be O_CLOEXEC (see caveat)
  char* const* argv = nullptr;  // NULL-terminated, prepared in the parent
  char* const* envp = nullptr;  // NULL-terminated
  const char* cwd = nullptr;    // nullptr: keep the current directory
  int ruleset_fd = -1;          // PreparedRuleset::fd()
  uint32_t landlock_flags = 0;  // PreparedRuleset::restrict_flags()
  const sock_fprog* seccomp = nullptr;
  unsigned int seccomp_flags = 0;  // SECCOMP_FILTER_FLAG_*
  bool new_session = true;         // setsid()
  pid_t parent_pid = 0;            // getpid() of gx before fork; 0 skips the check
  int error_fd = -1;               // the child's end of an O_CLOEXEC SOCK_SEQPACKET pair
                                   // (spawn_confined sets it)
  // A user-notification filter whose listener the child hands to gx (step
  // 8), or nullptr: seccomp::exec_guard_program() — spawn_confined answers
  // it as the exec guard — or gx learn's seccomp::observe_program(), which
  // learn's own parent loop answers. Needs an
  // error channel that is a unix socket (spawn_confined provides one).
  const sock_fprog* notify_filter = nullptr;
  int inherit_fd = -1;  // kept open ACROSS exec (a script's sealed memfd, /dev/fd/N)
  int channel_fd = -1;  // kept open ACROSS exec: the nested-run channel (lib/nested_channel.h)
  // Step 8b: the read end of a close-on-exec pipe whose one byte lets the
  // child exec (spawn_confined sets it when it is given a BeforeExec that
  // runs alongside the child and there is no exec guard); -1: no wait.
  int gate_fd = -1;
  // Step 9 before 8b. Set only when `seccomp` allows read(2) and close(2)
  // whatever their arguments (the gate needs both); a filter that denied
  // either would fail (or, under "kill", kill) the child at its gate.
  bool seccomp_before_gate = false;
  // The command's stdin, stdout, stderr; -1 keeps gx's own 0, 1, 2. The
  // sources are closed in the child after the dup (step 2b).
  int stdio[3] = {-1, -1, -1};
  ChildCredentials credentials;  // step 2c; default: no change
  // Step 1: the signals the command starts with ignored (SIG_IGN; every
  // other disposition SIG_DFL) and its mask. Default: none ignored, none
  // blocked. gx passes its caller's, so the command sees what it would
  // without gx.
  InheritedSignals signals;
  // Fail closed: without a ruleset and a seccomp program the plan is
  // refused. Only tests of individual steps turn this off.
  bool require_confinement = true;
};
// Caveat: execveat of a close-on-exec fd works for ELF files but fails with
// ENOENT for "#!" scripts (the interpreter would need /dev/fd/N). A
// non-CLOEXEC exec fd stays open in the command (read-only, its own code).

// Runs the sequence above in the calling (freshly forked) process.
[[noreturn]] void confine_and_exec(const ChildPlan& plan) noexcept;

// Step 0's check of the plan's own fds (exec, ruleset, inherited, channel,
// gate, error): the name of the first that is 0, 1 or 2 ("exec fd", ...),
// or nullptr. Async-signal-safe; spawn_confined asks it before starting a
// child, to refuse with a message instead of a failed child.
const char* plan_fd_on_stdio(const ChildPlan& plan) noexcept;

}  // namespace gx
