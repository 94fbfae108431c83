#include "lib/nested_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "lib/broker_client.h"
#include "lib/broker_request.h"
#include "lib/broker_transport.h"
#include "lib/fd_passing.h"
#include "lib/fsutil.h"

namespace gx {
namespace {

// The signals a worker forwards to its tool (supervise.h's set).
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

int pidfd_open_sys(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0U)); }

bool is_socket_of(int fd, int type) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  int domain = 0, got = 0;
  socklen_t len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_UNIX) return false;
  len = sizeof got;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &got, &len) == 0 && got == type;
}

void set_send_timeout(int fd, int ms) {
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// One message from the channel: the Connect frame's bytes and the fds that
// came with it (close-on-exec; the caller owns them).
struct ChannelMessage {
  bool retry = false;  // nothing there after all (EAGAIN, EINTR)
  bool end = false;    // every copy of the child's end is closed
  std::string bytes;
  std::vector<int> fds;
  bool truncated = false;
};

// `hangup`: poll saw POLLHUP, which tells the end of the channel from an
// empty message (both read as 0 bytes on a SEQPACKET socket).
Result<ChannelMessage> receive(int channel, bool hangup) {
  ChannelMessage m;
  char buf[64];
  // Up to kMaxPassedFds fds arrive, so that "more than one" can be named;
  // more truncate the control message, which is refused too.
  ReceivedFds r = recv_fds(channel, buf, sizeof buf, MSG_DONTWAIT);
  if (r.bytes == -EAGAIN || r.bytes == -EINTR) {
    m.retry = true;
    return m;
  }
  if (r.bytes < 0) return Decision::deny(DenyReason::IoError, "recvmsg: " + fs::errno_text(static_cast<int>(-r.bytes)));
  m.fds.assign(r.fds, r.fds + r.count);
  m.truncated = r.fds_truncated || r.data_truncated;
  m.end = hangup && r.bytes == 0 && m.fds.empty() && !m.truncated;
  m.bytes.assign(buf, static_cast<size_t>(r.bytes));
  return m;
}

// Why a channel message is not a usable Connect: allow when it is.
Decision check_connect(const ChannelMessage& m) {
  if (m.truncated)
    return Decision::deny(
        DenyReason::Malformed,
        "channel message truncated (too long, or more than " + std::to_string(kMaxPassedFds) + " fds)", "length");
  if (Decision d = broker::decode_connect(m.bytes); !d) return d;
  if (m.fds.size() != 1)
    return Decision::deny(DenyReason::Malformed,
                          "a connect frame carries exactly 1 fd, got " + std::to_string(m.fds.size()), "fds",
                          std::to_string(m.fds.size()));
  if (!is_socket_of(m.fds[0], SOCK_STREAM))
    return Decision::deny(DenyReason::InvalidValue, "the connect frame's fd is not an AF_UNIX stream socket", "fds");
  return Decision::allow();
}

// The worker: one conversation, then _exit.
[[noreturn]] void run_worker(int conn, const RunRequest& base, const std::string& who, const sigset_t& mask) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  sigset_t worker_mask = mask;
  for (int s : kForwarded) sigaddset(&worker_mask, s);
  sigdelset(&worker_mask, SIGCHLD);
  sigprocmask(SIG_SETMASK, &worker_mask, nullptr);
  set_send_timeout(conn, kNestedRequestTimeoutMs);
  auto log = base.log ? base.log : [](const std::string&) {};
  broker::serve_request(conn, base, broker::kBrokerMaxPayload, kNestedRequestTimeoutMs, who, log);
  _exit(0);
}

