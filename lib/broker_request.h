// One brokered request on a connected stream socket, in the process that
// serves it (a broker worker, or the nested-run channel's worker): the
// Request frame, the run, Signal frames and a disconnect while it runs,
// the Report and Exit frames; and the RunResult's JSON on the wire.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/decision.h"
#include "lib/run_pipeline.h"

namespace gx::broker {

inline constexpr int kDisconnectGraceMs = 2000;

// What the client may forward (the same set gx run forwards, supervise.h).
inline constexpr int kForwardable[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

// Steps 4-6 of lib/broker.h on a connected stream socket, in the calling (worker)
// process: the Request frame (exactly 3 fds) within `timeout_ms`, run by
// run_governed with `base` completed from the request (artifact bytes,
// argv, env, cwd, dry run, the fds as stdio) — everything else (trust,
// revocations, state, receipt key, peer, a nested run's parent) is the
// server's, never the client's; Signal frames forwarded, a disconnect
// handled as above; then Report and Exit, or one Error frame. `who` names
// the caller in log lines. The nested-run channel (lib/nested_channel.h)
// serves its requests with this too.
// `on_read`, when set, is handed the request (`base` so far) as soon as its
// frame is read and is a request with 3 descriptors, before they are
// checked and the frame decoded (the broker's worker starts its ruleset
// check there); `before_run` completes the request just before it runs
// (the worker hands in its kept state there); `after_run` adds to the
// result before it is reported.
void serve_request(int conn, const RunRequest& base, uint32_t max_request_bytes, int timeout_ms, const std::string& who,
                   const std::function<void(const std::string&)>& log,
                   const std::function<void(RunRequest&)>& before_run = {},
                   const std::function<void(RunResult&)>& after_run = {},
                   const std::function<void(RunRequest&)>& on_read = {});

// The RunResult as JSON for the Report frame, and back (the client).
// Without `with_report` (the request's kFlagNoReport) it has no "report"
// key; result_from_json then leaves RunResult::report empty.
nlohmann::json result_to_json(const RunResult& r, bool with_report = true);
// A report this gx cannot read (a known key of the wrong type) is an error.
Result<RunResult> result_from_json(const nlohmann::json& j);

// One Error frame (best effort: a client that went away gets nothing).
void send_error(int conn, const std::string& code, const std::string& message);

// Children of this process's thread `tid` (the one that forks the child),
// from /proc/self/task/<tid>/children; empty when it cannot be read.
std::vector<pid_t> children_of_thread(pid_t tid);

}  // namespace gx::broker
