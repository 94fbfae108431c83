#include "lib/broker_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>

#include "lib/broker_request.h"
#include "lib/broker_transport.h"
#include "lib/fsutil.h"

namespace gx::broker {
namespace {

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

}  // namespace

Result<fs::UniqueFd> connect_broker(const std::string& path) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return Decision::deny(DenyReason::Usage, "broker socket path is empty or too long", "broker", path);
  fs::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.ok()) return Decision::deny(DenyReason::IoError, "socket: " + fs::errno_text(errno));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  for (;;) {
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    if (errno == EINTR) continue;
    return Decision::deny(DenyReason::IoError, "cannot connect to the broker at " + path + ": " + fs::errno_text(errno),
                          "broker", path);
  }
}

namespace {

// The write end of the self-pipe the handler below writes signal numbers to.
int g_forward_pipe = -1;

extern "C" void note_forwarded_signal(int sig) {
  const int saved = errno;
  const auto byte = static_cast<unsigned char>(sig);
  ssize_t ignored = write(g_forward_pipe, &byte, 1);
  (void)ignored;
  errno = saved;
}

// Catches the forwarded signals for the lifetime of the object; their
// numbers are read from fd(), one byte each. A self-pipe rather than a
// signalfd: an inner gx run on a nested-run channel runs inside its
// caller's sandbox, whose "default" syscall group has rt_sigaction and
// pipe2 but not signalfd.
class ForwardedSignals {
 public:
  ForwardedSignals() {
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return;
    read_fd_ = p[0];
    write_fd_ = p[1];
    g_forward_pipe = write_fd_;
    struct sigaction sa {};
    sa.sa_handler = note_forwarded_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < std::size(kForwarded); ++i) sigaction(kForwarded[i], &sa, &old_[i]);
  }
  ~ForwardedSignals() {
    if (read_fd_ < 0) return;
    for (size_t i = 0; i < std::size(kForwarded); ++i) sigaction(kForwarded[i], &old_[i], nullptr);
    g_forward_pipe = -1;
    close(read_fd_);
    close(write_fd_);
  }
  ForwardedSignals(const ForwardedSignals&) = delete;
  ForwardedSignals& operator=(const ForwardedSignals&) = delete;
  int fd() const { return read_fd_; }

 private:
  int read_fd_ = -1, write_fd_ = -1;
  struct sigaction old_[std::size(kForwarded)]{};
};

// An Error frame as the Decision it names ("busy" and unknown codes: IoError).
Decision error_decision(const ErrorReply& e, const std::string& socket_path) {
  auto reason = reason_from_code(e.code);
  if (!reason || *reason == DenyReason::None)
    return Decision::deny(DenyReason::IoError, "broker: " + e.code + ": " + e.message, "broker", socket_path);
  return Decision::deny(*reason, "broker: " + e.message, "broker", socket_path);
}

Result<RunResult> converse(int fd, const Request& req, const std::string& socket_path, const ForwardedSignals& signals);

}  // namespace

Result<RunResult> run_on_broker(const std::string& socket_path, fs::UniqueFd conn, Request req) {
  auto r = run_on_connection(conn.get(), req, socket_path);
  // What such a broker answers (decode_request: "unknown flag bits"); a
  // refusal while decoding, before anything ran or was recorded.
  const bool old_broker = !r && r.error().reason == DenyReason::InvalidValue &&
                          r.error().detail.find("unknown flag bits") != std::string::npos;
  if (!old_broker || (req.flags & kFlagNoReport) == 0) return r;
  conn = fs::UniqueFd();  // the old one: closed before the new one is opened
  req.flags &= ~kFlagNoReport;
  auto again = connect_broker(socket_path);
  if (!again) return again.error();
  return run_on_connection(again->get(), req, socket_path);
}

Result<RunResult> run_on_connection(int fd, const Request& req, const std::string& peer_name) {
  ForwardedSignals signals;
  if (signals.fd() < 0) return Decision::deny(DenyReason::IoError, "pipe2: " + fs::errno_text(errno));
  return converse(fd, req, peer_name, signals);
}

namespace {

Result<RunResult> converse(int fd, const Request& req, const std::string& socket_path,
                           const ForwardedSignals& signals) {
  if (Decision d = write_frame(fd, FrameType::Request, encode_request(req), {0, 1, 2}); !d) {
    // A broker that refuses at once (busy, not allowed) may have answered
    // and closed before the request was sent: its answer says why.
    auto early = read_frame(fd, std::chrono::steady_clock::now() + std::chrono::seconds(1), kSmallFrameMaxPayload, 0);
    if (early && early->header.type == FrameType::Error)
      if (auto e = decode_error(early->payload)) return error_decision(*e, socket_path);
    return Decision::deny(DenyReason::IoError, "cannot send the request to the broker: " + d.explain(), "broker",
                          socket_path);
  }
  std::optional<RunResult> result;
  for (;;) {
    pollfd p[2] = {{fd, POLLIN, 0}, {signals.fd(), POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return Decision::deny(DenyReason::IoError, "poll: " + fs::errno_text(errno));
    }
    if (p[1].revents & POLLIN) {
      unsigned char signo = 0;
      while (read(signals.fd(), &signo, 1) == 1) (void)write_frame(fd, FrameType::Signal, encode_signal(signo));
    }
    if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    auto f = read_frame(fd, std::nullopt, kBrokerMaxPayload, 0);
    if (!f) {
      if (is_connection_closed(f.error()))
        return Decision::deny(DenyReason::IoError,
                              result ? "the broker closed the connection before the exit status"
                                     : "the broker closed the connection without an answer (it may have stopped)",
                              "broker", socket_path);
      return Decision::deny(DenyReason::IoError, "bad answer from the broker: " + f.error().explain(), "broker",
                            socket_path);
    }
    switch (f->header.type) {
      case FrameType::Error: {
        auto e = decode_error(f->payload);
        if (!e) return Decision::deny(DenyReason::IoError, "bad error frame from the broker: " + e.error().explain());
        return error_decision(*e, socket_path);
      }
      case FrameType::Report: {
        auto r = decode_report(f->payload);
        if (!r) return Decision::deny(DenyReason::IoError, "bad report from the broker: " + r.error().explain());
        auto j = nlohmann::json::parse(r->json, nullptr, false);
        if (j.is_discarded() || !j.is_object())
          return Decision::deny(DenyReason::IoError, "the broker's report is not a JSON object");
        auto parsed = result_from_json(j);
        if (!parsed)
          return Decision::deny(DenyReason::IoError, "bad report from the broker: " + parsed.error().explain());
        result = parsed.take();
        break;
      }
      case FrameType::Exit: {
        auto status = decode_exit(f->payload);
        if (!status)
          return Decision::deny(DenyReason::IoError, "bad exit frame from the broker: " + status.error().explain());
        if (!result) return Decision::deny(DenyReason::IoError, "the broker sent an exit status without a report");
        result->exit_status = *status;
        return std::move(*result);
      }
      default:
        return Decision::deny(DenyReason::IoError,
                              "unexpected " + std::string(frame_type_name(f->header.type)) + " frame from the broker");
    }
  }
}

}  // namespace

}  // namespace gx::broker
