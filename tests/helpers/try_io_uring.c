// try_io_uring: io_uring_setup(1, &params). Prints "ok" or the errno name;
// exits 0 on success, 1 on failure.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
  unsigned char params[120];  // struct io_uring_params
  memset(params, 0, sizeof params);
  long fd = syscall(SYS_io_uring_setup, 1, params);
  if (fd < 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  printf("ok\n");
  return 0;
}
