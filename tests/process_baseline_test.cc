#include "lib/process_baseline.h"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <thread>

using gx::ProcessBaseline;

namespace {

bool have_kcmp() {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const long self = getpid();
  bool yes = syscall(SYS_kcmp, self, self, long{KCMP_FILE}, static_cast<long>(fd), static_cast<long>(fd)) == 0;
  close(fd);
  return yes;
}

// Runs `body` in a fresh child process and returns the string it made
// there (the test process itself is left as it was: differs() reaps
// children, and a test runner may have threads).
std::string in_child(const std::function<std::string()>& body) {
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(out[0]);
    std::string said = body();
    (void)!write(out[1], said.data(), said.size());
    _exit(0);
  }
  close(out[1]);
  std::string got;
  char buf[256];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  return got;
}

// What differs() says after `change` ran between take() and it.
std::string after(const std::function<void()>& change) {
  return in_child([&] {
    auto b = ProcessBaseline::take();
    change();
    return b.differs();
  });
}

}  // namespace

TEST_CASE("a process left as it was taken is the same") {
  CHECK(after([] {}) == "");
  // A descriptor opened and closed again, a child that ended (reaped by
  // differs()), a mask changed and restored: all as before.
  CHECK(after([] {
          close(open("/dev/null", O_RDONLY | O_CLOEXEC));
          pid_t c = fork();
          if (c == 0) _exit(0);
          siginfo_t si{};
          waitid(P_PID, static_cast<id_t>(c), &si, WEXITED | WNOWAIT);  // ended, not yet reaped
          sigset_t s, old;
          sigemptyset(&s);
          sigaddset(&s, SIGUSR1);
          pthread_sigmask(SIG_BLOCK, &s, &old);
          pthread_sigmask(SIG_SETMASK, &old, nullptr);
        }) == "");
}

TEST_CASE("a descriptor left open, even reusing a closed number, differs") {
  CHECK(after([] { (void)open("/dev/null", O_RDONLY | O_CLOEXEC); }).rfind("its open descriptors changed (+", 0) == 0);
  // The same count, another number: still differs, naming both.
  const std::string why = after([] {
    (void)open("/dev/null", O_RDONLY);
    close(0);
  });
  CHECK(why.rfind("its open descriptors changed (+", 0) == 0);
  CHECK(why.find(" -0)") != std::string::npos);
}

TEST_CASE("a descriptor number now naming another file, or the same file opened otherwise, differs") {
  // Each case opens its descriptor before take(), so only the change differs.
  auto changed = [](const std::function<void(int)>& change) {
    return in_child([&] {
      int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      auto b = ProcessBaseline::take();
      change(fd);
      return b.differs() + "|" + std::to_string(fd);
    });
  };
  auto expect = [](const std::string& got) {
    const std::string fd = got.substr(got.find('|') + 1);
    CHECK(got == "its open descriptors changed (~" + fd + ")|" + fd);
  };
  // Another file at the same number (dup2 keeps the number).
  expect(changed([](int fd) {
    int other = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    dup3(other, fd, O_CLOEXEC);
    close(other);
  }));
  // The same file, opened for writing at the same number.
  expect(changed([](int fd) {
    int other = open("/dev/null", O_WRONLY | O_CLOEXEC);
    dup3(other, fd, O_CLOEXEC);
    close(other);
  }));
  // The same description, now inherited across exec.
  expect(changed([](int fd) { fcntl(fd, F_SETFD, 0); }));
  // The same description, now non-blocking.
  expect(changed([](int fd) { fcntl(fd, F_SETFL, O_NONBLOCK); }));
  // The same file opened again with the same flags at the same number:
  // another open file description (kcmp), so it differs too.
  if (!have_kcmp()) {
    WARN("no kcmp(2) on this kernel: open file descriptions are not compared");
    return;
  }
  expect(changed([](int fd) {
    int other = open("/dev/null", O_RDONLY | O_CLOEXEC);
    dup3(other, fd, O_CLOEXEC);
    close(other);
  }));
}

TEST_CASE("the broker is told whether open file descriptions are compared") {
  CHECK(ProcessBaseline::why_descriptions_not_compared().empty() == have_kcmp());
}

