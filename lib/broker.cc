#include "lib/broker.h"

#include <alloca.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>

#include "lib/broker_peer.h"
#include "lib/broker_protocol.h"
#include "lib/broker_state.h"
#include "lib/broker_transport.h"
#include "lib/clock.h"
#include "lib/confine_spawn.h"
#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/process_baseline.h"
#include "lib/receipt.h"
#include "lib/receipt_log.h"
#include "lib/use_store.h"
#include "lib/user_db.h"

namespace gx::broker {
namespace {

// Connections taken per turn of the accept loop before it reads its signals
// and reaps again.
constexpr int kAcceptsPerRound = 32;

// Running workers: pid -> the principal (AllowList::principal) it serves.
using Workers = std::map<pid_t, uid_t>;

// A spare serves at most this many requests, one after another (lib/broker.h,
// "Reuse"), then exits and the broker forks a fresh one.
constexpr int kRequestsPerWorker = 256;

// At most one event per principal and second: the broker's signed refusals
// and its "busy" log lines, which a flood must not grow at the rate it
// connects. Entries older than a second are dropped once there are many,
// never all at once (that would let a flood of new names reset the limit).
class PerSecond {
 public:
  // Due: the number of events left out since the last due one (the caller
  // records this one). Not due: nullopt, and this one is counted.
  std::optional<uint64_t> take(uid_t who, std::chrono::steady_clock::time_point now) {
    auto [e, fresh] = last_.try_emplace(who);
    if (!fresh && now - e->second.at < std::chrono::seconds(1)) {
      ++e->second.left_out;
      return std::nullopt;
    }
    const uint64_t left_out = e->second.left_out;
    e->second = {now, 0};
    if (last_.size() > 4096)
      std::erase_if(last_, [&](const auto& x) { return now - x.second.at >= std::chrono::seconds(1); });
    return left_out;
  }

