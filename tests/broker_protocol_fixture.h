// Shared by the broker protocol's unit tests (broker_protocol_test,
// broker_transport_test): a sample request.
#pragma once

#include "lib/broker_protocol.h"

namespace gx::broker::test {

inline Request sample() {
  Request r;
  r.artifact = "version = 1\n[[signature]]\n";
  r.artifact_name = "job.toml";
  r.argv = {"/bin/echo", "hello", ""};
  r.env = {"PATH=/usr/bin", "EMPTY="};
  r.cwd = "/tmp";
  r.flags = kFlagDryRun;
  return r;
}

}  // namespace gx::broker::test
