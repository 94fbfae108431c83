// gx broker: the enforcement point a governed party cannot bypass
// (docs/broker.md). A long-running supervisor that owns gx's state, keys and
// configuration and serves `gx run --broker` requests on a Unix socket.
// Each request goes through the same pipeline as `gx run` (run_governed),
// with the broker's fixed configuration and the caller's identity as the
// kernel reports it.
//
// Process model:
//   broker (accept loop; PR_SET_CHILD_SUBREAPER)
//    ├ spare: the next worker, forked ahead; it loads the kept state
//    │  (lib/broker_state.h) and waits for the accepted connection
//    └ worker, one request at a time (fork; PDEATHSIG SIGKILL; subreaper)
//       └ the governed child (PDEATHSIG SIGKILL, confine.h) └ its tree
// Per connection, in order:
//   1. accept; SO_PEERCRED (pid, uid, gid) and SO_PEERGROUPS — the kernel's
//      word, translated into the broker's user namespace, so a caller inside
//      its own user namespace is its real uid;
//   2. max_concurrent workers running, or max_per_user of them serving
//      this user (AllowList::principal, lib/broker_config.h): Error "busy",
//      closed;
//   3. hand the connection to the spare (one frame carrying the fd over a
//      private socketpair; a spare that cannot take it is killed and a
//      worker forked for the connection), then fork the next spare. The
//      worker takes SO_PEERCRED itself and checks the allow lists BEFORE
//      reading anything:
//      refused callers get Error "runtime-identity", a denied receipt and a
//      log line naming uid, gid and pid;
//   4. the request (one frame, exactly 3 fds) within request_timeout_ms,
//      else Error and a log line;
//   5. run_governed with the worker's kept state brought up to date
//      (RunRequest::preloaded; lib/broker_state.h says when each piece is
//      re-read), RunRequest::peer and the client's fds as stdio. Signal
//      frames become signals to the worker, which supervise forwards to the
//      child. If the client disconnects mid-run the child gets SIGTERM, and
//      SIGKILL kDisconnectGraceMs later; its finished receipt is written;
//   6. Report and Exit frames (writes time out after request_timeout_ms);
//      the worker exits, or is reused (below).
// Reuse: a worker that was the spare serves another request when it is,
// after its request, the process it was before its first
// (lib/process_baseline.h), its kept state was usable and not loaded again, and it
// served fewer than 256 (dry runs count; they read through the kept state): it says so with one byte on
// its handoff socket and becomes the spare if there is none (else the
// broker closes that socket and it exits). It makes fresh nonces first.
// If the broker dies (even by SIGKILL) its workers die (PDEATHSIG), and with
// them their children. Descendants of a child that outlive their worker are
// re-parented to the broker (subreaper), which kills every child that is not
// one of its workers. Outside systemd, descendants orphaned while the broker
// itself is dead are not found (systemd's cgroup kill covers that).
//
// The parts: this header (the listener, the accept loop and its workers),
// lib/broker_peer.h (step 1: the caller's identity), lib/broker_request.h
// (steps 4-6: one request on a connection, also the nested-run channel's).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "lib/broker_config.h"
#include "lib/broker_request.h"
#include "lib/decision.h"
#include "lib/run_pipeline.h"

namespace gx::broker {

// The listening socket: inherited from systemd (LISTEN_PID == getpid(),
// LISTEN_FDS == 1, fd 3 a listening AF_UNIX stream socket; anything else is
// refused), or created at config.socket_path: a stale socket there is
// replaced, anything else is refused; mode config.socket_mode, group
// config.socket_group.
struct Listener {
  int fd = -1;
  bool activated = false;  // from systemd: the path is not ours to unlink
  std::string path;
};
Result<Listener> open_listener(const BrokerConfig& config);

// Runs the accept loop until SIGTERM or SIGINT (then: stop accepting, wait
// for running workers; a second signal sends them SIGTERM, and SIGKILL
// kDisconnectGraceMs later to those still running: a command may ignore
// SIGTERM, as its requester did, and its worker forwards it). `log` receives
// one line per event (refusals with the peer's identity, errors, starts and
// stops) — the broker's log, e.g. the journal. Returns when stopped.
Decision serve(const BrokerConfig& config, const Listener& listener,
               const std::function<void(const std::string&)>& log);

}  // namespace gx::broker