 private:
  struct Entry {
    std::chrono::steady_clock::time_point at;
    uint64_t left_out = 0;
  };
  std::map<uid_t, Entry> last_;
};

// An Error frame from the accept loop, then closed: never blocks the loop on
// a client that does not read.
void answer_and_close(int conn, const std::string& code, const std::string& message) {
  timeval tv{0, 100000};
  setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  send_error(conn, code, message);
  close(conn);
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

// One connection, in the worker process. Returns the worker's exit status.
// Every request, dry runs included, reads through the worker's kept state:
// one that opened SQLite connections of its own would leave descriptors
// behind (SQLite keeps them while the kept connection holds its locks), and
// the worker could not be reused.
int handle_connection(const BrokerConfig& c, int conn, const PeerIdentity& peer, bool allowed, WorkerState& state,
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
  base.revocations_path = revocations_of(c);
  base.state_dir = c.state_dir;
  base.receipt_key = c.receipt_key;
  base.syslog = c.syslog;
  base.also_protected = broker_own_paths(c);
  base.peer = peer;
  base.log = log;
  // Asked again when the run is reported: a caller reaped meanwhile leaves
  // its pid free for another process (review helper-43).
  const PeerPin pin = PeerPin::take(conn, peer.pid);
  // The worker's open state, brought up to date. When a piece cannot be
  // loaded the pipeline loads everything itself and denies exactly as a
  // standalone run would, with its receipt.
  auto kept_state = [&](RunRequest& run) { state.hand_to(run, now_unix()); };
  auto peer_report = [&](RunResult& result) {
    result.report.peer = PeerReport{peer.uid, peer.gid, peer.pid, pin.holds(), static_cast<int64_t>(pin.inode())};
  };
  // The kept ruleset's check, on another CPU from the moment the request
  // is in (lib/ruleset_cache.h, RulesetPrecheck).
  auto start_precheck = [&](RunRequest& run) { run.ruleset_precheck = RulesetPrecheck::start(state.rulesets()); };
  serve_request(conn, base, c.max_request_bytes, c.request_timeout_ms, peer_text(peer), log, kept_state, peer_report,
                start_precheck);
  return 0;
}

// Kills every child of the broker that is not one of its workers (or the
// spare): the re-parented remains of a worker that died (the broker is the
// subreaper).
void kill_strays(const Workers& workers, pid_t spare) {
  for (pid_t p : children_of_thread(static_cast<pid_t>(gettid())))
    if (!workers.count(p) && p != spare) kill(p, SIGKILL);
}

// The worker side of one connection: the peer as the kernel reports it to
// this process, the allow lists, then the request.
int serve_connection(const BrokerConfig& config, const AllowList& allow, uid_t self, int conn, WorkerState& state,
                     const std::function<void(const std::string&)>& log) {
  auto peer = peer_of(conn);
  if (!peer) {
    log("connection refused: " + peer.error().explain());
    return 0;
  }
  bool allowed = allow.allows(self, peer->uid, peer->gid, peer->groups);
  return handle_connection(config, conn, *peer, allowed, state, log);
}

}  // namespace

Result<Listener> open_listener(const BrokerConfig& config) {
  Listener l;
  const char* listen_pid = getenv("LISTEN_PID");
  const char* listen_fds = getenv("LISTEN_FDS");
  if (listen_pid != nullptr && listen_fds != nullptr && std::to_string(getpid()) == listen_pid) {
    if (std::string(listen_fds) != "1")
      return Decision::deny(
          DenyReason::InvalidValue,
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
      return Decision::deny(DenyReason::IoError,
                            path + " exists and is " + fs::file_kind(st.st_mode) + ", not a socket", "socket", path);
    if (unlink(path.c_str()) != 0)
      return Decision::deny(DenyReason::IoError,
                            "cannot replace the stale socket " + path + ": " + fs::errno_text(errno), "socket", path);
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
    auto gid = userdb::group_by_name(config.socket_group);
    if (!gid || !*gid) {
      close(fd);
      return Decision::deny(
          gid ? DenyReason::InvalidValue : gid.error().reason,
          gid ? "socket_group: no group named '" + config.socket_group + "'" : "socket_group: " + gid.error().explain(),
          "socket_group", config.socket_group);
    }
    if (chown(path.c_str(), static_cast<uid_t>(-1), **gid) != 0) return fail("cannot chgrp", errno);
  }
  if (chmod(path.c_str(), config.socket_mode) != 0) return fail("cannot chmod", errno);
  if (listen(fd, 128) != 0) return fail("cannot listen on", errno);
  l.fd = fd;
  l.path = path;
  return l;
}

namespace {

// The next worker, forked before its connection arrives: it has opened the
// broker's state (WorkerState) and waits on `handoff` for the connection.
struct Spare {
  pid_t pid = -1;
  fs::UniqueFd handoff;
  // The acknowledgement: an eventfd the spare adds 1 to once it has the
  // connection. Not a byte on `handoff`: a socket wakes its reader with the
  // hint that the writer is about to sleep, so this loop was queued on the
  // new worker's CPU and preempted it (~55 us of its request) while the
  // other CPU idled; an eventfd wakes it where it may run at once.
  fs::UniqueFd taken;
};

// Touches, while the spare waits, the memory its request will write. The
// spare is a fork of the broker, so every page the request first writes is a
// page fault on its path: ~59 a request, at 10-15 us each on a PVM guest
// (docs/performance.md, seventeenth pass). Touched here: the top of the
// main heap (kept: no trim from now on), the main stack, and the stacks and
// malloc arenas of the request's three threads (connection watcher, exec
// guard, spawn handshake), which glibc keeps for the next threads created.
// One step at a time, none once a connection waits on `handoff`: a caller
// that comes early is served at once. Best effort: nothing here can fail
// the spare.
void warm_for_request(int handoff) {
  constexpr size_t kHeap = 96 * 1024, kStack = 64 * 1024, kThreadStack = 16 * 1024, kArena = 8 * 1024;
  constexpr int kThreads = 3;
  auto waiting = [handoff] {
    pollfd p{handoff, POLLIN, 0};
    return poll(&p, 1, 0) != 0;
  };
  if (waiting()) return;
  mallopt(M_TRIM_THRESHOLD, 4 << 20);
  if (char* heap = static_cast<char*>(malloc(kHeap))) {
    explicit_bzero(heap, kHeap);
    free(heap);
  }
  if (waiting()) return;
  std::thread threads[kThreads];
  for (auto& t : threads) {
    try {
      t = std::thread([] {
        explicit_bzero(alloca(kThreadStack), kThreadStack);
        if (char* p = static_cast<char*>(malloc(kArena))) {
          explicit_bzero(p, kArena);
          free(p);
        }
      });
    } catch (const std::system_error&) {
      break;  // no thread (EAGAIN): the request creates its own
    }
  }
  // Every started thread is joined, also after a failed start (a joinable
  // std::thread destroyed would terminate the spare).
  for (auto& t : threads)
    if (t.joinable()) t.join();
  if (waiting()) return;
  explicit_bzero(alloca(kStack), kStack);
}

// Hands `conn` to the spare and waits for its acknowledgement. kill(2)
// returns before its target is gone, so a spare that was just killed can
// still accept the frame and then die with the connection unread: without
// the acknowledgement the caller saw its connection reset
// (tests/cli/broker.sh). False: the spare is killed and never touched
// `conn`, which the caller still holds and serves with a new worker.
bool spare_took(const Spare& spare, int conn) {
  if (!write_frame(spare.handoff.get(), FrameType::Request, "", {conn})) {
    kill(spare.pid, SIGKILL);
    return false;
  }
  // The acknowledgement, or the spare's end of `handoff` closing (its exit).
  pollfd p[2] = {{spare.taken.get(), POLLIN, 0}, {spare.handoff.get(), POLLIN, 0}};
  uint64_t acks = 0;
  if (poll(p, 2, 2000) > 0 && read(spare.taken.get(), &acks, sizeof acks) == sizeof acks) return true;
  // No acknowledgement in 2 s (dead, or stuck): it must not serve later.
  // The read of `handoff` returns at its exit (end of stream); an
  // acknowledgement made just before means it had the connection. Either
  // way the accept loop reaps it.
  // One that acknowledged just after the wait is not killed with the
  // connection (review helper-49); the window left is the few instructions
  // between this read and the kill.
  if (read(spare.taken.get(), &acks, sizeof acks) == sizeof acks) return true;
  kill(spare.pid, SIGKILL);
  char none = 0;
  (void)read(spare.handoff.get(), &none, 1);
  return read(spare.taken.get(), &acks, sizeof acks) == sizeof acks;
}

}  // namespace

Decision serve(const BrokerConfig& config, const Listener& listener,
               const std::function<void(const std::string&)>& log) {
  auto allow = resolve_allow_list(config);
  if (!allow) return allow.error();
  // A subordinate range that holds an allowed uid (or the broker's own)
  // merges that user with the range's owner for max_per_user: the owner
  // could become it anyway, but the administrator should know.
  std::vector<uid_t> named = allow->uids;
  named.push_back(geteuid());
  for (uid_t u : named)
    if (uid_t owner = allow->principal(u); owner != u)
      log("warning: " + std::string(kSubuidPath) + " gives uid " + std::to_string(u) +
          " (allowed to connect) to another user's subordinate range (owner " + std::to_string(owner) +
          "): for max_per_user it counts as that owner");
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    return Decision::deny(DenyReason::SandboxUnavailable, "PR_SET_CHILD_SUBREAPER: " + fs::errno_text(errno));
  // Non-dumpable from the start, and so every spare and worker forked from
  // here (fork keeps it): a spare holds the receipt key and prepared nonces
  // before any request (review helper-54: an unprivileged broker's spare
  // was readable through /proc/<pid>/mem by its uid until its first run).
  if (Decision d = harden_supervisor(); !d) return d;
  if (std::string why = ProcessBaseline::why_descriptions_not_compared(); !why.empty())
    log("warning: kcmp(2) is not usable here (" + why +
        "): a reused worker's descriptors are compared by number, file and flags, not by open file description");
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
  Workers workers;
  const size_t per_user = per_user_limit(config);
  PerSecond refusals_recorded, busy_logged;
  std::optional<Spare> spare;
  // Former spares serving a request: their handoff ends, on which each says
  // when it is idle again (and may become the spare) or closes (its exit).
  std::map<pid_t, Spare> serving;
  auto spare_not_before = std::chrono::steady_clock::now();
  // After a handoff the next spare waits until no worker runs, or
  // kSpareWhileBusy has passed: its fork and preload (~1 ms of CPU) would
  // otherwise compete with the request just handed over for the machine's
  // cores, and the worker, once done, usually becomes the spare itself
  // (reuse) — unless a spare was forked meanwhile, so the wait covers a
  // typical command (python3 -c pass: ~35 ms; a sanitizer build is ~5x
  // slower). A connection that finds no spare gets a worker forked for it.
  constexpr auto kSpareWhileBusy = std::chrono::milliseconds(250);
  auto spare_when_busy = std::chrono::steady_clock::now();
  bool stopping = false;
  // Set by the second stop signal: workers still running then are killed
  // (their commands die with them: PDEATHSIG), since a command may ignore
  // or block SIGTERM -- its requester's dispositions reach it. max: unset.
  constexpr auto kNever = std::chrono::steady_clock::time_point::max();
  auto kill_workers_at = kNever;

  // In a new worker: dies with the broker (its own child dies with it),
  // holds nothing of the accept loop's.
  auto become_worker = [&] {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != broker_pid) _exit(1);
    close(sfd);
    close(listener.fd);
    if (spare) {
      spare->handoff = fs::UniqueFd();
      spare->taken = fs::UniqueFd();
    }
    // A worker holding another's handoff end would keep that one from
    // ever seeing the broker let it go.
    serving.clear();
    sigset_t mask = old_mask;
    for (int s : kForwardable) sigaddset(&mask, s);
    sigdelset(&mask, SIGCHLD);
    sigprocmask(SIG_SETMASK, &mask, nullptr);
    signal(SIGPIPE, SIG_IGN);
    // As every run leaves them (OwnLimits::save): a worker's dispositions
    // are part of its reuse baseline, so they are set before it is taken.
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGXCPU, SIG_IGN);
  };
  auto start_spare = [&] {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      log("socketpair: " + fs::errno_text(errno));
      return;
    }
    fs::UniqueFd taken(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!taken.ok()) {
      log("eventfd: " + fs::errno_text(errno));
      close(pair[0]);
      close(pair[1]);
      return;
    }
    pid_t w = fork();
    if (w < 0) {
      log("fork: " + fs::errno_text(errno));
      close(pair[0]);
      close(pair[1]);
      return;
    }
    if (w == 0) {
      become_worker();
      close(pair[0]);
      WorkerState state(config);
      state.preload_state(now_unix());
      // The receipts' syslog socket, opened now: opened by the first
      // request, it would be a descriptor the baseline lacks.
      if (config.syslog) openlog("gx", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
      std::optional<ProcessBaseline> baseline;
      for (int served = 0;; ++served) {
        pollfd wait_handoff{pair[1], POLLIN, 0};
        // The request's two signing nonces, one at a time while no
        // connection waits: a caller that comes first (back-to-back calls)
        // is served at once, and its worker makes the rest beside its
        // authorization. Any left from the last request (denied before
        // its receipts) are made afresh: their age counts from now.
        state.drop_nonces();
        for (int made = 0; made < 2 && poll(&wait_handoff, 1, 0) == 0; ++made) state.prepare_nonce();
        const auto nonces_made = std::chrono::steady_clock::now();
        if (served == 0) warm_for_request(pair[1]);
        // They are good for kMaxAgeNs (crypto.h says why): an idle spare
        // drops them rather than hold k until the next caller, whose worker
        // then makes them beside its authorization.
        // Anything but a handoff in time (a timeout, EINTR) drops them.
        const auto nonce_age =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - nonces_made);
        const int nonce_life_ms = static_cast<int>(crypto::PreparedNonce::kMaxAgeNs / 1'000'000 - nonce_age.count());
        if (poll(&wait_handoff, 1, std::max(nonce_life_ms, 0)) != 1) state.drop_nonces();
        if (!baseline) baseline = ProcessBaseline::take();
        // The handoff: one frame carrying the accepted connection; end of
        // stream means the broker is stopping (or gone), or lets this
        // worker go.
        auto handed = read_frame(pair[1], std::nullopt, kSmallFrameMaxPayload, 1);
        if (!handed || handed->fds.size() != 1) _exit(0);
        // The acknowledgement: until the broker reads it, the connection is
        // still the broker's to serve (see the handoff in the accept loop).
        // pair[1] stays open until this worker exits: closing it would wake
        // the broker too.
        const uint64_t one = 1;
        if (write(taken.get(), &one, sizeof one) != sizeof one) _exit(0);
        int conn = handed->fds[0];
        const WorkerState::Loads loads_before = state.loads();
        int rc = serve_connection(config, *allow, self, conn, state, log);
        close(conn);
        // Kept state loaded again (a new revocation list, trust store, key
        // or store) holds other descriptors than the baseline: a fresh
        // spare starts from the new state instead. So does a request that
        // could not use it and loaded its own: its use store's opening and
        // closing dropped the kept connection's POSIX locks (review
        // helper-55).
        const bool state_not_as_kept = state.loads() != loads_before;
        if (rc != 0 || state_not_as_kept || served + 1 >= kRequestsPerWorker) _exit(rc);
        // Signals forwarded for this request that no child took (it was
        // denied, or ended first) are this request's: they must not reach
        // the next caller's command (review helper-53).
        discard_pending(kForwardable);
        // Another request only from the process this one started as.
        if (std::string why = baseline->differs(state.kept_fds()); !why.empty()) {
          log("worker " + std::to_string(getpid()) + " is not reused: " + why);
          _exit(0);
        }
        // Idle again: the broker makes it its spare, or lets it go (end of
        // stream on pair[1]).
        if (write(pair[1], "i", 1) != 1) _exit(0);
      }
    }
    close(pair[1]);
    spare.emplace();
    spare->pid = w;
    spare->handoff = fs::UniqueFd(pair[0]);
    spare->taken = std::move(taken);
  };

