// try_listen: socket(AF_INET, SOCK_STREAM) and listen() WITHOUT bind(), which
// autobinds an ephemeral port on 0.0.0.0. Prints "ok PORT" or the errno name.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0 || listen(s, 1) != 0) {
    printf("%s\n", strerrorname_np(errno));
    return 1;
  }
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  getsockname(s, (struct sockaddr*)&a, &len);
  printf("ok %u\n", ntohs(a.sin_port));
  return 0;
}