// The server process's loop (see the header). Never returns.
[[noreturn]] void serve_channel(int channel, const RunRequest& base, const std::string& who, pid_t supervisor) {
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != supervisor) _exit(1);
  // Its own session: a terminal's ^C reaches the supervisor, which forwards
  // it to the owning child — not the nested runs a second time.
  setsid();
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  auto log = base.log ? base.log : [](const std::string&) {};
  sigset_t handled, old;
  sigemptyset(&handled);
  for (int s : kForwarded) sigaddset(&handled, s);
  sigaddset(&handled, SIGCHLD);
  sigprocmask(SIG_BLOCK, &handled, &old);
  sigset_t original = old;
  for (int s : kForwarded) sigdelset(&original, s);
  sigdelset(&original, SIGCHLD);
  int sfd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    log("nested-run channel of " + who + ": signalfd: " + fs::errno_text(errno) + "; not serving");
    _exit(1);
  }
  signal(SIGPIPE, SIG_IGN);
  std::set<pid_t> workers;
  bool stopping = false, open = true;
  uint64_t dropped = 0;
  while (open || !workers.empty()) {
    pollfd p[2] = {{sfd, POLLIN, 0}, {open ? channel : -1, POLLIN, 0}};
    if (poll(p, 2, -1) < 0 && errno != EINTR) break;
    signalfd_siginfo si{};
    while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      if (si.ssi_signo == SIGTERM && !stopping) {
        stopping = true;
        open = false;
        for (pid_t w : workers) kill(w, SIGTERM);
      }
    }
    for (;;) {
      pid_t w = waitpid(-1, nullptr, WNOHANG);
      if (w <= 0) break;
      workers.erase(w);
    }
    if (!open || !(p[1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    auto m = receive(channel, (p[1].revents & POLLHUP) != 0);
    if (m && m->retry) continue;
    if (!m) {
      log("nested-run channel of " + who + ": " + m.error().explain() + "; closed");
      open = false;
      continue;
    }
    if (m->end) {
      open = false;
      continue;
    }
    fs::UniqueFd conn;
    if (Decision d = check_connect(*m); !d) {
      for (int fd : m->fds) close(fd);
      ++dropped;
      log("nested-run channel of " + who + ": message refused (" + std::to_string(dropped) +
          " so far): " + d.explain());
      continue;
    }
    conn = fs::UniqueFd(m->fds[0]);
    if (workers.size() >= kMaxNestedConcurrent) {
      set_send_timeout(conn.get(), 100);
      std::string text = "the supervisor is running its maximum of " + std::to_string(kMaxNestedConcurrent) +
                         " nested runs for this channel; try again";
      (void)broker::write_frame(conn.get(), broker::FrameType::Error, broker::encode_error({"busy", text}));
      log("nested-run channel of " + who + ": busy: refused a request (" + std::to_string(workers.size()) +
          " running)");
      continue;
    }
    pid_t w = fork();
    if (w < 0) {
      log("nested-run channel of " + who + ": fork: " + fs::errno_text(errno));
      continue;
    }
    if (w == 0) {
      close(sfd);
      close(channel);
      run_worker(conn.release(), base, who, original);
    }
    workers.insert(w);
  }
  _exit(0);
}

}  // namespace

Result<ChannelServer> ChannelServer::create() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return Decision::deny(DenyReason::IoError, "socketpair for the nested-run channel: " + fs::errno_text(errno));
  ChannelServer c;
  c.server_end_ = fs::UniqueFd(sv[0]);
  c.child_end_ = fs::UniqueFd(sv[1]);
  return c;
}

ChannelServer::ChannelServer(ChannelServer&& o) noexcept
    : server_end_(std::move(o.server_end_)),
      child_end_(std::move(o.child_end_)),
      pidfd_(std::move(o.pidfd_)),
      pid_(o.pid_) {
  o.pid_ = -1;
}

ChannelServer::~ChannelServer() {
  if (pid_ > 0) (void)stop(0);
}

std::string ChannelServer::env_entry() const { return std::string(kChannelEnv) + "=" + std::to_string(child_end()); }

Decision ChannelServer::start(const RunRequest& base, const std::string& who) {
  child_end_ = fs::UniqueFd();  // only the child (and what it starts) holds it now
  const pid_t supervisor = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    server_end_ = fs::UniqueFd();  // the child's requests then fail at once instead of waiting
    return Decision::deny(DenyReason::IoError, "fork of the nested-run channel server: " + fs::errno_text(err));
  }
  if (pid == 0) serve_channel(server_end_.get(), base, who, supervisor);
  pid_ = pid;
  pidfd_ = fs::UniqueFd(pidfd_open_sys(pid));
  server_end_ = fs::UniqueFd();
  return Decision::allow();
}

