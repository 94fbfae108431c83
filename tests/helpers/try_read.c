// try_read PATH: open(PATH, O_RDONLY) and read up to 1 byte. Prints "ok" or
// the errno name; exits 0 on success, 1 on failure.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  char c;
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, &c, 1) < 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  printf("ok\n");
  return 0;
}
