// try_tiocsti [hi]: ioctl(0, TIOCSTI, "x") — inject a byte into the terminal.
// With "hi", the request carries garbage in its upper 32 bits (the kernel
// reads only the low 32, CVE-2019-10063). Prints "ok" or the errno name;
// exits 0 on success, 1 on failure. (Without seccomp, a non-tty stdin gives
// ENOTTY; seccomp answers EPERM before the kernel looks at the fd.)
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
  unsigned long req = TIOCSTI;
  if (argc > 1 && strcmp(argv[1], "hi") == 0) req |= 0xdead00000000UL;
  char c = 'x';
  if (syscall(SYS_ioctl, 0, req, &c) != 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  printf("ok\n");
  return 0;
}
