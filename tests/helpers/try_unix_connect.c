// try_unix_connect [--stdin] PATH: connect() to the named Unix socket PATH and
// send "pwned\n". With --stdin it connects its stdin (an unconnected unix
// socket it was handed) instead of calling socket(AF_UNIX). Prints "ok" or
// the errno name; exits 0 on success, 1 on failure.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char** argv) {
  const int use_stdin = argc == 3 && strcmp(argv[1], "--stdin") == 0;
  if (argc != 2 + use_stdin) return 2;
  const char* path = argv[1 + use_stdin];
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  int s = use_stdin ? 0 : socket(AF_UNIX, SOCK_STREAM, 0);
  if (s < 0 || connect(s, (struct sockaddr*)&a, sizeof a) != 0 || write(s, "pwned\n", 6) != 6) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  printf("ok\n");
  return 0;
}
