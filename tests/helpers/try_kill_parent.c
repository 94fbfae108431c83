// try_kill_parent: kill(getppid(), SIGTERM) — the governed child trying to
// kill gx. Prints "ok" or the errno name; exits 0 on success, 1 on failure.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  if (kill(getppid(), SIGTERM) != 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  printf("ok\n");
  return 0;
}
