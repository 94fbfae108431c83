// try_creds OP...: reports this process's credentials, or tries to regain
// privileges, one line per OP:
//   status        "uid R E S gid R E S groups N caps EFF PRM INH BND AMB nnp X"
//                 (from /proc/self/status; capability sets in hex)
//   setuid0       "setuid0 0|ERRNO"        setuid(0)
//   setresuid0    "setresuid0 0|ERRNO"     setresuid(0, 0, 0)
//   setgid0       "setgid0 0|ERRNO"        setgid(0)
//   capset        "capset 0|ERRNO"         capset: every capability in every set
//   ambient       "ambient 0|ERRNO"        PR_CAP_AMBIENT_RAISE CAP_SETUID
//   securebits    "securebits 0|ERRNO"     PR_SET_SECUREBITS 0 (unlock)
//   write PATH    "write 0|ERRNO"          open(PATH, O_WRONLY|O_CREAT|O_APPEND)
//   exec PATH ARG "exec" then execs PATH ARG (a setuid copy of this program)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char* err_name(int rc) { return rc == 0 ? "0" : strerrorname_np(errno); }

static void field(const char* status, const char* key, char* out, size_t n) {
  const char* p = strstr(status, key);
  out[0] = '\0';
  if (!p) return;
  p += strlen(key);
  while (*p == ' ' || *p == '\t') ++p;
  size_t i = 0;
  while (p[i] && p[i] != '\n' && i + 1 < n) {
    out[i] = p[i] == '\t' ? ' ' : p[i];
    ++i;
  }
  out[i] = '\0';
}

static void status(void) {
  char buf[16384];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  if (n <= 0) {
    printf("status %s\n", strerrorname_np(errno));
    return;
  }
  buf[n] = '\0';
  char uid[128], gid[128], groups[1024], eff[32], prm[32], inh[32], bnd[32], amb[32], nnp[16];
  field(buf, "\nUid:", uid, sizeof uid);
  field(buf, "\nGid:", gid, sizeof gid);
  field(buf, "\nGroups:", groups, sizeof groups);
  field(buf, "\nCapEff:", eff, sizeof eff);
  field(buf, "\nCapPrm:", prm, sizeof prm);
  field(buf, "\nCapInh:", inh, sizeof inh);
  field(buf, "\nCapBnd:", bnd, sizeof bnd);
  field(buf, "\nCapAmb:", amb, sizeof amb);
  field(buf, "\nNoNewPrivs:", nnp, sizeof nnp);
  // Uid/Gid lines hold four ids (real, effective, saved, fs); keep three.
  char* last = strrchr(uid, ' ');
  if (last) *last = '\0';
  last = strrchr(gid, ' ');
  if (last) *last = '\0';
  int ngroups = 0;
  for (char* p = groups; *p; ++p)
    if (*p != ' ' && (p == groups || p[-1] == ' ')) ++ngroups;
  printf("uid %s gid %s groups %d caps %s %s %s %s %s nnp %s\n", uid, gid, ngroups, eff, prm, inh, bnd, amb, nnp);
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* op = argv[i];
    if (!strcmp(op, "status")) {
      status();
    } else if (!strcmp(op, "setuid0")) {
      printf("setuid0 %s\n", err_name((int)syscall(SYS_setuid, 0)));
    } else if (!strcmp(op, "setresuid0")) {
      printf("setresuid0 %s\n", err_name((int)syscall(SYS_setresuid, 0, 0, 0)));
    } else if (!strcmp(op, "setgid0")) {
      printf("setgid0 %s\n", err_name((int)syscall(SYS_setgid, 0)));
    } else if (!strcmp(op, "capset")) {
      struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
      struct __user_cap_data_struct d[2];
      memset(d, 0xff, sizeof d);
      printf("capset %s\n", err_name((int)syscall(SYS_capset, &h, d)));
    } else if (!strcmp(op, "ambient")) {
      printf("ambient %s\n", err_name(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SETUID, 0, 0)));
    } else if (!strcmp(op, "securebits")) {
      printf("securebits %s\n", err_name(prctl(PR_SET_SECUREBITS, 0, 0, 0, 0)));
    } else if (!strcmp(op, "write") && i + 1 < argc) {
      int fd = open(argv[++i], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      printf("write %s\n", fd >= 0 ? "0" : strerrorname_np(errno));
      if (fd >= 0) close(fd);
    } else if (!strcmp(op, "exec") && i + 2 < argc) {
      printf("exec\n");
      fflush(stdout);
      execl(argv[i + 1], argv[i + 1], argv[i + 2], (char*)NULL);
      printf("exec-failed %s\n", strerrorname_np(errno));
      i += 2;
    } else {
      printf("unknown-op %s\n", op);
      return 2;
    }
    fflush(stdout);
  }
  return 0;
}
