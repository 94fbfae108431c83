// populate_probe: exits 0 when madvise(MADV_POPULATE_READ) works on this
// kernel (Linux >= 5.14), 1 when it does not (EINVAL): without it, gx's
// prefaulting entry (cmd/prefault_entry.cc) leaves gx as glibc's _start would.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

int main(void) {
  void* p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 2;
  if (madvise(p, 4096, MADV_POPULATE_READ) == 0) return 0;
  printf("%s\n", strerrorname_np(errno));
  return 1;
}
