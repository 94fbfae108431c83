// try_unshare: unshare(CLONE_NEWUSER | CLONE_NEWNS). Prints "ok" or the errno
// name; exits 0 on success, 1 on failure.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  printf("ok\n");
  return 0;
}
