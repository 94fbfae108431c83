// try_list_fds: prints the open fds of this process, one per line, from
// /proc/self/fd (the directory's own fd excluded), sorted numerically.
// On failure prints the errno name and exits 1.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void* a, const void* b) { return *(const int*)a - *(const int*)b; }

int main(void) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  int fds[4096];
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL && n < 4096) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd != dirfd(d)) fds[n++] = fd;
  }
  closedir(d);
  qsort(fds, (size_t)n, sizeof fds[0], cmp);
  for (int i = 0; i < n; ++i) printf("%d\n", fds[i]);
  return 0;
}
