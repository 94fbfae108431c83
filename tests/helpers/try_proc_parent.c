// try_proc_parent FILE: open("/proc/<ppid>/FILE", O_RDONLY), the governed
// child reaching into gx (FILE: mem, environ, ...), and read one byte unless
// FILE is mem (offset 0 is unmapped; the open is the access check). Prints
// "ok" or the errno name; exits 0 on success, 1 on failure.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)getppid(), argv[1]);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  if (strcmp(argv[1], "mem") != 0) {
    char c;
    if (read(fd, &c, 1) < 0) {
      printf("%s\n", strerrorname_np(errno));
      return 1;
    }
  }
  printf("ok\n");
  return 0;
}
