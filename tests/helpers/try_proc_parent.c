// try_proc_parent FILE: open("/proc/<ppid>/FILE", O_RDONLY), the governed
// child reaching into gx (FILE: mem, environ, ...). Prints "ok" and then,
// unless FILE is mem (offset 0 is unmapped; the open is the access check),
// what it read with NULs as newlines; or prints the errno name. Exits 0 on
// success, 1 on failure.
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
  printf("ok\n");
  if (strcmp(argv[1], "mem") == 0) return 0;
  char buf[65536];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  for (ssize_t i = 0; i < n; ++i)
    if (buf[i] == '\0') buf[i] = '\n';
  fwrite(buf, 1, (size_t)n, stdout);
  return 0;
}
