// What the kernel charges on this machine for what a governed run is made of:
// a system call, a page fault, a populated page, a fork, a thread, an exec.
// Ratios against bwrap depend on these (docs/performance.md, sixteenth pass):
// read them before comparing numbers taken on different machines.
//
//   build/bench/host_probe
#include <pthread.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

extern char** environ;

namespace {

double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <typename F>
void measure(const char* what, int n, F&& f) {
  double best = 1e18;
  for (int round = 0; round < 3; ++round) {
    double t0 = now_us();
    f(n);
    best = std::min(best, (now_us() - t0) / n);
  }
  std::printf("%-44s %10.2f us\n", what, best);
}

}  // namespace

int main() {
  const long page = sysconf(_SC_PAGESIZE);
  measure("system call (getppid)", 100000, [](int n) {
    for (int i = 0; i < n; ++i) syscall(SYS_getppid);
  });
  measure("anonymous page, first write (a fault)", 4096, [&](int n) {
    auto* p = static_cast<char*>(
        mmap(nullptr, size_t(n) * size_t(page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    for (int i = 0; i < n; ++i) p[long(i) * page] = 1;
    munmap(p, size_t(n) * size_t(page));
  });
  measure("anonymous page, MADV_POPULATE_WRITE", 4096, [&](int n) {
    void* p = mmap(nullptr, size_t(n) * size_t(page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    madvise(p, size_t(n) * size_t(page), MADV_POPULATE_WRITE);
    munmap(p, size_t(n) * size_t(page));
  });
  measure("thread create + join", 500, [](int n) {
    for (int i = 0; i < n; ++i) {
      pthread_t t;
      pthread_create(
          &t, nullptr, [](void* a) -> void* { return a; }, nullptr);
      pthread_join(t, nullptr);
    }
  });
  measure("fork + _exit + wait", 300, [](int n) {
    for (int i = 0; i < n; ++i) {
      pid_t pid = fork();
      if (pid == 0) _exit(0);
      waitpid(pid, nullptr, 0);
    }
  });
  measure("posix_spawn /bin/true + wait", 200, [](int n) {
    for (int i = 0; i < n; ++i) {
      char arg0[] = "true";
      char* argv[] = {arg0, nullptr};
      pid_t pid = -1;
      if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) == 0) waitpid(pid, nullptr, 0);
    }
  });
  return 0;
}
