// Test harness shared by tests/landlock_test.cc and tests/confine_test.cc:
// runs tests/helpers/probe_sandbox.c through confine_and_exec in a forked
// child and collects one result per operation (0 or an errno).
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "lib/confine.h"

namespace gx::test {

inline std::string probe_path() { return std::string(GX_HELPERS_DIR) + "/probe_sandbox"; }

struct ProbeOptions {
  int ruleset_fd = -1;
  uint32_t landlock_flags = 0;
  const sock_fprog* seccomp = nullptr;
  bool new_session = true;
  const char* cwd = nullptr;
  int exec_fd = -1;  // default: probe_sandbox opened read-only
};

struct ProbeRun {
  std::vector<int> results;  // one per op
  std::string out;
  int status = -1;  // waitpid status
  std::optional<ConfineFailure> failure;
};

inline ProbeRun run_probe(const ProbeOptions& o, const std::vector<std::string>& ops) {
  ProbeRun run;
  int exec_fd = o.exec_fd >= 0 ? o.exec_fd : open(probe_path().c_str(), O_RDONLY | O_CLOEXEC);
  if (exec_fd < 0) return run;
  std::vector<std::string> args = {"probe_sandbox"};
  args.insert(args.end(), ops.begin(), ops.end());
  CStringArray argv(args);
  CStringArray envp({"PATH=/usr/bin:/bin"});
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return run;
  ChildPlan plan;
  plan.exec_fd = exec_fd;
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.cwd = o.cwd;
  plan.ruleset_fd = o.ruleset_fd;
  plan.landlock_flags = o.landlock_flags;
  plan.seccomp = o.seccomp;
  plan.new_session = o.new_session;
  plan.parent_pid = getpid();
  plan.error_fd = err[1];
  plan.require_confinement = false;
  pid_t pid = fork();
  if (pid == 0) {
    if (dup2(out[1], 1) < 0) _exit(126);
    confine_and_exec(plan);
  }
  close(out[1]);
  close(err[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;  // e.g. the probe ptrace-attached us
    if (n < 0) break;
    run.out.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  ConfineFailure f{};
  if (read(err[0], &f, sizeof f) == static_cast<ssize_t>(sizeof f)) run.failure = f;
  close(err[0]);
  while (waitpid(pid, &run.status, 0) < 0 && errno == EINTR) {
  }
  if (o.exec_fd < 0) close(exec_fd);
  std::istringstream in(run.out);
  int v;
  while (in >> v) run.results.push_back(v);
  return run;
}

}  // namespace gx::test
