// Exec guard: with `exec = []` the governed child may start no other program.
//
// Landlock alone cannot say that: gx must grant execute on the ELF
// interpreter (the kernel opens it with exec rights when it loads a dynamic
// executable), and the same right lets the child run `ld.so /any/readable/elf`
// (the loader maps the target with mmap, which Landlock does not check). So
// when an artifact grants no exec path, the child additionally gets a seccomp
// user-notification filter on execve/execveat (seccomp::exec_guard_program), installed
// before the main filter. Its listener fd goes to gx (SCM_RIGHTS over the
// spawn channel, lib/confine.h), outside the sandbox:
//   * the FIRST notification is gx's own execveat of the verified memfd in
//     the single-threaded child, before any untrusted code ran: gx checks the
//     register values (pid, syscall number, arch, fd argument, AT_EMPTY_PATH)
//     and answers SECCOMP_USER_NOTIF_FLAG_CONTINUE (spawn_confined);
//   * EVERY later notification, from the program or any descendant, is
//     answered EPERM (ExecGuard's thread), whatever its arguments.
// Sound because no decision reads the child's memory (pointer arguments can
// change after the check; seccomp_unotify(2) warns about CONTINUE for
// exactly that reason) — the only CONTINUE is for code gx wrote.
//
// Precedence: seccomp runs every filter and takes the most restrictive action
// (KILL > TRAP > ERRNO > USER_NOTIF > ALLOW), so the main filter's denials of
// execve/execveat still win.
//
// Caveats (also in gx-artifact(5), docs/security.md):
//  * It stops new program images, not new code: the program may still map a
//    readable file PROT_EXEC into itself (dlopen of a readable library, a JIT,
//    a userspace loader). That code runs inside the same sandbox.
//  * A seccomp listener cannot be installed below another one
//    (SECCOMP_FILTER_FLAG_NEW_LISTENER -> EBUSY): inside a container runtime
//    that uses seccomp notification, `exec = []` runs are sandbox-unavailable.
//  * Nested gx under an `exec = []` artifact cannot start its command (that
//    is a second exec): give the outer artifact an exec grant.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace gx {

// The filter itself is seccomp::exec_guard_program() (seccomp/bpf.h): all
// of gx's BPF lives in seccomp/.

// Answers one pending notification on `listener`: CONTINUE when `allow` is
// true and the notification is exactly gx's own first exec (pid `child`,
// execveat(exec_fd, "", ..., AT_EMPTY_PATH) on x86-64), EPERM otherwise.
// Returns 1 when it answered CONTINUE, 0 when it refused, -errno when no
// notification could be read or answered (ENOENT: the task went away).
// `before_continue` (optional) runs just before a CONTINUE is sent.
int exec_guard_answer(int listener, pid_t child, int exec_fd, bool allow,
                      const std::function<void()>& before_continue = {});

// Owns the listener after the program started and refuses every exec
// attempt from a thread of its own until the filter has no task left
// (POLLHUP) or the guard is destroyed.
class ExecGuard {
 public:
  explicit ExecGuard(int listener);  // takes ownership; starts the thread
  ~ExecGuard();                      // stops the thread, joins, closes
  ExecGuard(const ExecGuard&) = delete;
  ExecGuard& operator=(const ExecGuard&) = delete;
  // Stops the thread and joins it (idempotent); returns refused().
  uint64_t stop();
  uint64_t refused() const { return refused_.load(); }

 private:
  void loop();
  int listener_ = -1;
  int stop_[2] = {-1, -1};
  std::atomic<uint64_t> refused_{0};
  std::thread thread_;
};

}  // namespace gx