  // Every ended child, reaped and taken off the books.
  auto reap = [&] {
    for (;;) {
      int status = 0;
      pid_t w = waitpid(-1, &status, WNOHANG);
      if (w <= 0) break;
      bool abnormal = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
      if (spare && w == spare->pid) {
        spare.reset();
        if (abnormal && !stopping) {
          log("spare worker " + std::to_string(w) + " ended abnormally (status " + std::to_string(status) +
              "); the next starts in 1 s");
          spare_not_before = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        }
        continue;
      }
      serving.erase(w);
      if (workers.erase(w) && abnormal)
        log("worker " + std::to_string(w) + " ended abnormally (status " + std::to_string(status) + ")");
    }
  };

  log("serving on " + (listener.activated ? std::string("the socket systemd passed") : listener.path) + " (state " +
      config.state_dir + ", trust " + config.trust_path + ", at most " + std::to_string(config.max_concurrent) +
      " at once, " + std::to_string(per_user) + " per user; peers by SO_PEERCRED" +
      (kernel_has_peer_pidfd() ? ", pids pinned by SO_PEERPIDFD)" : ", no SO_PEERPIDFD on this kernel)"));
  // A stopping broker also waits for its spare, which exits at the end of
  // its handoff stream (never killed mid-load).
  while (!stopping || !workers.empty() || spare) {
    int timeout_ms = 1000;
    if (!stopping && !spare) {
      auto now = std::chrono::steady_clock::now();
      if (now >= spare_not_before && (workers.empty() || now >= spare_when_busy)) start_spare();
      else if (now >= spare_not_before)
        timeout_ms =
            static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(spare_when_busy - now).count() + 1);
    }
    std::vector<pollfd> p = {{sfd, POLLIN, 0}, {stopping ? -1 : listener.fd, POLLIN, 0}};
    for (const auto& [w, s] : serving) p.push_back({s.handoff.get(), POLLIN, 0});
    int n = poll(p.data(), p.size(), timeout_ms);
    if (n < 0 && errno != EINTR) {
      log("poll: " + fs::errno_text(errno));
      break;
    }
    // Workers done with their request: idle again (one byte), or exiting
    // (end of stream; reaped below). An idle one becomes the spare if
    // there is none; else, or when stopping, it is let go (end of stream)
    // and stays counted until it is reaped.
    for (size_t i = 2; n > 0 && i < p.size(); ++i) {
      if (p[i].revents == 0) continue;
      auto it = std::find_if(serving.begin(), serving.end(),
                             [&](const auto& e) { return e.second.handoff.get() == p[i].fd; });
      if (it == serving.end()) continue;
      char idle = 0;
      const bool is_idle = read(p[i].fd, &idle, 1) == 1 && idle == 'i';
      if (is_idle && !stopping && !spare) {
        workers.erase(it->first);
        spare = std::move(it->second);
      }
      serving.erase(it);
    }
    signalfd_siginfo si{};
    while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      int sig = static_cast<int>(si.ssi_signo);
      if (sig == SIGTERM || sig == SIGINT) {
        if (stopping) {
          log("second stop signal: sending SIGTERM to " + std::to_string(workers.size()) +
              " running request(s); SIGKILL to what is left in " + std::to_string(kDisconnectGraceMs) + " ms");
          for (const auto& [w, _] : workers) kill(w, SIGTERM);
          if (kill_workers_at == kNever)
            kill_workers_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDisconnectGraceMs);
        } else {
          stopping = true;
          if (spare) spare->handoff = fs::UniqueFd();  // the spare sees end of stream and exits
          log("stopping: no new connections; waiting for " + std::to_string(workers.size()) + " running request(s)");
        }
      }
    }
    reap();
    kill_strays(workers, spare ? spare->pid : -1);
    if (!workers.empty() && std::chrono::steady_clock::now() >= kill_workers_at) {
      log("killing " + std::to_string(workers.size()) + " request(s) still running after the second stop signal");
      for (const auto& [w, _] : workers) kill(w, SIGKILL);
      kill_workers_at = kNever;
    }
    if (stopping || n <= 0 || !(p[1].revents & POLLIN)) continue;
    // A bounded batch: a caller that connects without pause cannot keep the
    // loop from its signals and from reaping (review helper-44).
    for (int taken = 0; taken < kAcceptsPerRound; ++taken) {
      int conn = accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) break;
      auto peer = peer_of(conn);
      if (!peer) {
        log("connection refused: " + peer.error().explain());
        close(conn);
        continue;
      }
      // A caller the allow lists refuse is answered here, without a worker
      // slot, once its principal had a refusal recorded in the last second:
      // a refused user's flood can neither keep allowed callers busy nor
      // grow the log without bound (one signed refusal per user and second;
      // per principal, since a user with subordinate uids can connect as
      // each of them: review helper-45). The refusal that is due goes on to
      // a worker, which records it.
      const uid_t principal = allow->principal(peer->uid);
      if (!allow->allows(self, peer->uid, peer->gid, peer->groups) &&
          !refusals_recorded.take(principal, std::chrono::steady_clock::now()).has_value()) {
        answer_and_close(conn, std::string(reason_code(DenyReason::RuntimeIdentity)),
                         "uid " + std::to_string(peer->uid) + " is not allowed to use this broker");
        continue;
      }
      // Slots are counted after reaping: a worker that ended is no longer
      // running, whether or not its SIGCHLD was read yet.
      reap();
      auto refuse_busy = [&](const std::string& running, const std::string& message) {
        if (auto left_out = busy_logged.take(principal, std::chrono::steady_clock::now()))
          log("busy: refused " + peer_text(*peer) + " (" + running + ")" +
              (*left_out ? "; " + std::to_string(*left_out) + " more refused since the last such line" : ""));
        answer_and_close(conn, "busy", message + "; try again");
      };
      if (workers.size() >= config.max_concurrent) {
        refuse_busy(std::to_string(workers.size()) + " requests running",
                    "the broker is running its maximum of " + std::to_string(config.max_concurrent) + " requests");
        continue;
      }
      const auto mine = static_cast<size_t>(
          std::count_if(workers.begin(), workers.end(), [&](const auto& w) { return w.second == principal; }));
      if (mine >= per_user) {
        const std::string who = principal == peer->uid
                                    ? "uid " + std::to_string(peer->uid)
                                    : "uid " + std::to_string(peer->uid) + " (a subordinate uid of " +
                                          std::to_string(principal) + ", counted as it)";
        refuse_busy(std::to_string(mine) + " of its requests running",
                    who + " has its maximum of " + std::to_string(per_user) +
                        " requests running on this broker (max_per_user)");
        continue;
      }
      if (spare) {
        // The spare takes it; a spare that cannot (it died) is replaced
        // by a worker forked for this connection.
        if (spare_took(*spare, conn)) {
          workers[spare->pid] = principal;
          serving[spare->pid] = std::move(*spare);
          spare.reset();
          close(conn);
          spare_when_busy = std::chrono::steady_clock::now() + kSpareWhileBusy;
          continue;
        }
        log("spare worker " + std::to_string(spare->pid) +
            " ended abnormally (it did not take a connection); a new worker serves it");
        spare.reset();  // reaped below like any child that is not a worker
      }
      pid_t w = fork();
      if (w < 0) {
        log("fork: " + fs::errno_text(errno));
        send_error(conn, "io-error", "the broker cannot start a worker: " + fs::errno_text(errno));
        close(conn);
        continue;
      }
      if (w == 0) {
        become_worker();
        WorkerState state(config);
        // One request only: it has no handoff socket.
        int rc = serve_connection(config, *allow, self, conn, state, log);
        close(conn);
        _exit(rc);
      }
      workers[w] = principal;
      close(conn);
    }
  }
  if (spare) {
    spare->handoff = fs::UniqueFd();
    waitpid(spare->pid, nullptr, 0);
  }
  close(sfd);
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  log("stopped");
  return Decision::allow();
}

}  // namespace gx::broker
