// The nested-run channel (docs/lineage.md "Nested runs"): how a governed
// command whose artifact has [delegation] nested_runs = true asks the gx
// that supervises it for further governed runs, and why an inner `gx run`
// inside a sandbox cannot run anything any other way.
//
// Supervisor side (ChannelServer, used by run_pipeline for standalone
// `gx run` and for the broker's workers alike):
//   * before the fork, a socketpair(AF_UNIX, SOCK_SEQPACKET); the child's
//     end is the child's only extra fd (ChildPlan::channel_fd, kept across
//     exec) and its number is in GX_CHANNEL (a caller's GX_CHANNEL is
//     stripped from every child's environment first);
//   * after the child started, a server process (forked from the
//     supervisor, single-threaded, PDEATHSIG, its own session) reads the
//     channel. Each message must be exactly one Connect frame (lib/
//     broker_protocol.h) carrying exactly one fd, an AF_UNIX stream socket:
//     the client's end of a fresh conversation. Anything else (bad header,
//     trailing bytes, no fd, several fds, an fd of another kind, a
//     truncated message) is logged and dropped — SEQPACKET keeps message
//     boundaries, so garbage never desynchronises the next request;
//   * at most kMaxNestedConcurrent conversations run at once per channel;
//     one more is answered with an Error frame "busy" and closed (logged);
//   * each conversation runs in a worker process with broker::serve_request
//     — the broker's own request handling — and run_governed, with the
//     owning run's trust store, revocation list (re-read for every request:
//     revoking the agent's artifact denies its next call), state and
//     receipt key; `parent_digest`/`parent_receipt` = the owning run's
//     artifact and authorized receipt (never from the request or the
//     environment); the owning artifact and its ancestors as the only
//     candidate parents; `peer` = the owning run's child identity when it
//     switched identity (run-as or a broker's caller), with the child's pid
//     — never SO_PEERCRED of the connection, which names whoever created
//     the socketpair, not who may use it;
//   * the owning child's exit (or SIGTERM) stops it: no new conversations,
//     SIGTERM to running ones (forwarded to their tools, whose finished
//     receipts are written), SIGKILL after the grace period.
//
// Client side (run_over_channel, cmd/run.cc): an inner `gx run` that finds
// GX_CHANNEL sends its request (artifact bytes, argv, env, cwd, fds 0-2) on
// a fresh socketpair whose other end goes over the channel, forwards
// signals and exits with the status it gets back. A GX_CHANNEL that does
// not name a SOCK_SEQPACKET AF_UNIX socket is refused
// (lineage-inconsistency), never ignored.
//
// No channel inside a sandbox (check_not_sandboxed): gx's sandbox always
// sets no_new_privs and a seccomp filter, and neither can be undone. An
// inner `gx run` without GX_CHANNEL in a process that has both is denied
// lineage-inconsistency. Read from /proc/self/status (NoNewPrivs:,
// Seccomp:), else prctl(PR_GET_NO_NEW_PRIVS / PR_GET_SECCOMP); when
// neither can be read, the process counts as sandboxed (fail closed).
// Limits: any other confinement that sets both (systemd's
// NoNewPrivileges= with SystemCallFilter=, some container runtimes) also
// counts — gx run there needs a channel or gx broker; Landlock alone is not
// detected (the kernel offers no query for "this thread is Landlocked").
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "lib/broker_protocol.h"
#include "lib/decision.h"
#include "lib/fsutil.h"
#include "lib/run_pipeline.h"

namespace gx {

inline constexpr std::string_view kChannelEnv = "GX_CHANNEL";
inline constexpr size_t kMaxNestedConcurrent = 4;
// How long a client has to send its request once its Connect arrived.
inline constexpr int kNestedRequestTimeoutMs = 10000;
// After the owning child exited: how long running nested requests get to end.
inline constexpr int kNestedStopGraceMs = 2000;

class ChannelServer {
 public:
  // The socketpair; nothing runs yet.
  static Result<ChannelServer> create();
  ChannelServer(ChannelServer&&) noexcept;
  ChannelServer& operator=(ChannelServer&&) = delete;
  ChannelServer(const ChannelServer&) = delete;
  ChannelServer& operator=(const ChannelServer&) = delete;
  ~ChannelServer();  // stop(0) if still running

  int child_end() const { return child_end_.get(); }
  // "GX_CHANNEL=<fd>": the variable the child gets.
  std::string env_entry() const;

  // After the owning child started: closes the child's end here and forks
  // the server process, which serves requests with `base` (see above: its
  // trust, revocations, state, receipt key, syslog, log, parent_digest,
  // parent_receipt, parent_artifacts/_bytes, parent_bounds and peer are used
  // as they are).
  Decision start(const RunRequest& base, const std::string& who);

  // After the owning child was reaped: SIGTERM to the server, up to
  // `grace_ms` for it to finish (it waits for its nested runs), then
  // SIGKILL. Returns a warning line when it had to be killed.
  std::vector<std::string> stop(int grace_ms = kNestedStopGraceMs);

 private:
  ChannelServer() = default;
  fs::UniqueFd server_end_, child_end_, pidfd_;
  pid_t pid_ = -1;
};

// The client side of an inner `gx run` (see above). `channel_var` is
// GX_CHANNEL's value.
Result<RunResult> run_over_channel(std::string_view channel_var, const broker::Request& req);

// Allow, or lineage-inconsistency when this process is confined like a gx
// sandbox (no_new_privs and a seccomp filter, or unknown).
Decision check_not_sandboxed();

}  // namespace gx