TEST_CASE("an anonymous-inode descriptor replaced by another of its kind differs") {
  // eventfds (and epoll, signalfd...) share one inode: only the open file
  // description tells two apart (review helper-54).
  if (!have_kcmp()) {
    WARN("no kcmp(2) on this kernel: skipped");
    return;
  }
  const std::string got = in_child([] {
    int fd = eventfd(0, EFD_CLOEXEC);
    auto b = ProcessBaseline::take();
    int other = eventfd(0, EFD_CLOEXEC);
    dup3(other, fd, O_CLOEXEC);
    close(other);
    return b.differs() + "|" + std::to_string(fd);
  });
  const std::string fd = got.substr(got.find('|') + 1);
  CHECK(got == "its open descriptors changed (~" + fd + ")|" + fd);
}

TEST_CASE("the baseline's own duplicates are not the process's descriptors; closing one differs") {
  CHECK(in_child([] {
          auto b = ProcessBaseline::take();
          return b.differs();
        }) == "");
  if (!have_kcmp()) return;
  // A double close elsewhere that hits a held duplicate fails closed.
  const std::string got = in_child([] {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    auto b = ProcessBaseline::take();
    // The duplicate of fd is the lowest number free after take().
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(probe);
    for (int n = 3; n < probe; ++n)
      if (n != fd && syscall(SYS_kcmp, static_cast<long>(getpid()), static_cast<long>(getpid()), long{KCMP_FILE},
                             static_cast<long>(fd), static_cast<long>(n)) == 0)
        close(n);
    return b.differs();
  });
  CHECK(got.rfind("its open descriptors changed (~", 0) == 0);
}

TEST_CASE("a running child differs; a thread still running differs") {
  CHECK(after([] {
          if (fork() == 0) {
            // Holds no end of the answer's pipe; dies with its parent.
            closefrom(3);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() == 1) _exit(0);
            pause();
            _exit(0);
          }
        }) == "a child process is still running");
  CHECK(after([] { std::thread([] { pause(); }).detach(); }) == "another thread is running");
}

TEST_CASE("a changed signal mask or a lowered resource limit differs") {
  CHECK(after([] {
          sigset_t s;
          sigemptyset(&s);
          sigaddset(&s, SIGUSR2);
          pthread_sigmask(SIG_BLOCK, &s, nullptr);
        }) == "its signal mask changed");
  CHECK(after([] {
          rlimit l{};
          getrlimit(RLIMIT_NOFILE, &l);
          l.rlim_cur = l.rlim_cur > 64 ? 64 : l.rlim_cur - 1;
          setrlimit(RLIMIT_NOFILE, &l);
        }) == "resource limit " + std::to_string(RLIMIT_NOFILE) + " changed");
}

TEST_CASE("a baseline that could not hold every descriptor (EMFILE) always differs") {
  const std::string got = in_child([] {
    // Every number below the limit taken but one: room for the
    // /proc/self/fd listing, then for one duplicate of many.
    int highest = -1;
    for (int fd = 0; fd < 1024; ++fd)
      if (fcntl(fd, F_GETFD) >= 0) highest = fd;
    rlimit l{};
    getrlimit(RLIMIT_NOFILE, &l);
    l.rlim_cur = static_cast<rlim_t>(highest + 2);
    setrlimit(RLIMIT_NOFILE, &l);
    int last = -1;
    for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) last = fd;
    close(last);
    auto b = ProcessBaseline::take();
    return b.differs();
  });
  CHECK(!got.empty());
}

TEST_CASE("a signal ignored or caught since differs; one set and reset does not") {
  CHECK(after([] { signal(SIGXFSZ, SIG_IGN); }).rfind("its signal dispositions changed (", 0) == 0);
  CHECK(after([] { signal(SIGUSR2, [](int) {}); }).rfind("its signal dispositions changed (", 0) == 0);
  // A first thread, started and joined: glibc installs its own handlers
  // (signal 33) then, once; not a difference.
  CHECK(after([] { std::thread([] {}).join(); }) == "");
  CHECK(after([] {
          struct sigaction ign {
          }, old{};
          ign.sa_handler = SIG_IGN;
          sigaction(SIGXCPU, &ign, &old);
          sigaction(SIGXCPU, &old, nullptr);
        }) == "");
}

TEST_CASE("a pending blocked signal differs until discard_pending takes it") {
  // Blocked before take(), raised after: only the pending signal differs.
  const std::string got = in_child([] {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGHUP);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &s, nullptr);
    auto b = ProcessBaseline::take();
    kill(getpid(), SIGHUP);
    kill(getpid(), SIGUSR1);
    std::string first = b.differs();
    static const int kTaken[] = {SIGHUP, SIGUSR1};
    gx::discard_pending(kTaken);
    return first + "|" + b.differs();
  });
  CHECK(got == "a signal is pending|");
}
