// The client side of `gx run --broker SOCKET` (docs/broker.md): sends one
// request with the caller's stdin, stdout and stderr (SCM_RIGHTS), forwards
// the signals it receives while the request runs, and returns the broker's
// result. Everything the broker decides with — trust, revocations, state,
// receipt key — is the broker's: the request carries none of it.
#pragma once

#include <string>

#include "lib/broker_protocol.h"
#include "lib/decision.h"
#include "lib/fd.h"
#include "lib/run_pipeline.h"

namespace gx::broker {

// Connects to the broker listening on `socket_path`. gx run connects before
// it builds its request (reads the artifact, its environment, its signal
// state): the broker accepts and hands the connection to its worker
// meanwhile. A caller that then fails to build its request closes the
// connection; the broker logs it as a request refused: connection closed.
Result<fs::UniqueFd> connect_broker(const std::string& socket_path);

// Sends `req` on a connected stream socket (the broker's, or the nested-run
// channel's, lib/nested_channel.h) with fds 0, 1, 2 and waits for the
// Report and Exit frames; `peer_name` (the socket path) names the other end
// in messages. The caller keeps `fd`. While waiting, SIGINT, SIGTERM, SIGHUP, SIGQUIT,
// SIGUSR1, SIGUSR2 and SIGWINCH are caught (a handler and a self-pipe) and
// sent on as Signal frames (the previous handlers are restored before
// returning). An Error frame from the
// broker (refused before running) is returned as the Decision it names
// ("busy" as IoError). RunResult::exit_status is the Exit frame's status.
Result<RunResult> run_on_connection(int fd, const Request& req, const std::string& peer_name);

// run_on_connection on `conn`, a connection to the broker at `socket_path`
// (connect_broker). A broker older than kFlagNoReport refuses that bit
// before it runs anything: the request is then sent once more without it,
// on a new connection (the answer carries the whole report).
Result<RunResult> run_on_broker(const std::string& socket_path, fs::UniqueFd conn, Request req);

}  // namespace gx::broker
