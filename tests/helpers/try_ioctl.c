// try_ioctl REQUEST TARGET: one ioctl a sandboxed child must not get.
//   FIFREEZE PATH           freeze the file system of PATH (thawed at once on success)
//   FS_IOC_SETFLAGS PATH    set the immutable flag on PATH (opened read-only)
//   FS_IOC_SETFSLABEL PATH  relabel the file system of PATH to "gxpwned"
//   SIOCSIFFLAGS IFNAME     bring IFNAME up, through a socketpair (AF_UNIX) socket
//   SIOCSIFMTU IFNAME       set IFNAME's MTU to 1280
//   SIOCSIFNAME IFNAME      rename IFNAME to "gxpwned0"
//   TIOCSCTTY -             make stdin the controlling terminal (force, as root would)
//   TCGETS -                control: tcgetattr on stdin (ENOTTY when not a tty)
// Prints "ok" or the errno name; exits 0 on success, 1 on failure, 2 on usage.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

static int report(int rc) {
  if (rc == 0) {
    printf("ok\n");
    return 0;
  }
  printf("%s\n", strerrorname_np(errno));
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const char* req = argv[1];
  const char* target = argv[2];
  if (strcmp(req, "FIFREEZE") == 0 || strcmp(req, "FS_IOC_SETFLAGS") == 0 || strcmp(req, "FS_IOC_SETFSLABEL") == 0) {
    int fd = open(target, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return report(-1);
    if (strcmp(req, "FIFREEZE") == 0) {
      int rc = ioctl(fd, FIFREEZE, 0);
      if (rc == 0) ioctl(fd, FITHAW, 0);
      return report(rc);
    }
    if (strcmp(req, "FS_IOC_SETFLAGS") == 0) {
      int flags = 0;
      if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) flags = 0;  // the query may be denied too
      flags |= FS_IMMUTABLE_FL;
      return report(ioctl(fd, FS_IOC_SETFLAGS, &flags));
    }
    char label[FSLABEL_MAX] = "gxpwned";
    return report(ioctl(fd, FS_IOC_SETFSLABEL, label));
  }
  if (strncmp(req, "SIOCSIF", 7) == 0) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return report(-1);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", target);
    if (strcmp(req, "SIOCSIFFLAGS") == 0) {
      ifr.ifr_flags = IFF_UP;
      return report(ioctl(sv[0], SIOCSIFFLAGS, &ifr));
    }
    if (strcmp(req, "SIOCSIFMTU") == 0) {
      ifr.ifr_mtu = 1280;
      return report(ioctl(sv[0], SIOCSIFMTU, &ifr));
    }
    if (strcmp(req, "SIOCSIFNAME") == 0) {
      snprintf(ifr.ifr_newname, sizeof ifr.ifr_newname, "gxpwned0");
      return report(ioctl(sv[0], SIOCSIFNAME, &ifr));
    }
    return 2;
  }
  if (strcmp(req, "TIOCSCTTY") == 0) return report(ioctl(0, TIOCSCTTY, 1));
  if (strcmp(req, "TCGETS") == 0) {
    struct termios t;
    return report(tcgetattr(0, &t));
  }
  return 2;
}
