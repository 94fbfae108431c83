// The nested-run channel (lib/nested_channel.h): the client's refusals, the
// sandbox probe, and a served channel end to end in this process (requests
// answered by a worker's run_governed, garbage dropped, a flood refused busy).
#include "lib/nested_channel.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "lib/broker_request.h"
#include "lib/broker_transport.h"
#include "lib/fd_passing.h"
#include "tests/test_util.h"

using namespace gx;

namespace {

broker::Request some_request() {
  broker::Request r;
  r.artifact = "not an artifact\n";
  r.artifact_name = "tool.toml";
  r.argv = {"/bin/true"};
  r.cwd = "/";
  return r;
}

// What /proc/self/status says, independently of the code under test.
bool status_says_sandboxed() {
  std::ifstream f("/proc/self/status");
  std::string line;
  int nnp = 0, seccomp = 0;
  while (std::getline(f, line)) {
    if (line.rfind("NoNewPrivs:", 0) == 0) nnp = std::stoi(line.substr(11));
    if (line.rfind("Seccomp:", 0) == 0) seccomp = std::stoi(line.substr(8));
  }
  return nnp != 0 && seccomp != 0;
}

}  // namespace

TEST_CASE("a GX_CHANNEL that names no usable channel is refused, never ignored") {
  auto refused = [](const std::string& value) {
    auto r = run_over_channel(value, some_request());
    REQUIRE_FALSE(r.ok());
    INFO(r.error().explain());
    CHECK(r.error().reason == DenyReason::LineageInconsistency);
    CHECK(r.error().field == "GX_CHANNEL");
    CHECK(r.error().value == value);
    return r.error().detail;
  };
  CHECK(refused("three").find("not a file descriptor number") != std::string::npos);
  CHECK(refused("1").find("not a file descriptor number above 2") != std::string::npos);
  CHECK(refused("").find("not a file descriptor number") != std::string::npos);
  CHECK(refused("999999").find("is not an AF_UNIX seqpacket socket") != std::string::npos);
  int p[2];
  REQUIRE(pipe(p) == 0);
  CHECK(refused(std::to_string(p[0])).find("is not an AF_UNIX seqpacket socket") != std::string::npos);
  close(p[0]);
  close(p[1]);
  int s[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
  CHECK(refused(std::to_string(s[0])).find("is not an AF_UNIX seqpacket socket") != std::string::npos);
  close(s[0]);
  close(s[1]);
  // A seqpacket pair nobody serves: the agent's own fake.
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s) == 0);
  close(s[1]);
  CHECK(refused(std::to_string(s[0])).find("no supervisor is serving it") != std::string::npos);
  close(s[0]);
}

TEST_CASE("check_not_sandboxed: no_new_privs plus a seccomp filter is a sandbox") {
  CHECK(check_not_sandboxed().allowed() == !status_says_sandboxed());
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // As gx's sandbox leaves it: no_new_privs, then a filter (allow everything).
    sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    sock_fprog prog{1, allow};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(10);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(11);
    Decision d = check_not_sandboxed();
    if (d.allowed()) _exit(1);
    if (d.reason != DenyReason::LineageInconsistency || d.field != "GX_CHANNEL") _exit(2);
    if (d.detail.find("without a nested-run channel") == std::string::npos) _exit(3);
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a served channel: requests answered by the supervisor, garbage dropped, a flood refused busy") {
  test::TempDir dir("nested");
  auto server = ChannelServer::create();
  REQUIRE(server.ok());
  CHECK(server->env_entry() == "GX_CHANNEL=" + std::to_string(server->child_end()));
  CHECK((fcntl(server->child_end(), F_GETFD) & FD_CLOEXEC) != 0);  // only the child's copy survives exec
  // Play the child: keep a copy of its end before start() closes the supervisor's.
  fs::UniqueFd child(dup(server->child_end()));
  REQUIRE(child.ok());
  RunRequest base;
  base.trust_path = dir.path + "/no-trust.toml";  // every request is denied: no trust store
  base.revocations_path = dir.path + "/no-revocations.toml";
  base.state_dir = dir.path + "/state";
  base.parent_digest = "sha256:" + std::string(64, 'a');
  base.parent_receipt = std::string(32, 'b');
  std::string log_path = dir.path + "/log";
  base.log = [log_path](const std::string& line) { std::ofstream(log_path, std::ios::app) << line << "\n"; };
  REQUIRE(server->start(base, "test run").allowed());

  // Garbage first: dropped, logged, and the channel still answers.
  REQUIRE(send(child.get(), "garbage", 7, 0) == 7);
  auto r = run_over_channel(std::to_string(child.get()), some_request());
  REQUIRE(r.ok());
  INFO(r->decision.explain());
  CHECK_FALSE(r->decision.allowed());  // the supervisor's own trust store decides: there is none
  CHECK(r->decision.detail.find("no-trust.toml") != std::string::npos);
  CHECK_FALSE(r->child_ran);
  // That conversation's worker counts as running until the server reaps it,
  // which may come after its answer (it yields to the client once it has
  // answered): wait until the server has no worker left.
  auto server_workers = [] {
    size_t n = 0;
    for (pid_t server_pid : broker::children_of_thread(static_cast<pid_t>(gettid()))) {
      // Another process's children: /proc/<pid>/task/<pid>/children.
      std::ifstream in("/proc/" + std::to_string(server_pid) + "/task/" + std::to_string(server_pid) + "/children");
      for (pid_t worker = 0; in >> worker;) ++n;
    }
    return n;
  };
  for (int waited = 0; server_workers() > 0 && waited < 5000; waited += 10) usleep(10'000);
  REQUIRE(server_workers() == 0);

  // A flood: 6 conversations held open without a request; 4 run, 2 are busy.
  const std::string connect = broker::encode_header(broker::FrameType::Connect, 0);
  std::vector<fs::UniqueFd> held;
  for (int i = 0; i < 6; ++i) {
    int s[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == 0);
    held.emplace_back(s[0]);
    fs::UniqueFd theirs(s[1]);
    const int fd = theirs.get();
    REQUIRE(send_fds(child.get(), connect.data(), connect.size(), &fd, 1) == static_cast<ssize_t>(connect.size()));
  }
  int busy = 0;
  for (auto& h : held) {
    auto f = broker::read_frame(h.get(), std::chrono::steady_clock::now() + std::chrono::milliseconds(1500),
                                broker::kSmallFrameMaxPayload, 0);
    if (f && f->header.type == broker::FrameType::Error && broker::decode_error(f->payload)->code == "busy") ++busy;
  }
  CHECK(busy == 2);
  held.clear();  // the workers see the conversations end

  child = fs::UniqueFd();  // the child's end closed: the server finishes by itself
  CHECK(server->stop(5000).empty());
  std::ifstream in(log_path);
  std::stringstream text;
  text << in.rdbuf();
  INFO(text.str());
  CHECK(text.str().find("message refused (1 so far)") != std::string::npos);
  CHECK(text.str().find("busy: refused a request") != std::string::npos);
  CHECK(text.str().find("denied test run") != std::string::npos);
}
