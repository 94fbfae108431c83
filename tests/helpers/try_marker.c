// try_marker PATH: creates PATH (the proof that this program ran) and prints
// "marker". Exits 0, or 1 (printing the errno name) when PATH cannot be
// created. Used as the "wrong binary" that must never run.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  printf("marker\n");
  fflush(stdout);
  if (argc < 2) return 2;
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  close(fd);
  return 0;
}
