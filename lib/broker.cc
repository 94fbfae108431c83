#include "lib/broker.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>

#include "lib/broker_protocol.h"
#include "lib/decision_json.h"
#include "lib/fsutil.h"
#include "lib/paths.h"
#include "lib/receipt.h"
#include "lib/receipt_log.h"
#include "lib/use_store.h"

namespace gx::broker {
namespace {

// What the client may forward (the same set gx run forwards, supervise.h).
constexpr int kForwardable[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

std::string peer_text(const PeerIdentity& p) {
  return "uid " + std::to_string(p.uid) + " gid " + std::to_string(p.gid) + " pid " + std::to_string(p.pid);
}

Result<PeerIdentity> peer_of(int conn) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return Decision::deny(DenyReason::IoError, "SO_PEERCRED: " + fs::errno_text(errno));
  PeerIdentity p;
  p.pid = cred.pid;
  p.uid = cred.uid;
  p.gid = cred.gid;
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 4; ++attempt) {
    socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(conn, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
      groups.resize(glen / sizeof(gid_t));
      p.groups = groups;
      return p;
    }
    if (errno != ERANGE) return Decision::deny(DenyReason::IoError, "SO_PEERGROUPS: " + fs::errno_text(errno));
    groups.resize(std::max<size_t>(glen / sizeof(gid_t), groups.size() * 2));
  }
  return Decision::deny(DenyReason::IoError, "SO_PEERGROUPS: too many groups");
}

void send_error(int conn, const std::string& code, const std::string& message) {
  (void)write_frame(conn, FrameType::Error, encode_error({code, message}));
}

// The denied receipt of a caller the allow lists refuse.
void record_refusal(const BrokerConfig& c, const PeerIdentity& peer, const Decision& why) {
  if (!ensure_state_dir(c.state_dir)) return;
  ReceiptLogOptions o;
  o.receipt_key = c.receipt_key;
  o.syslog = c.syslog;
  auto log = ReceiptLog::open(c.state_dir, o);
  if (!log) return;
  Receipt r = receipt_for_this_process();
  r.cwd.clear();
  r.brokered = true;
  r.peer_uid = peer.uid;
  r.peer_gid = peer.gid;
  r.peer_pid = peer.pid;
  (void)log->append(make_denied(r, why));
}

// Children of this process's thread `tid` (the one that forks the child).
std::vector<pid_t> children_of_thread(pid_t tid) {
  std::vector<pid_t> out;
  auto text = fs::read_file("/proc/self/task/" + std::to_string(tid) + "/children", 1 << 20);
  if (!text) return out;
  const char* p = text->c_str();
  while (*p) {
    char* end = nullptr;
    long v = std::strtol(p, &end, 10);
    if (end == p) break;
    out.push_back(static_cast<pid_t>(v));
    p = end;
    while (*p == ' ' || *p == '\n') ++p;
  }
  return out;
}

// Reads the client's frames while the request runs: Signal frames become
// signals to this process (blocked in every thread, so supervise_child's
// sigwaitinfo takes them and forwards them to the child); end of stream
// means the client went away: SIGTERM, then SIGKILL to what the main thread
// forked after kDisconnectGraceMs.
class ConnectionWatcher {
 public:
  ConnectionWatcher(int conn, pid_t main_tid, std::function<void(const std::string&)> log)
      : conn_(conn), main_tid_(main_tid), log_(std::move(log)) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);  // the thread inherits "everything blocked"
    thread_ = std::thread([this] { loop(); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  ~ConnectionWatcher() {
    done_ = true;
    shutdown(conn_, SHUT_RD);  // wakes the reader
    if (thread_.joinable()) thread_.join();
  }
  ConnectionWatcher(const ConnectionWatcher&) = delete;
  ConnectionWatcher& operator=(const ConnectionWatcher&) = delete;

 private:
  void loop() {
    for (;;) {
      auto f = read_frame(conn_, std::nullopt, kSmallFrameMaxPayload, 0);
      if (done_) return;
      if (!f) {
        if (!is_connection_closed(f.error()))
          log_("client connection error: " + f.error().explain() + "; treated as a disconnect");
        disconnected();
        return;
      }
      if (f->header.type != FrameType::Signal) {
        log_("unexpected " + std::string(frame_type_name(f->header.type)) + " frame during a run: ignored");
        continue;
      }
      auto sig = decode_signal(f->payload);
      if (!sig) {
        log_("bad signal frame: " + sig.error().explain());
        continue;
      }
      if (std::find(std::begin(kForwardable), std::end(kForwardable), *sig) == std::end(kForwardable)) {
        log_("signal " + std::to_string(*sig) + " is not forwarded (not in the forwarded set)");
        continue;
      }
      kill(getpid(), *sig);
    }
  }

  void disconnected() {
    kill(getpid(), SIGTERM);
    for (int waited = 0; waited < kDisconnectGraceMs; waited += 50) {
      if (done_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (done_) return;
    for (pid_t p : children_of_thread(main_tid_)) kill(p, SIGKILL);
  }

  int conn_;
  pid_t main_tid_;
  std::function<void(const std::string&)> log_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

Decision check_stdio(const std::vector<int>& fds) {
  for (size_t i = 0; i < fds.size(); ++i) {
    struct stat st {};
    if (fstat(fds[i], &st) != 0)
      return Decision::deny(DenyReason::Malformed, "received fd " + std::to_string(i) + " is unusable", "fds");
    if (S_ISDIR(st.st_mode))
      return Decision::deny(DenyReason::InvalidValue, "received fd " + std::to_string(i) + " is a directory", "fds");
  }
  return Decision::allow();
}

}  // namespace

void serve_request(int conn, const RunRequest& base, uint32_t max_request_bytes, int timeout_ms,
                   const std::string& who, const std::function<void(const std::string&)>& log) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto f = read_frame(conn, deadline, max_request_bytes, kRequestFds);
  if (!f) {
    log("request from " + who + " refused: " + f.error().explain());
    send_error(conn, std::string(f.error().code()), f.error().explain());
    return;
  }
  std::vector<int> fds = f->fds;
  auto close_fds = [&] {
    for (int fd : fds) close(fd);
  };
  auto fail = [&](const Decision& d) {
    log("request from " + who + " refused: " + d.explain());
    send_error(conn, std::string(d.code()), d.explain());
    close_fds();
  };
  if (f->header.type != FrameType::Request)
    return fail(Decision::deny(DenyReason::Malformed, "expected a request frame, got " +
                                                          std::string(frame_type_name(f->header.type)),
                               "type"));
  if (fds.size() != kRequestFds)
    return fail(Decision::deny(DenyReason::Malformed,
                               "a request carries exactly 3 file descriptors (stdin, stdout, stderr), got " +
                                   std::to_string(fds.size()),
                               "fds", std::to_string(fds.size())));
  if (Decision d = check_stdio(fds); !d) return fail(d);
  auto req = decode_request(f->payload);
  if (!req) return fail(req.error());

  RunRequest run = base;
  run.artifact_path = req->artifact_name.empty() ? "(sent by the client)" : req->artifact_name;
  run.artifact_bytes = std::move(req->artifact);
  run.argv = std::move(req->argv);
  run.env = std::move(req->env);
  run.cwd = std::move(req->cwd);
  run.dry_run = (req->flags & kFlagDryRun) != 0;
  for (size_t i = 0; i < kRequestFds; ++i) run.stdio[i] = fds[i];

  RunResult result;
  {
    ConnectionWatcher watcher(conn, static_cast<pid_t>(gettid()), log);
    result = run_governed(run);
  }
  close_fds();
  if (!result.decision && !result.not_started)
    log("denied " + who + ": " + std::string(result.decision.code()) + ": " + result.decision.explain());
  if (Decision d = write_frame(conn, FrameType::Report, encode_report({result_to_json(result).dump()})); !d) {
    log("report to " + who + " not sent: " + d.explain());
    return;
  }
  (void)write_frame(conn, FrameType::Exit, encode_exit(std::clamp(result.exit_status, 0, 255)));
}

namespace {

// One connection, in the worker process. Returns the worker's exit status.
int handle_connection(const BrokerConfig& c, int conn, const PeerIdentity& peer, bool allowed,
                      const std::function<void(const std::string&)>& log) {
  // A client that stops reading cannot hold the worker forever: every
  // write (error, report, exit) gives up after the request timeout.
  timeval send_timeout{static_cast<time_t>(c.request_timeout_ms / 1000),
                       static_cast<suseconds_t>((c.request_timeout_ms % 1000) * 1000)};
  setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  if (!allowed) {
    Decision why = Decision::deny(DenyReason::RuntimeIdentity,
                                  "uid " + std::to_string(peer.uid) + " (gid " + std::to_string(peer.gid) + ", pid " +
                                      std::to_string(peer.pid) + ") is not allowed to use this broker",
                                  "broker.allow", std::to_string(peer.uid));
    log("refused " + peer_text(peer) + ": not in allow_users/allow_groups");
    send_error(conn, std::string(why.code()), why.explain());
    record_refusal(c, peer, why);
    return 0;
  }
  RunRequest base;
  base.trust_path = c.trust_path;
  base.revocations_path = c.revocations_path.empty() ? paths::default_revocations(c.trust_path) : c.revocations_path;
  base.state_dir = c.state_dir;
  base.receipt_key = c.receipt_key;
  base.syslog = c.syslog;
  base.peer = peer;
  base.log = log;
  serve_request(conn, base, c.max_request_bytes, c.request_timeout_ms, peer_text(peer), log);
  return 0;
}

// Kills every child of the broker that is not one of its workers: the
// re-parented remains of a worker that died (the broker is the subreaper).
void kill_strays(const std::set<pid_t>& workers) {
  for (pid_t p : children_of_thread(static_cast<pid_t>(gettid())))
    if (!workers.count(p)) kill(p, SIGKILL);
}

}  // namespace

Result<Listener> open_listener(const BrokerConfig& config) {
  Listener l;
  const char* listen_pid = getenv("LISTEN_PID");
  const char* listen_fds = getenv("LISTEN_FDS");
  if (listen_pid != nullptr && listen_fds != nullptr && std::to_string(getpid()) == listen_pid) {
    if (std::string(listen_fds) != "1")
      return Decision::deny(DenyReason::InvalidValue,
                            "socket activation passed LISTEN_FDS=" + std::string(listen_fds) + "; gx broker takes exactly 1",
                            "LISTEN_FDS", listen_fds);
    int fd = 3, type = 0, domain = 0, accepting = 0;
    socklen_t len = sizeof type;
    bool ok = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
    len = sizeof domain;
    ok = ok && getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX;
    len = sizeof accepting;
    ok = ok && getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting == 1;
    if (!ok)
      return Decision::deny(DenyReason::InvalidValue,
                            "socket activation: fd 3 is not a listening AF_UNIX stream socket", "LISTEN_FDS");
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    l.fd = fd;
    l.activated = true;
    return l;
  }
  const std::string& path = config.socket_path;
  if (path.empty() || path[0] != '/')
    return Decision::deny(DenyReason::InvalidValue, "the broker's socket must be an absolute path", "socket", path);
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path)
    return Decision::deny(DenyReason::InvalidValue, "socket path is too long for a Unix socket", "socket", path);
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return Decision::deny(DenyReason::IoError, path + " exists and is " + fs::file_kind(st.st_mode) + ", not a socket",
                            "socket", path);
    if (unlink(path.c_str()) != 0)
      return Decision::deny(DenyReason::IoError, "cannot replace the stale socket " + path + ": " + fs::errno_text(errno),
                            "socket", path);
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Decision::deny(DenyReason::IoError, "socket: " + fs::errno_text(errno));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  // Bind with a umask that leaves the socket unreachable until its mode
  // and group are set.
  mode_t old = umask(0077);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  umask(old);
  auto fail = [&](const std::string& what, int e) {
    close(fd);
    return Decision::deny(DenyReason::IoError, what + " " + path + ": " + fs::errno_text(e), "socket", path);
  };
  if (rc != 0) return fail("cannot bind", err);
  if (!config.socket_group.empty()) {
    group* gr = getgrnam(config.socket_group.c_str());
    if (gr == nullptr) {
      close(fd);
      return Decision::deny(DenyReason::InvalidValue, "socket_group: no group named '" + config.socket_group + "'",
                            "socket_group", config.socket_group);
    }
    if (chown(path.c_str(), static_cast<uid_t>(-1), gr->gr_gid) != 0) return fail("cannot chgrp", errno);
  }
  if (chmod(path.c_str(), config.socket_mode) != 0) return fail("cannot chmod", errno);
  if (listen(fd, 128) != 0) return fail("cannot listen on", errno);
  l.fd = fd;
  l.path = path;
  return l;
}

nlohmann::json result_to_json(const RunResult& r) {
  nlohmann::json j;
  j["decision"] = decision_json(r.decision);
  j["report"] = r.report;
  j["child_ran"] = r.child_ran;
  j["exit_status"] = r.exit_status;
  j["not_started"] = r.not_started;
  j["record_failed"] = r.record_failed;
  j["warnings"] = r.warnings;
  return j;
}

RunResult result_from_json(const nlohmann::json& j) {
  RunResult r;
  auto str = [&](const nlohmann::json& o, const char* k) {
    return o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : std::string();
  };
  auto flag = [&](const char* k) { return j.contains(k) && j[k].is_boolean() && j[k].get<bool>(); };
  const nlohmann::json d = j.contains("decision") && j["decision"].is_object() ? j["decision"] : nlohmann::json::object();
  if (str(d, "decision") != "allow") {
    auto reason = reason_from_code(str(d, "reason"));
    r.decision = Decision::deny(reason && *reason != DenyReason::None ? *reason : DenyReason::IoError,
                                str(d, "detail").empty() ? "the broker gave no reason" : str(d, "detail"),
                                str(d, "field"), str(d, "value"));
  }
  if (j.contains("report")) r.report = j["report"];
  r.child_ran = flag("child_ran");
  r.not_started = flag("not_started");
  r.record_failed = flag("record_failed");
  if (j.contains("exit_status") && j["exit_status"].is_number_integer()) r.exit_status = j["exit_status"].get<int>();
  if (j.contains("warnings") && j["warnings"].is_array())
    for (const auto& w : j["warnings"])
      if (w.is_string()) r.warnings.push_back(w.get<std::string>());
  return r;
}

Decision serve(const BrokerConfig& config, const Listener& listener,
               const std::function<void(const std::string&)>& log) {
  auto allow = resolve_allow_list(config);
  if (!allow) return allow.error();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    return Decision::deny(DenyReason::SandboxUnavailable, "PR_SET_CHILD_SUBREAPER: " + fs::errno_text(errno));
  sigset_t handled;
  sigemptyset(&handled);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&handled, s);
  sigset_t old_mask;
  sigprocmask(SIG_BLOCK, &handled, &old_mask);
  int sfd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return Decision::deny(DenyReason::IoError, "signalfd: " + fs::errno_text(errno));
  signal(SIGPIPE, SIG_IGN);
  fcntl(listener.fd, F_SETFL, fcntl(listener.fd, F_GETFL) | O_NONBLOCK);
  const pid_t broker_pid = getpid();
  const uid_t self = geteuid();
  std::set<pid_t> workers;
  bool stopping = false;
  log("serving on " + (listener.activated ? std::string("the socket systemd passed") : listener.path) +
      " (state " + config.state_dir + ", trust " + config.trust_path + ", at most " +
      std::to_string(config.max_concurrent) + " at once)");
  while (!stopping || !workers.empty()) {
    pollfd p[2] = {{sfd, POLLIN, 0}, {stopping ? -1 : listener.fd, POLLIN, 0}};
    int n = poll(p, 2, 1000);
    if (n < 0 && errno != EINTR) {
      log("poll: " + fs::errno_text(errno));
      break;
    }
    signalfd_siginfo si{};
    while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      int sig = static_cast<int>(si.ssi_signo);
      if (sig == SIGTERM || sig == SIGINT) {
        if (stopping) {
          log("second stop signal: sending SIGTERM to " + std::to_string(workers.size()) + " running request(s)");
          for (pid_t w : workers) kill(w, SIGTERM);
        } else {
          stopping = true;
          log("stopping: no new connections; waiting for " + std::to_string(workers.size()) + " running request(s)");
        }
      }
    }
    for (;;) {
      int status = 0;
      pid_t w = waitpid(-1, &status, WNOHANG);
      if (w <= 0) break;
      if (workers.erase(w) && (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)))
        log("worker " + std::to_string(w) + " ended abnormally (status " + std::to_string(status) + ")");
    }
    kill_strays(workers);
    if (stopping || n <= 0 || !(p[1].revents & POLLIN)) continue;
    for (;;) {
      int conn = accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) break;
      auto peer = peer_of(conn);
      if (!peer) {
        log("connection refused: " + peer.error().explain());
        close(conn);
        continue;
      }
      if (workers.size() >= config.max_concurrent) {
        log("busy: refused " + peer_text(*peer) + " (" + std::to_string(workers.size()) + " requests running)");
        // Never block the accept loop on a client that does not read.
        timeval tv{0, 100000};
        setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        send_error(conn, "busy",
                   "the broker is running its maximum of " + std::to_string(config.max_concurrent) +
                       " requests; try again");
        close(conn);
        continue;
      }
      bool allowed = allow->allows(self, peer->uid, peer->gid, peer->groups);
      pid_t w = fork();
      if (w < 0) {
        log("fork: " + fs::errno_text(errno));
        send_error(conn, "io-error", "the broker cannot start a worker: " + fs::errno_text(errno));
        close(conn);
        continue;
      }
      if (w == 0) {
        // The worker: dies with the broker; its own child dies with it.
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != broker_pid) _exit(1);
        close(sfd);
        close(listener.fd);
        sigset_t mask = old_mask;
        for (int s : kForwardable) sigaddset(&mask, s);
        sigdelset(&mask, SIGCHLD);
        sigprocmask(SIG_SETMASK, &mask, nullptr);
        signal(SIGPIPE, SIG_IGN);
        int rc = handle_connection(config, conn, *peer, allowed, log);
        close(conn);
        _exit(rc);
      }
      workers.insert(w);
      close(conn);
    }
  }
  close(sfd);
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  log("stopped");
  return Decision::allow();
}

}  // namespace gx::broker
