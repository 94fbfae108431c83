// count_faults CMD [ARG...]: runs CMD (posix_spawn, stdout and stderr kept),
// waits for it and prints "minflt=N majflt=N status=N" on stderr: the page
// faults CMD's own process took (wait4's rusage; posix_spawn's child shares
// this process's memory until its exec, so that part adds no faults).
// count_faults --populate-works: exits 0 when madvise(MADV_POPULATE_READ) works
// on this kernel (Linux >= 5.14), 1 when it does not.
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

extern char** environ;

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--populate-works") == 0) {
    void* p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p != MAP_FAILED && madvise(p, 4096, MADV_POPULATE_READ) == 0 ? 0 : 1;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: count_faults CMD [ARG...] | --populate-works\n");
    return 2;
  }
  pid_t pid;
  int err = posix_spawn(&pid, argv[1], NULL, NULL, argv + 1, environ);
  if (err != 0) {
    fprintf(stderr, "count_faults: cannot run %s: %s\n", argv[1], strerror(err));
    return 2;
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) != pid) {
    fprintf(stderr, "count_faults: wait4: %s\n", strerror(errno));
    return 2;
  }
  fprintf(stderr, "minflt=%ld majflt=%ld status=%d\n", ru.ru_minflt, ru.ru_majflt, status);
  return 0;
}
