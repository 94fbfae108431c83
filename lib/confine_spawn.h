// The parent's side of the child sequence (lib/confine.h): forking into
// confine_and_exec, reading whether the program started (and why not), and
// hardening gx itself before it forks. Everything here runs in gx, may
// allocate and reports with a Decision.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/decision.h"

namespace gx {

// lib/confine.h
enum class ConfineStep : int32_t;
struct ConfineFailure;
struct ChildPlan;

std::string_view confine_step_name(ConfineStep step);  // "landlock_restrict_self", ...

// "sandbox-unavailable: landlock_restrict_self failed: EPERM (...)"; chdir
// and exec failures are io-error (the sandbox was fine, running was not).
Decision confine_failure_decision(const ConfineFailure& f);

// What spawn_confined hands back besides the pid.
struct SpawnReader;  // lib/confine_spawn.cc

struct SpawnInfo {
  // With plan.notify_filter: the guard's listener, owned by the caller from
  // now on (give it to an ExecGuard). -1 otherwise.
  int exec_listener = -1;
  // Execs the guard refused while spawn_confined still held the listener:
  // the program may exec again before gx has seen its first exec complete.
  // Add these to ExecGuard::stop()'s count.
  uint64_t exec_refused = 0;
  // When the program did not start: the reaped child's wait status, or -1
  // when the child reported a failed step (it then _exit(127)s).
  int wait_status = -1;
  pid_t pid = -1;  // the child's pid, also when it did not start
  // The thread that opened the gate and answered gx's own exec: joined (a
  // ReaderHost's: its work waited for) when the last copy of this goes (it
  // may still be returning from that answer, preempted by the child it let
  // go; nothing waits for it meanwhile).
  std::shared_ptr<SpawnReader> reader;
};

// Parent side: creates the error channel, starts the child with
// clone(CLONE_VM | CLONE_VFORK) on a stack of its own (no page-table copy,
// no copy-on-write faults in gx afterwards; AddressSanitizer builds fork
// instead, since ASan cannot track a child running on a foreign stack in
// gx's memory), runs confine_and_exec in it
// and waits until the child has exec'd or failed. On success
// returns the child's pid; the caller waits for it. On failure the child
// has been reaped and the Decision says why the program NEVER STARTED:
//   * a ConfineFailure arrived (the step and errno);
//   * the channel closed without one, and the child never exec'd — it died
//     before its exec completed, e.g. killed by seccomp (SIGSYS) at
//     execveat. "Exec'd" is read from the kernel, not the child: the
//     PF_FORKNOEXEC flag in /proc/<pid>/stat is set by fork and cleared only
//     by a successful exec, and is read before the child is reaped (its pid
//     cannot be reused). Without /proc the run counts as started.
// With plan.notify_filter (the exec guard) it also answers the guard's first notification
// (exec_guard_answer, allow = true).
//
// `before_exec` (optional): what must be done before the program may run
// (gx run: making its authorized receipt durable, lib/run_record.h). The
// child never execs unless it returned allow. It runs on the handshake
// reader thread (one started for it or a ReaderHost's; the parent itself
// in fork builds), alongside steps 1-8
// of the child, which then waits at its gate: with the exec guard, in its
// execveat, which the reader answers CONTINUE only after an allow (EPERM
// otherwise); without it, at a pipe (ChildPlan::gate_fd, step 8b). The
// receipt's fdatasync overlaps the child's set-up instead of preceding it
// (docs/performance.md). Its denial is returned as is (the child, if
// started, failed at its gate and was reaped: info->pid and wait_status
// say so); an exception
// it throws becomes an io-error denial. It must not touch anything the
// child reads (the plan, its strings). On the reader thread it may use
// what the calling thread owns: that thread touches only spawn_confined's
// own locals until it has joined the reader (it is inside clone, suspended
// by CLONE_VFORK until the child execs or dies, and then waits in join).
//
// A plan with one of its own fds on 0, 1 or 2 (plan_fd_on_stdio) is
// refused (invalid-value) before anything starts: the child's stdio would
// overwrite it.
using BeforeExec = std::function<Decision()>;

// Optional, with a before_exec: a thread that already exists takes the
// handshake reader's work (before_exec, then the answer to gx's own exec)
// instead of one started for it -- a standalone gx run's side thread,
// right after it has synced the authorized receipt (SyncHandoff::host,
// lib/run_record.h): no thread is started before the clone, and no thread
// waits to be woken between the sync and the answer. Called at most once,
// before the clone, and only where a reader thread would be started (not
// in fork builds). Returns true when it will run the work exactly once,
// whatever happens meanwhile (the work then signals its own end, and
// spawn_confined and SpawnInfo::reader wait for that); false, and
// spawn_confined starts its own thread. The work must not be run on the
// thread that calls spawn_confined.
using ReaderHost = std::function<bool(std::function<void()> work)>;

// Test seam, never set by gx (nor reachable from the command line or the
// environment): run by spawn_confined's reader thread with the child's pid
// just after it has released spawn_confined at gx's own exec and before
// its answer is sent, so that a test can hold that window open.
extern void (*spawn_reader_released_hook)(pid_t child);
Result<pid_t> spawn_confined(const ChildPlan& plan, SpawnInfo* info = nullptr, const BeforeExec& before_exec = {},
                             const ReaderHost& host = {});

// Whether spawn_confined's child shares gx's memory (clone with CLONE_VM:
// release builds) rather than being a fork (sanitizer builds). Only a fork
// must be made from a process with no other thread (lib/side_task.h).
bool spawn_shares_memory();

// Reads PF_FORKNOEXEC of `pid` (alive or zombie, not yet reaped): 1 when it
// never exec'd, 0 when it did, -errno when /proc/<pid>/stat is unreadable.
int never_execed(pid_t pid);

// Parent-side hardening, before fork: PR_SET_DUMPABLE 0, so a same-uid
// child can neither ptrace gx nor open /proc/<gx>/mem, environ, fd/*; and
// gx's original environment strings are zeroed (copies kept on the heap),
// because a ROOT child with /proc readable can still read
// /proc/<gx>/environ (docs/sandbox.md).
// (exec resets dumpable for the child itself; the child gets no benefit.)
// Safe to call repeatedly: the environment is moved once per process.
Decision harden_supervisor();

// NULL-terminated char* array over owned strings, for ChildPlan argv/envp.
class CStringArray {
 public:
  explicit CStringArray(std::vector<std::string> items);
  CStringArray(const CStringArray&) = delete;
  CStringArray& operator=(const CStringArray&) = delete;
  char* const* data() const { return ptrs_.data(); }
  size_t size() const { return items_.size(); }

 private:
  std::vector<std::string> items_;
  std::vector<char*> ptrs_;
};

}  // namespace gx
