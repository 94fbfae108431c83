// try_ptrace: ptrace(PTRACE_ATTACH, getppid()) — the governed child trying to
// attach to gx. Prints "ok" (and detaches) or the errno name; exits 0 on
// success, 1 on failure. Under a seccomp kill action it dies of SIGSYS.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  pid_t parent = getppid();
  if (ptrace(PTRACE_ATTACH, parent, 0, 0) != 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  waitpid(parent, NULL, __WALL);
  ptrace(PTRACE_DETACH, parent, 0, 0);
  printf("ok\n");
  return 0;
}
