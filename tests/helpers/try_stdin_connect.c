// try_stdin_connect PATH: connect()s its stdin (an unconnected unix socket
// it was handed) to the named Unix socket PATH and sends "pwned\n" —
// reaching a socket without ever calling socket(AF_UNIX). Prints "ok" or the
// errno name; exits 0 on success, 1 on failure.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof a.sun_path, "%s", argv[1]);
  if (connect(0, (struct sockaddr*)&a, sizeof a) != 0 || write(0, "pwned\n", 6) != 6) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  printf("ok\n");
  return 0;
}
