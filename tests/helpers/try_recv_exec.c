// try_recv_exec ARGS...: receives one fd by SCM_RIGHTS on its stdin (a unix
// socket) and execveat()s it with [ARGS...] — running whatever program the
// sender put in it (a memfd: code no Landlock exec rule covers). Prints the
// errno name of the failing step ("recvmsg: EPERM", "no fd") and exits 1;
// on success the received program's own output follows.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  char byte;
  struct iovec iov = {&byte, 1};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  if (recvmsg(0, &msg, 0) < 0) {
    printf("recvmsg: %s\n", strerrorname_np(errno));
    return 1;
  }
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == NULL || c->cmsg_type != SCM_RIGHTS) {
    printf("no fd\n");
    return 1;
  }
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  execveat(fd, "", argv + 1, environ, AT_EMPTY_PATH);
  printf("execveat: %s\n", strerrorname_np(errno));
  return 1;
}
