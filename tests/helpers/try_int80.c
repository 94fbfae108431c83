// try_int80: an i386 getpid via `int $0x80` from a 64-bit process. gx's
// seccomp prologue must kill it (SIGSYS); if it returns, prints "survived"
// and exits 0.
#include <stdio.h>

int main(void) {
  long ret = 20;  // __NR_getpid on i386
  __asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
  printf("survived %ld\n", ret);
  return 0;
}
