// try_prlimit_parent: lowers its PARENT's (gx's) RLIMIT_FSIZE to 1 byte and
// RLIMIT_NOFILE to 3, soft and hard, with prlimit64 on getppid(). Prints
// "ok" (both lowered) or the errno name of the first failure; exits 0 either
// way, so the run itself succeeded and only gx's recording is attacked.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int main(void) {
  pid_t gx = getppid();
  struct rlimit fsize = {1, 1}, nofile = {3, 3};
  if (prlimit(gx, RLIMIT_FSIZE, &fsize, NULL) != 0 || prlimit(gx, RLIMIT_NOFILE, &nofile, NULL) != 0) {
    printf("%s\n", strerrorname_np(errno));
    return 0;
  }
  printf("ok\n");
  return 0;
}
