// try_exec PATH [ARGS...]: execv(PATH, [PATH, ARGS...]). On failure prints the
// errno name and exits 1; on success PATH's own output and status follow.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  execv(argv[1], argv + 1);
  printf("%s\n", strerrorname_np(errno));
  return 1;
}
