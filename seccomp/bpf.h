// Classic BPF for seccomp: the small assembler gx's hand-written programs
// use, those programs (the exec guard, gx learn's observer; the filter
// prologue is in seccomp/prologue.h), and the one way gx installs a filter.
//
// Every seccomp filter gx installs goes through install_filter() or
// install_listener(): gx run's child (lib/confine.cc) calls them for the
// main filter and for a user-notification filter, gx learn's child uses the
// same child sequence, and the tests install through them too.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>

#include <array>
#include <cstdint>
#include <vector>

namespace gx::seccomp {

// seccomp_data offsets. Arguments are 64-bit; on little-endian x86-64 the
// low 32 bits of args[i] sit at 16 + 8*i. The checked arguments are all C
// ints (or unsigned int / lower_32_bits in the kernel), so the low half is
// exactly what the kernel acts on: comparing it, not the full register,
// is what stops high-bit smuggling (CVE-2019-10063).
inline constexpr uint32_t kOffNr = offsetof(seccomp_data, nr);
inline constexpr uint32_t kOffArch = offsetof(seccomp_data, arch);
constexpr uint32_t arg_lo(unsigned i) { return static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * i); }

// A tiny forward-only assembler: jumps name labels and are resolved once
// every label's position is known. Labels are small integers below kMaxLabels.
class Assembler {
 public:
  static constexpr int kMaxLabels = 64;
  static constexpr int kNext = -1;  // a conditional jump's "next instruction"

  void load(uint32_t offset) { emit(BPF_LD | BPF_W | BPF_ABS, offset); }
  void and_k(uint32_t k) { emit(BPF_ALU | BPF_AND | BPF_K, k); }
  void ret(uint32_t k) { emit(BPF_RET | BPF_K, k); }
  void jump(int target) { code_.push_back({{BPF_JMP | BPF_JA, 0, 0, 0}, target, kNext, true}); }
  void jcond(uint16_t op, uint32_t k, int jt, int jf) {
    code_.push_back({{static_cast<uint16_t>(BPF_JMP | op | BPF_K), 0, 0, k}, jt, jf, false});
  }
  // A label out of range or placed twice makes finish() fail (a second
  // placement would silently move every jump to it).
  void label(int l) {
    if (l < 0 || l >= kMaxLabels || where_[static_cast<size_t>(l)] >= 0) {
      bad_label_ = true;
      return;
    }
    where_[static_cast<size_t>(l)] = static_cast<int>(code_.size());
  }

  // Resolves jumps; false if a label is missing, out of range or placed
  // twice, a jump goes backwards or a conditional jump is out of range (255).
  bool finish(std::vector<sock_filter>& out) const;

 private:
  struct Pending {
    sock_filter insn;
    int jt, jf;
    bool always;
  };
  void emit(uint16_t code, uint32_t k) { code_.push_back({{code, 0, 0, k}, kNext, kNext, false}); }
  std::vector<Pending> code_;
  bool bad_label_ = false;
  std::array<int, kMaxLabels> where_ = [] {
    std::array<int, kMaxLabels> a{};
    a.fill(-1);
    return a;
  }();
};

// The exec guard (lib/exec_guard.h): execve/execveat on x86-64 ->
// SECCOMP_RET_USER_NOTIF; everything else ALLOW (foreign architectures and
// x32 numbers are the main filter's to kill).
const std::vector<sock_filter>& exec_guard_program();

// gx learn's observer (lib/learn_observe.h): SECCOMP_RET_USER_NOTIF for every
// syscall of every architecture, except sendmsg on fd `channel` on x86-64 —
// the child's hand-over of the listener (and of a failed step) to gx.
std::vector<sock_filter> observe_program(int channel);

// Async-signal-safe, one syscall, no allocation. Installs `prog` on the
// calling thread: 0 or an errno (EACCES: no_new_privs is not set; EINVAL: an
// empty or over-long program, or a flag the kernel lacks). Never returns 0
// without the filter in place.
int install_filter(const sock_fprog* prog, unsigned int flags) noexcept;
// The same with SECCOMP_FILTER_FLAG_NEW_LISTENER: the listener fd (>= 0),
// or -errno (EBUSY: another listener is installed above). Where the kernel
// has it (5.19+), also SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: once the
// supervisor has received a notification, only a fatal signal ends the
// task's wait for the answer. Without it a stop (SIGSTOP, a freezer) in
// that window withdraws the notification and restarts the syscall: the
// answer fails with ENOENT, and the restarted call asks again -- which gx's
// spawn reader, released by then, would not answer (the child, and gx in
// its clone, would wait for good). Older kernels keep that window.
int install_listener(const sock_fprog* prog) noexcept;

}  // namespace gx::seccomp
