// try_unix_socket: socketpair(AF_UNIX, SOCK_STREAM) and one byte through it.
// Prints "ok" or the errno name; exits 0 on success, 1 on failure.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  int sv[2];
  char c = 0;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || write(sv[0], "x", 1) != 1 || read(sv[1], &c, 1) != 1) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  printf(c == 'x' ? "ok\n" : "garbled\n");
  return c == 'x' ? 0 : 1;
}
