// The client side of `gx run --broker SOCKET` (docs/broker.md): sends one
// request with the caller's stdin, stdout and stderr (SCM_RIGHTS), forwards
// the signals it receives while the request runs, and returns the broker's
// result. Everything the broker decides with — trust, revocations, state,
// receipt key — is the broker's: the request carries none of it.
#pragma once

#include <string>

#include "lib/broker_protocol.h"
#include "lib/decision.h"
#include "lib/run_pipeline.h"

namespace gx::broker {

// Connects to `socket_path`, sends `req` with fds 0, 1, 2 and waits for the
// Report and Exit frames. While waiting, SIGINT, SIGTERM, SIGHUP, SIGQUIT,
// SIGUSR1, SIGUSR2 and SIGWINCH are caught (a handler and a self-pipe) and
// sent on as Signal frames (the previous handlers are restored before
// returning). An Error frame from the
// broker (refused before running) is returned as the Decision it names
// ("busy" as IoError). RunResult::exit_status is the Exit frame's status.
Result<RunResult> run_brokered(const std::string& socket_path, const Request& req);

// The same conversation on an already connected stream socket (the
// nested-run channel's, lib/nested_channel.h); `peer_name` names it in
// messages. The caller keeps `fd`.
Result<RunResult> run_on_connection(int fd, const Request& req, const std::string& peer_name);

}  // namespace gx::broker
