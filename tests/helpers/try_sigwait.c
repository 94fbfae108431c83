// try_sigwait: blocks SIGINT, prints "ready", waits for SIGINT with
// sigwait(3), prints "got SIGINT" and exits 42 — proof the signal reached it.
#include <signal.h>
#include <stdio.h>

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, NULL);
  printf("ready\n");
  fflush(stdout);
  int sig = 0;
  if (sigwait(&set, &sig) != 0) return 1;
  printf("got %s\n", sig == SIGINT ? "SIGINT" : "other");
  return 42;
}