std::vector<std::string> ChannelServer::stop(int grace_ms) {
  std::vector<std::string> notes;
  if (pid_ <= 0) return notes;
  // The pidfd makes signalling safe even if the server was already reaped
  // by supervise_child's orphan reaping (its pid may be reused by then).
  auto signal_server = [&](int sig) {
    if (pidfd_.ok()) syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0U);
  };
  auto ended = [&](int wait_ms) {
    if (!pidfd_.ok()) return true;
    pollfd p{pidfd_.get(), POLLIN, 0};
    return poll(&p, 1, wait_ms) > 0;
  };
  signal_server(SIGTERM);
  if (!ended(grace_ms)) {
    signal_server(SIGKILL);
    notes.push_back("the nested-run channel's server did not stop within " + std::to_string(grace_ms) +
                    " ms: killed, with the nested runs it still had");
    (void)ended(1000);
  }
  siginfo_t si{};
  if (pidfd_.ok()) waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &si, WEXITED | WNOHANG);
  pid_ = -1;
  pidfd_ = fs::UniqueFd();
  return notes;
}

Result<RunResult> run_over_channel(std::string_view channel_var, const broker::Request& req) {
  auto refuse = [&](const std::string& why) {
    return Decision::deny(DenyReason::LineageInconsistency,
                          std::string(kChannelEnv) + " does not name a usable nested-run channel: " + why,
                          std::string(kChannelEnv), std::string(channel_var));
  };
  int fd = -1;
  auto [end, ec] = std::from_chars(channel_var.data(), channel_var.data() + channel_var.size(), fd);
  if (ec != std::errc() || end != channel_var.data() + channel_var.size() || fd < 3)
    return refuse("not a file descriptor number above 2");
  if (!is_socket_of(fd, SOCK_SEQPACKET))
    return refuse("fd " + std::to_string(fd) + " is not an AF_UNIX seqpacket socket");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Decision::deny(DenyReason::IoError, "socketpair: " + fs::errno_text(errno));
  fs::UniqueFd mine(sv[0]), theirs(sv[1]);
  const std::string header = broker::encode_header(broker::FrameType::Connect, 0);
  const int passed = theirs.get();
  if (ssize_t n = send_fds(fd, header.data(), header.size(), &passed, 1); n < 0)
    return refuse("sending on it failed (" + fs::errno_text(static_cast<int>(-n)) + "): no supervisor is serving it");
  theirs = fs::UniqueFd();
  return broker::run_on_connection(mine.get(), req, "the nested-run channel");
}

namespace {

// -1 unknown, else the value of "Name:\t<n>" in /proc/self/status.
int status_field(const std::string& status, std::string_view name) {
  auto value = fs::proc_status_field(status, name);
  int v = -1;
  if (value) std::from_chars(value->data(), value->data() + value->size(), v);
  return v;
}

}  // namespace

Decision check_not_sandboxed() {
  // Unreadable: every field unknown, asked of prctl below.
  auto read = fs::read_file("/proc/self/status", 1u << 20);
  const std::string status = read ? read.take() : std::string();
  int nnp = status_field(status, "NoNewPrivs");
  int seccomp = status_field(status, "Seccomp");
  if (nnp < 0) nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (seccomp < 0) seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
  // prctl fails (-1) when a filter forbids it: unknown counts as confined.
  const bool confined = (nnp != 0 && seccomp != 0) || nnp < 0 || seccomp < 0;
  if (!confined) return Decision::allow();
  return Decision::deny(DenyReason::LineageInconsistency,
                        "gx run inside a sandbox (no_new_privs " + std::to_string(nnp) + ", seccomp mode " +
                            std::to_string(seccomp) +
                            ") without a nested-run channel: only the supervising gx can run it, and only when "
                            "the enclosing artifact allows nested runs ([delegation] nested_runs)",
                        std::string(kChannelEnv), "");
}

}  // namespace gx
