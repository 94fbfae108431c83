// try_write PATH: open(PATH, O_WRONLY|O_CREAT|O_APPEND) and write "x\n".
// Prints "ok" or the errno name; exits 0 on success, 1 on failure.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, "x\n", 2) != 2) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  printf("ok\n");
  return 0;
}
