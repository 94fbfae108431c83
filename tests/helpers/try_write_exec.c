// try_write_exec SRC DST LOADER MARKER: writes a program of its own (a copy
// of SRC's bytes, read and written by this process, no exec involved) to DST
// with mode 0755, then tries to run it twice: execv(DST, [DST, MARKER]) and
// through the ELF loader, execv(LOADER, [LOADER, DST, MARKER]) — the loader
// maps DST itself, so Landlock's execute right on DST never comes into it.
// Prints the errno name of each attempt ("EPERM EACCES"); if either exec
// succeeds, DST runs and creates MARKER instead.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int try_exec(char* const* argv) {
  pid_t p = fork();
  if (p < 0) return errno;
  if (p == 0) {
    execv(argv[0], argv);
    _exit(100 + (errno & 0x7f));
  }
  int st = 0;
  waitpid(p, &st, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) >= 100) return WEXITSTATUS(st) - 100;
  return 0;  // it ran
}

int main(int argc, char** argv) {
  if (argc < 5) return 2;
  int in = open(argv[1], O_RDONLY | O_CLOEXEC);
  int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
  if (in < 0 || out < 0) {
    printf("write-failed %s\n", strerrorname_np(errno));
    return 1;
  }
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n) return 1;
  close(in);
  close(out);
  char* direct[] = {argv[2], argv[4], NULL};
  char* loaded[] = {argv[3], argv[2], argv[4], NULL};
  int a = try_exec(direct), b = try_exec(loaded);
  printf("%s %s\n", a ? strerrorname_np(a) : "ran", b ? strerrorname_np(b) : "ran");
  return 0;
}
