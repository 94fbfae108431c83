// try_reopen PATH MARKER [w]: creates MARKER (the proof that this program
// ran), then open(PATH) for reading (or, with "w", for writing) and reads
// (writes) one byte. Prints "ok" or the errno name; exits 0 on success, 1 on
// failure. Used on /proc/self/fd/0: reopening what the caller passed as stdin.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  int m = open(argv[2], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (m >= 0) close(m);
  const int write_mode = argc > 3 && strcmp(argv[3], "w") == 0;
  char c = 'x';
  int fd = open(argv[1], (write_mode ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0 || (write_mode ? write(fd, &c, 1) : read(fd, &c, 1)) < 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  printf("ok\n");
  return 0;
}
