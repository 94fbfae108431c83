// probe_sandbox OP ARG [OP ARG ...]
//
// Tries each operation in order and prints one line per operation: 0 when it
// succeeded, else the errno it failed with (or a count, see below). Used by
// the Landlock and confinement tests to observe, from inside a confined
// child, what the kernel allowed. Always exits 0 unless an "exec" succeeds,
// in which case the exec'd program's output follows.
//
// Ops: read FILE | list DIR | write FILE | truncate FILE | exec PATH
//      (runs PATH with "true -"; must be last) | connect PORT | bind PORT
//      (127.0.0.1) | abstract NAME (connect to abstract unix socket) |
//      kill-parent - (SIGTERM to getppid()) | fds - (prints the number of
//      open fds other than 0,1,2) | session - (0 if session leader) |
//      sigmask - (number of blocked signals) | uname - | sleep SECONDS |
//      proc-mem PID | proc-environ PID | ptrace PID (attach, then detach) |
//      memfd-exec - (copy own binary to a memfd and execveat it) | true -
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static int ok_or_errno(int rc) { return rc < 0 ? errno : 0; }

static int op_read(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char c;
  int rc = read(fd, &c, 1) < 0 ? errno : 0;
  close(fd);
  return rc;
}

static int op_list(const char* path) {
  DIR* d = opendir(path);
  if (!d) return errno;
  errno = 0;
  while (readdir(d)) {
  }
  int rc = errno;
  closedir(d);
  return rc;
}

static int op_write(const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  int rc = write(fd, "x", 1) == 1 ? 0 : errno;
  close(fd);
  return rc;
}

static int op_inet(const char* port, int do_bind) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)atoi(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ok_or_errno(do_bind ? bind(s, (struct sockaddr*)&a, sizeof a) : connect(s, (struct sockaddr*)&a, sizeof a));
  close(s);
  return rc;
}

static int op_abstract(const char* name) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  size_t n = strlen(name);
  if (n > sizeof a.sun_path - 1) n = sizeof a.sun_path - 1;
  memcpy(a.sun_path + 1, name, n);
  int rc = ok_or_errno(connect(s, (struct sockaddr*)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)));
  close(s);
  return rc;
}

static int op_fds(void) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -errno;
  int count = 0;
  struct dirent* e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd > 2 && fd != dirfd(d)) {
      ++count;
      fprintf(stderr, "probe_sandbox: open fd %d\n", fd);
    }
  }
  closedir(d);
  return count;
}

static int op_proc(const char* pid, const char* file) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/%s", pid, file);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  // /proc/PID/mem at offset 0 is unmapped (EIO): opening is the access check.
  char buf[16];
  int rc = strcmp(file, "mem") != 0 && read(fd, buf, sizeof buf) < 0 ? errno : 0;
  close(fd);
  return rc;
}

static int op_ptrace(const char* pid_text) {
  pid_t pid = (pid_t)atoi(pid_text);
  if (ptrace(PTRACE_ATTACH, pid, 0, 0) != 0) return errno;
  waitpid(pid, NULL, __WALL);
  ptrace(PTRACE_DETACH, pid, 0, 0);
  return 0;
}

// Copies /proc/self/exe into a fresh memfd and executes it ("true -"): can a
// confined child run code that is in no exec path?
static int op_memfd_exec(void) {
  int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (src < 0) return errno;
  int mfd = memfd_create("probe", MFD_CLOEXEC);
  if (mfd < 0) return errno;
  char buf[65536];
  ssize_t n;
  while ((n = read(src, buf, sizeof buf)) > 0)
    if (write(mfd, buf, (size_t)n) != n) return errno;
  if (n < 0) return errno;
  close(src);
  fflush(stdout);
  char* const args[] = {(char*)"probe", (char*)"true", (char*)"-", NULL};
  char* const env[] = {NULL};
  execveat(mfd, "", args, env, AT_EMPTY_PATH);
  return errno;
}

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char* op = argv[i];
    const char* arg = argv[i + 1];
    int r;
    if (!strcmp(op, "read")) r = op_read(arg);
    else if (!strcmp(op, "list")) r = op_list(arg);
    else if (!strcmp(op, "write")) r = op_write(arg);
    else if (!strcmp(op, "truncate")) r = ok_or_errno(truncate(arg, 0));
    else if (!strcmp(op, "connect")) r = op_inet(arg, 0);
    else if (!strcmp(op, "bind")) r = op_inet(arg, 1);
    else if (!strcmp(op, "abstract")) r = op_abstract(arg);
    else if (!strcmp(op, "kill-parent")) r = ok_or_errno(kill(getppid(), SIGTERM));
    else if (!strcmp(op, "fds")) r = op_fds();
    else if (!strcmp(op, "session")) r = getsid(0) == getpid() ? 0 : 1;
    else if (!strcmp(op, "sigmask")) {
      sigset_t set;
      sigprocmask(SIG_BLOCK, NULL, &set);
      r = 0;
      for (int s = 1; s < NSIG; ++s) r += sigismember(&set, s) == 1;
    } else if (!strcmp(op, "uname")) {
      struct utsname u;
      r = ok_or_errno(uname(&u));
    } else if (!strcmp(op, "sleep")) r = (int)sleep((unsigned)atoi(arg));
    else if (!strcmp(op, "proc-mem")) r = op_proc(arg, "mem");
    else if (!strcmp(op, "proc-environ")) r = op_proc(arg, "environ");
    else if (!strcmp(op, "ptrace")) r = op_ptrace(arg);
    else if (!strcmp(op, "exec")) {
      fflush(stdout);
      char* const args[] = {(char*)arg, (char*)"true", (char*)"-", NULL};
      execv(arg, args);
      r = errno;
    } else if (!strcmp(op, "memfd-exec")) r = op_memfd_exec();
    else if (!strcmp(op, "true")) r = 0;
    else {
      fprintf(stderr, "probe_sandbox: unknown op %s\n", op);
      return 2;
    }
    printf("%d\n", r);
  }
  fflush(stdout);
  return 0;
}
