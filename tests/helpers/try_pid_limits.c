// try_pid_limits OP PID: act on another process (or on itself with PID 0).
//   prlimit PID        set RLIMIT_NOFILE soft limit of PID to 7
//   setpriority PID    renice PID (PRIO_PROCESS) to 5
//   setpriority-user - renice every process of this uid (PRIO_USER, 0)
//   affinity PID       pin PID to CPU 0
//   scheduler PID      set PID's policy to SCHED_BATCH
//   ioprio PID         set PID's I/O priority to best-effort level 7
//   migrate PID        migrate_pages(PID) from node 0 to node 0
// Prints "ok" or the errno name; exits 0 on success, 1 on failure, 2 on usage.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(long rc) {
  if (rc == 0) {
    printf("ok\n");
    return 0;
  }
  printf("%s\n", strerrorname_np(errno));
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const char* op = argv[1];
  pid_t pid = (pid_t)atoi(argv[2]);
  if (strcmp(op, "prlimit") == 0) {
    struct rlimit old, lim;
    if (prlimit(pid, RLIMIT_NOFILE, NULL, &old) != 0) return report(-1);
    lim.rlim_cur = 7;
    lim.rlim_max = old.rlim_max;
    return report(prlimit(pid, RLIMIT_NOFILE, &lim, NULL));
  }
  if (strcmp(op, "setpriority") == 0) return report(setpriority(PRIO_PROCESS, (id_t)pid, 5));
  if (strcmp(op, "setpriority-user") == 0) return report(setpriority(PRIO_USER, 0, 5));
  if (strcmp(op, "affinity") == 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    return report(sched_setaffinity(pid, sizeof set, &set));
  }
  if (strcmp(op, "scheduler") == 0) {
    struct sched_param p = {0};
    return report(sched_setscheduler(pid, SCHED_BATCH, &p));
  }
  if (strcmp(op, "ioprio") == 0) return report(syscall(SYS_ioprio_set, 1 /*IOPRIO_WHO_PROCESS*/, pid, (2 << 13) | 7));
  if (strcmp(op, "migrate") == 0) {
    unsigned long mask = 1;
    long rc = syscall(SYS_migrate_pages, pid, 8 * sizeof mask, &mask, &mask);
    return report(rc < 0 ? -1 : 0);
  }
  return 2;
}
