#include "lib/broker_request.h"

#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "lib/broker_protocol.h"
#include "lib/broker_stdio.h"
#include "lib/broker_transport.h"
#include "lib/decision_json.h"
#include "lib/fsutil.h"

namespace gx::broker {

void send_error(int conn, const std::string& code, const std::string& message) {
  (void)write_frame(conn, FrameType::Error, encode_error({code, message}));
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

namespace {

// Reads the client's frames while the request runs: Signal frames become
// signals to this process (blocked in every thread, so supervise_child's
// sigwaitinfo takes them and forwards them to the child); end of stream
// means the client went away: SIGTERM, then SIGKILL to what the main thread
// forked after kDisconnectGraceMs -- and to whatever it forks later, until
// the run is over (the pipeline also asks gone() before the program may
// start, so normally nothing is forked after a disconnect).
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
    if (ignored_ > 1)
      log_(std::to_string(ignored_ - 1) + " more ignored frame(s) from this client during the run (not logged)");
  }
  ConnectionWatcher(const ConnectionWatcher&) = delete;
  ConnectionWatcher& operator=(const ConnectionWatcher&) = delete;

  // The client went away (end of stream or a connection error).
  bool gone() const { return gone_; }
  // The run is over: frames and the end of stream are no longer acted on
  // (the client may leave as soon as it has its answer), and the reader
  // ends at the next one. The destructor still joins it.
  void run_over() { done_ = true; }

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
        ignore("unexpected " + std::string(frame_type_name(f->header.type)) + " frame during a run: ignored");
        continue;
      }
      auto sig = decode_signal(f->payload);
      if (!sig) {
        ignore("bad signal frame: " + sig.error().explain() + "; ignored");
        continue;
      }
      if (std::find(std::begin(kForwardable), std::end(kForwardable), *sig) == std::end(kForwardable)) {
        ignore("signal " + std::to_string(*sig) + " is not forwarded (not in the forwarded set)");
        continue;
      }
      kill(getpid(), *sig);
    }
  }

  // One line for the first frame ignored, a count of the rest at the end: a
  // client sending them in a loop cannot flood the broker's log.
  void ignore(const std::string& line) {
    if (ignored_++ == 0) log_(line + " (further ignored frames from this client are only counted)");
  }

  void disconnected() {
    gone_ = true;
    kill(getpid(), SIGTERM);
    for (int waited = 0; waited < kDisconnectGraceMs; waited += 50) {
      if (done_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // Until the run is over: a child forked after the grace (the request
    // was still being authorized) gets no grace of its own.
    while (!done_) {
      for (pid_t p : children_of_thread(main_tid_)) kill(p, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  int conn_;
  pid_t main_tid_;
  std::function<void(const std::string&)> log_;
  std::atomic<bool> done_{false};
  std::atomic<bool> gone_{false};
  uint64_t ignored_ = 0;  // the reader thread's; read by the destructor after join
  std::thread thread_;
};

}  // namespace

void serve_request(int conn, const RunRequest& base, uint32_t max_request_bytes, int timeout_ms, const std::string& who,
                   const std::function<void(const std::string&)>& log,
                   const std::function<void(RunRequest&)>& before_run, const std::function<void(RunResult&)>& after_run,
                   const std::function<void(RunRequest&)>& on_read) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto f = read_frame(conn, deadline, max_request_bytes, kRequestFds);
  if (!f) {
    log("request from " + who + " refused: " + f.error().explain());
    send_error(conn, std::string(f.error().code()), f.error().explain());
    return;
  }
  std::vector<int> fds = f->fds;
  RunRequest run = base;
  auto close_fds = [&] {
    for (int fd : fds) close(fd);
  };
  auto fail = [&](const Decision& d) {
    log("request from " + who + " refused: " + d.explain());
    send_error(conn, std::string(d.code()), d.explain());
    close_fds();
  };
  if (f->header.type != FrameType::Request)
    return fail(Decision::deny(DenyReason::Malformed,
                               "expected a request frame, got " + std::string(frame_type_name(f->header.type)),
                               "type"));
  if (fds.size() != kRequestFds)
    return fail(Decision::deny(
        DenyReason::Malformed,
        "a request carries exactly 3 file descriptors (stdin, stdout, stderr), got " + std::to_string(fds.size()),
        "fds", std::to_string(fds.size())));
  if (on_read) on_read(run);
  if (Decision d = check_stdio(fds); !d) return fail(d);
  auto req = decode_request(f->payload);
  if (!req) return fail(req.error());

  run.artifact_path = req->artifact_name.empty() ? "(sent by the client)" : req->artifact_name;
  run.artifact_bytes = std::move(req->artifact);
  run.argv = std::move(req->argv);
  run.env = std::move(req->env);
  run.cwd = std::move(req->cwd);
  run.inherited_signals = InheritedSignals::from_bits(req->ignored_signals, req->blocked_signals);
  run.dry_run = (req->flags & kFlagDryRun) != 0;
  for (size_t i = 0; i < kRequestFds; ++i) run.stdio[i] = fds[i];
  if (before_run) before_run(run);

  // Torn down (its reader thread joined) only after the answer is sent:
  // the client does not wait for the join.
  ConnectionWatcher watcher(conn, static_cast<pid_t>(gettid()), log);
  run.client_gone = [&watcher] { return watcher.gone(); };
  // The answer goes before the run is torn down (RunRequest::on_result):
  // the client does not wait for that either.
  run.on_result = [&](RunResult& result) {
    watcher.run_over();
    if (after_run) after_run(result);
    // The client's stdio is let go before it has its answer: once it
    // exits, nothing of its run still holds its terminal or pipes.
    close_fds();
    fds.clear();
    if (!result.decision && !result.not_started)
      log("denied " + who + ": " + std::string(result.decision.code()) + ": " + result.decision.explain());
    // Never throws: a string that is not UTF-8 (a file name in a warning, a
    // value decode_request did not see) is replaced, not the worker's death.
    const std::string report = result_to_json(result, (req->flags & kFlagNoReport) == 0)
                                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (Decision d = write_frames(conn, {{FrameType::Report, encode_report({report})},
                                         {FrameType::Exit, encode_exit(std::clamp(result.exit_status, 0, 255))}});
        !d) {
      log("report to " + who + " not sent: " + d.explain());
      return;
    }
    // Unix sockets wake their reader with the hint that the writer is about
    // to sleep, so the scheduler often queues the client on this CPU, behind
    // what is left of this worker (the run's teardown, its exit) while
    // another CPU idles. Nothing left here is urgent: let the client go
    // first.
    sched_yield();
  };
  (void)run_governed(run);
}

nlohmann::json result_to_json(const RunResult& r, bool with_report) {
  nlohmann::json j;
  j["decision"] = decision_json(r.decision);
  if (with_report) j["report"] = to_json(r.report);
  j["child_ran"] = r.child_ran;
  j["exit_status"] = r.exit_status;
  j["not_started"] = r.not_started;
  j["record_failed"] = r.record_failed;
  j["warnings"] = r.warnings;
  return j;
}

Result<RunResult> result_from_json(const nlohmann::json& j) {
  RunResult r;
  auto flag = [&](const char* k) { return j.contains(k) && j[k].is_boolean() && j[k].get<bool>(); };
  const nlohmann::json d = j.contains("decision") ? j["decision"] : nlohmann::json();
  if (auto decided = decision_from_json(d)) {
    r.decision = *decided;
    if (!r.decision && r.decision.detail.empty()) r.decision.detail = "the broker gave no reason";
  } else {
    // A decision this gx cannot read (a newer broker's reason code) is a
    // denial all the same: fail closed, keeping what the broker said.
    auto text = [&](const char* k) {
      return d.is_object() && d.contains(k) && d[k].is_string() ? d[k].get<std::string>() : std::string();
    };
    r.decision =
        Decision::deny(DenyReason::IoError, text("detail").empty() ? "the broker gave no reason" : text("detail"),
                       text("field"), text("value"));
  }
  if (j.contains("report")) {
    auto report = run_report_from_json(j["report"]);
    if (!report) return report.error();
    r.report = report.take();
  }
  r.child_ran = flag("child_ran");
  r.not_started = flag("not_started");
  r.record_failed = flag("record_failed");
  if (j.contains("exit_status") && j["exit_status"].is_number_integer()) r.exit_status = j["exit_status"].get<int>();
  if (j.contains("warnings") && j["warnings"].is_array())
    for (const auto& w : j["warnings"])
      if (w.is_string()) r.warnings.push_back(w.get<std::string>());
  return r;
}

}  // namespace gx::broker
