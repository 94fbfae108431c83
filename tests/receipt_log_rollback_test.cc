// Receipt log: an end read ahead (ReceiptLog::KnownEnd, learned by open())
// is never a line its writer then cuts back off. Review helper-47's repro:
// B's fdatasync fails (EIO) and B truncates its line away; meanwhile A opens
// the log; C then appends a receipt of the same length, so the file is back
// at the size A saw. A's append must still chain to C's receipt. Its own
// binary: it replaces fdatasync for every test in it.
#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <optional>

#include "lib/receipt_log.h"
#include "tests/receipt_log_fixture.h"

using namespace gx;
using namespace gx::receipt_log_test;

namespace {
std::function<void()> g_during_sync;  // runs inside the next fdatasync, which then fails (EIO)
}

extern "C" int fdatasync(int fd) {
  if (g_during_sync) {
    auto f = std::move(g_during_sync);
    g_during_sync = nullptr;
    f();
    errno = EIO;
    return -1;
  }
  using Fn = int (*)(int);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "fdatasync"));
  return real(fd);
}

TEST_CASE("a line cut back off after a failed sync is never learned as the log's end") {
  TempDir t;
  ReceiptLog b = open_log(t);
  REQUIRE(b.append(make_authorized(subject("x"))).ok());
  ReceiptLog c = open_log(t);
  std::optional<ReceiptLog> a;
  g_during_sync = [&] {  // B holds the log's lock, its line written, not yet cut off
    auto opened = ReceiptLog::open(t.state());
    REQUIRE(opened.ok());
    a.emplace(opened.take());
  };
  auto expired = [] { return Decision::deny(DenyReason::Expired, "artifact expired", "not_after"); };
  auto rb = b.append(make_denied(subject("y"), expired()));
  CHECK_FALSE(rb.ok());  // B's line was cut back off
  REQUIRE(a);
  // The same kind and length as B's vanished line, the head left behind (Lazy).
  REQUIRE(c.append(make_denied(subject("y"), expired()), ReceiptSync::Lazy).ok());
  auto ra = a->append(make_denied(subject("z"), expired()));
  INFO((ra.ok() ? std::string("appended") : ra.error().explain()));
  CHECK(ra.ok());
  auto rep = c.verify();
  REQUIRE(rep.ok());
  INFO(rep->problem);
  CHECK(rep->intact);
  CHECK(rep->records == 3);
}
