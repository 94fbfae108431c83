#include "seccomp/bpf.h"

#include <linux/audit.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace gx::seccomp {

bool Assembler::finish(std::vector<sock_filter>& out) const {
  out.clear();
  if (bad_label_) return false;
  for (size_t i = 0; i < code_.size(); ++i) {
    sock_filter f = code_[i].insn;
    auto offset = [&](int l, uint32_t& dst) {
      if (l < 0) return true;
      if (l >= kMaxLabels) return false;
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

namespace {

// Ends a user-notification program: falling through allows, `notify` notifies.
std::vector<sock_filter> allow_else_notify(Assembler& a, int notify) {
  a.ret(SECCOMP_RET_ALLOW);
  a.label(notify);
  a.ret(SECCOMP_RET_USER_NOTIF);
  std::vector<sock_filter> out;
  if (!a.finish(out)) out.clear();  // an empty program never installs (EINVAL)
  return out;
}

}  // namespace

const std::vector<sock_filter>& exec_guard_program() {
  static const std::vector<sock_filter> prog = [] {
    enum { kNotify, kAllow };
    Assembler a;
    a.load(kOffArch);
    a.jcond(BPF_JEQ, AUDIT_ARCH_X86_64, Assembler::kNext, kAllow);  // other ABIs: the main filter kills them
    a.load(kOffNr);
    a.jcond(BPF_JEQ, __NR_execve, kNotify, Assembler::kNext);
    a.jcond(BPF_JEQ, __NR_execveat, kNotify, Assembler::kNext);
    a.label(kAllow);
    return allow_else_notify(a, kNotify);
  }();
  return prog;
}

std::vector<sock_filter> observe_program(int channel) {
  enum { kNotify };
  Assembler a;
  a.load(kOffArch);
  a.jcond(BPF_JEQ, AUDIT_ARCH_X86_64, Assembler::kNext, kNotify);
  a.load(kOffNr);
  a.jcond(BPF_JEQ, __NR_sendmsg, Assembler::kNext, kNotify);
  a.load(arg_lo(0));  // an int fd
  a.jcond(BPF_JEQ, static_cast<uint32_t>(channel), Assembler::kNext, kNotify);
  return allow_else_notify(a, kNotify);
}

int install_filter(const sock_fprog* prog, unsigned int flags) noexcept {
  if (prog == nullptr || prog->len == 0 || prog->len > BPF_MAXINSNS) return EINVAL;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog) == 0) return 0;
  return errno != 0 ? errno : EINVAL;
}

int install_listener(const sock_fprog* prog) noexcept {
  if (prog == nullptr || prog->len == 0 || prog->len > BPF_MAXINSNS) return -EINVAL;
  long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                    SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, prog);
  // Before 5.19 the flag is unknown (EINVAL): the listener without it.
  if (fd < 0 && errno == EINVAL)
    fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);
  if (fd >= 0) return static_cast<int>(fd);
  return errno != 0 ? -errno : -EINVAL;
}

}  // namespace gx::seccomp
