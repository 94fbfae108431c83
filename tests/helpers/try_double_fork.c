// try_double_fork MARKER [DELAY_MS]: the classic daemon escape. Forks a child
// that starts a new session and forks a grandchild, then both parents exit
// at once (exit 0). The grandchild ignores SIGTERM, sleeps DELAY_MS (default
// 2000) and then creates MARKER: if MARKER ever appears, a descendant
// outlived the run.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  long delay = argc > 2 ? atol(argv[2]) : 2000;
  pid_t c = fork();
  if (c < 0) return 1;
  if (c == 0) {
    setsid();
    pid_t g = fork();
    if (g != 0) _exit(g < 0 ? 1 : 0);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) close(fd);
    _exit(0);
  }
  printf("forked\n");
  return 0;
}
