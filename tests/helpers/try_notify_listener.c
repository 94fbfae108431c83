// try_notify_listener CMD ARGS...: installs a seccomp user-notification
// filter WITHOUT no_new_privs (needs CAP_SYS_ADMIN, so root only), keeps its
// listener open across exec and execs CMD. Any seccomp listener installed
// later in this tree fails with EBUSY (one listener per filter tree) — the
// situation in which gx's exec guard cannot be installed and its command
// never starts. Notifies only on uselib(2), which nothing calls. Exits 2 on
// usage, 1 (printing the errno name) when the filter cannot be installed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_uselib, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof code / sizeof code[0], code};
  long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (listener < 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  // The listener is close-on-exec; closing it would detach it (no EBUSY).
  if (fcntl((int)listener, F_SETFD, 0) != 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  execv(argv[1], argv + 1);
  printf("%s\n", strerrorname_np(errno));
  return 1;
}
