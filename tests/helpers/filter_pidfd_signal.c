// filter_pidfd_signal ERRNO CMD [ARG...]: runs CMD under a seccomp filter
// that answers pidfd_send_signal(2) itself, with -1 and errno ERRNO (EPERM
// is what systemd's SystemCallErrorNumber=EPERM, or a container profile that
// does not list the call, does to a service), or with 0 when ERRNO is 0 (a
// faked success); everything else is allowed. A caller of the call then
// cannot tell "not permitted" from "filtered", or "there" from "faked".
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "filter_pidfd_signal: add this architecture's AUDIT_ARCH"
#endif

int main(int argc, char** argv) {
  char* end = NULL;
  const long err = argc >= 3 ? strtol(argv[1], &end, 10) : -1;
  if (argc < 3 || *end != '\0' || err < 0 || err > 4095) {
    fprintf(stderr, "usage: filter_pidfd_signal ERRNO CMD [ARG...]\n");
    return 2;
  }
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pidfd_send_signal, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {(unsigned short)(sizeof filter / sizeof filter[0]), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    fprintf(stderr, "filter_pidfd_signal: cannot install the filter: %s\n", strerror(errno));
    return 1;
  }
  execvp(argv[2], argv + 2);
  fprintf(stderr, "filter_pidfd_signal: %s: %s\n", argv[2], strerror(errno));
  return 127;
}
