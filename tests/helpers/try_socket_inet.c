// try_socket_inet: socket(AF_INET, SOCK_STREAM, 0). Prints "ok" or the errno
// name (EPERM, ...); exits 0 on success, 1 on failure.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  printf("ok\n");
  return 0;
}
