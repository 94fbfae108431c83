// Run-as: [run] parsing and validation, name resolution, and the decision
// whether gx may switch (lib/run_as.h).
#include "lib/run_as.h"

#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "lib/artifact.h"

using namespace gx;

namespace {

std::string body_with(const std::string& run_table) {
  return "version = 1\nid = \"a1\"\nissuer = \"t\"\n"
         "issued_at = \"2026-01-01T00:00:00Z\"\nnot_before = \"2026-01-01T00:00:00Z\"\n"
         "not_after = \"2026-01-02T00:00:00Z\"\n"
         "[exec]\npath = \"/usr/bin/true\"\nsha256 = \"" +
         std::string(64, 'a') +
         "\"\nargv = [\"true\"]\ncwd = \"/\"\n"
         "[sandbox]\nnetwork = \"none\"\n"
         "[replay]\nnonce = \"" +
         std::string(32, 'n') + "\"\nmax_uses = 1\n" + run_table;
}

ProcessRights rights(uid_t uid, gid_t gid, uint64_t caps) {
  ProcessRights r;
  r.ruid = r.euid = r.suid = uid;
  r.rgid = r.egid = r.sgid = gid;
  r.effective_caps = caps;
  return r;
}

// An artifact's [run] user = "nobody".
RunIdentity nobody_target() {
  RunIdentity t;
  t.uid = 65534;
  t.gid = 65534;
  t.source = "artifact";
  t.field = "run.user";
  t.user = "nobody";
  return t;
}

constexpr uint64_t kSwitchCaps = (1ULL << 6) | (1ULL << 7) | (1ULL << 8);  // SETGID, SETUID, SETPCAP

}  // namespace

TEST_CASE("run_as: capability names come from a fixed table") {
  CHECK(capability_number("CAP_CHOWN") == 0);
  CHECK(capability_number("CAP_NET_BIND_SERVICE") == 10);
  CHECK(capability_number("CAP_CHECKPOINT_RESTORE") == 40);
  CHECK_FALSE(capability_number("CAP_NOPE"));
  CHECK_FALSE(capability_number("cap_chown"));  // one spelling
  CHECK(capability_name(21) == "CAP_SYS_ADMIN");
  CHECK(capability_name(41).empty());
  CHECK(kernel_last_cap() >= 40);
}

TEST_CASE("run_as: account names") {
  for (const char* ok : {"nobody", "www-data", "svc_1", "build.bot", "machine$", "0", "65534", "4294967294"})
    CHECK(valid_account_name(ok));
  for (const char* bad : {"", "-x", "a b", "a:b", "4294967295", "99999999999", "ä", ".", "..", "a$b"})
    CHECK_FALSE(valid_account_name(bad));
}

TEST_CASE("run_as: [run] parses, renders and is strict") {
  auto a =
      parse_artifact_body(body_with("[run]\nuser = \"nobody\"\ngroup = \"nogroup\"\ngroups = [\"65534\"]\ncapabilities "
                                    "= [\"CAP_NET_BIND_SERVICE\"]\n"));
  REQUIRE(a.ok());
  CHECK(a->run.user == "nobody");
  CHECK(a->run.group == "nogroup");
  CHECK(a->run.groups == std::vector<std::string>{"65534"});
  CHECK(a->run.capabilities == std::vector<std::string>{"CAP_NET_BIND_SERVICE"});
  auto again = parse_artifact_body(render_artifact_body(*a));
  REQUIRE(again.ok());
  CHECK(again->run.user == "nobody");
  CHECK(again->run.capabilities == a->run.capabilities);

  auto none = parse_artifact_body(body_with(""));
  REQUIRE(none.ok());
  CHECK(none->run.user.empty());
  CHECK(render_artifact_body(*none).find("[run]") == std::string::npos);

  auto fails = [](const std::string& table, DenyReason reason, const std::string& field) {
    auto r = parse_artifact_body(body_with(table));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == reason);
    CHECK(r.error().field == field);
  };
  fails("[run]\ngroup = \"x\"\n", DenyReason::MissingField, "run.user");
  fails("[run]\nuser = \"a b\"\n", DenyReason::InvalidValue, "run.user");
  fails("[run]\nuser = 0\n", DenyReason::WrongType, "run.user");
  fails("[run]\nuser = \"x\"\ngroup = \"-g\"\n", DenyReason::InvalidValue, "run.group");
  fails("[run]\nuser = \"x\"\ncapabilities = [\"CAP_EVERYTHING\"]\n", DenyReason::InvalidValue, "run.capabilities");
  fails("[run]\nuser = \"x\"\nshell = \"/bin/sh\"\n", DenyReason::UnknownField, "run.shell");
}

TEST_CASE("run_as: names resolve at run time; unknown ones deny naming the field") {
  RunAs r;
  CHECK_FALSE(resolve_run_identity(r, nullptr)->has_value());  // no [run], no peer: the caller

  r.user = "nobody";
  auto id = resolve_run_identity(r, nullptr);
  REQUIRE(id.ok());
  REQUIRE(id->has_value());
  passwd* pw = getpwnam("nobody");
  REQUIRE(pw != nullptr);
  CHECK((*id)->uid == pw->pw_uid);
  CHECK((*id)->gid == pw->pw_gid);  // primary group by default
  CHECK((*id)->groups.empty());     // supplementary: none by default
  CHECK((*id)->source == "artifact");

  r.user = "gx-no-such-user-4711";
  auto missing = resolve_run_identity(r, nullptr);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().reason == DenyReason::RunAsUnavailable);
  CHECK(missing.error().field == "run.user");
  CHECK(missing.error().value == "gx-no-such-user-4711");

  r.user = "nobody";
  r.groups = {"root", "gx-no-such-group-4711"};
  auto badgroup = resolve_run_identity(r, nullptr);
  REQUIRE_FALSE(badgroup.ok());
  CHECK(badgroup.error().field == "run.groups[1]");

  // A uid without a passwd entry has no primary group: it must name one.
  RunAs numeric;
  numeric.user = "4000000001";
  auto nogroup = resolve_run_identity(numeric, nullptr);
  REQUIRE_FALSE(nogroup.ok());
  CHECK(nogroup.error().field == "run.group");
  numeric.group = "4000000002";
  numeric.capabilities = {"CAP_KILL"};
  auto ok = resolve_run_identity(numeric, nullptr);
  REQUIRE(ok.ok());
  CHECK((*ok)->uid == 4000000001u);
  CHECK((*ok)->gid == 4000000002u);
  CHECK((*ok)->capabilities == (1ULL << 5));
}

TEST_CASE("run_as: without [run] a brokered run gets the peer's identity, never the broker's") {
  PeerIdentity peer{1234, 1001, 1002, {1002, 27, 27}};
  auto id = resolve_run_identity(RunAs{}, &peer);
  REQUIRE(id.ok());
  REQUIRE(id->has_value());
  CHECK((*id)->uid == 1001);
  CHECK((*id)->gid == 1002);
  CHECK((*id)->groups == std::vector<gid_t>{1002, 27});
  CHECK((*id)->capabilities == 0);
  CHECK((*id)->source == "peer");
  // The artifact's [run] wins over the peer.
  RunAs r;
  r.user = "0";
  r.group = "0";
  auto art = resolve_run_identity(r, &peer);
  REQUIRE(art.ok());
  CHECK((*art)->uid == 0);
  CHECK((*art)->source == "artifact");
}

TEST_CASE("run_as: switching needs CAP_SETUID, CAP_SETGID and CAP_SETPCAP") {
  RunIdentity target = nobody_target();

  // No target: no change.
  auto none = prepare_credentials(std::nullopt, rights(1000, 1000, 0), 40);
  REQUIRE(none.ok());
  CHECK_FALSE(none->child().apply);
  CHECK(none->child().drop_caps == 0);
  CHECK(none->summary().is_null());
  // ... except that a privileged gx keeps CAP_SETFCAP, CAP_FSETID and CAP_SYS_NICE from it.
  const uint64_t all = (1ULL << 41) - 1;
  auto root_unswitched = prepare_credentials(std::nullopt, rights(0, 0, all), 40);
  REQUIRE(root_unswitched.ok());
  CHECK_FALSE(root_unswitched->child().apply);
  CHECK(root_unswitched->child().drop_caps == ((1ULL << 31) | (1ULL << 4) | (1ULL << 23)));
  // Without CAP_SETPCAP it could not drop them (and a process without it has none to pass on by design).
  auto no_setpcap = prepare_credentials(std::nullopt, rights(0, 0, all & ~(1ULL << 8)), 40);
  REQUIRE(no_setpcap.ok());
  CHECK(no_setpcap->child().drop_caps == 0);

  // Privileged: always switches, even to root itself (capabilities dropped).
  auto root = prepare_credentials(target, rights(0, 0, kSwitchCaps), 40);
  REQUIRE(root.ok());
  ChildCredentials c = root->child();
  CHECK(c.apply);
  CHECK(c.uid == 65534);
  CHECK(c.gid == 65534);
  CHECK(c.group_count == 0);
  CHECK(c.keep_caps == 0);
  CHECK(c.last_cap == 40);
  CHECK(root->summary()["switched"] == true);
  CHECK(root->summary()["uid"] == 65534);

  // Uid 0 without the capabilities is not enough (never assumed from uid 0).
  auto uid0 = prepare_credentials(target, rights(0, 0, 0), 40);
  REQUIRE_FALSE(uid0.ok());
  CHECK(uid0.error().reason == DenyReason::RunAsUnavailable);
  CHECK(uid0.error().field == "run.user");
  CHECK(uid0.error().value == "nobody");

  // Unprivileged: another user denies; itself runs unchanged.
  auto other = prepare_credentials(target, rights(1000, 1000, 0), 40);
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().reason == DenyReason::RunAsUnavailable);
  auto self = prepare_credentials(target, rights(65534, 65534, 0), 40);
  REQUIRE(self.ok());
  CHECK_FALSE(self->child().apply);
  CHECK(self->summary()["switched"] == false);

  // ... unless it asks for capabilities, which only a privileged gx can give.
  target.capabilities = 1ULL << 10;
  auto caps = prepare_credentials(target, rights(65534, 65534, 0), 40);
  REQUIRE_FALSE(caps.ok());
  CHECK(caps.error().field == "run.capabilities");
  // A capability the kernel does not know denies.
  target.capabilities = 1ULL << 40;
  auto unknown = prepare_credentials(target, rights(0, 0, kSwitchCaps), 39);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().value == "CAP_CHECKPOINT_RESTORE");
}

TEST_CASE("run_as: no switch to another user while fs.suid_dumpable is 1") {
  // The child shares gx's memory until its exec; suid_dumpable 1 would make
  // it traceable by the target user for a moment (lib/confine.cc).
  if (geteuid() != 0) {
    std::puts("SKIP: faking fs.suid_dumpable needs root (a bind mount over it)");
    return;
  }
  RunIdentity target = nobody_target();
  char fake[] = "/tmp/gx-suid-dumpable-XXXXXX";
  int fd = mkstemp(fake);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, "1\n", 2) == 2);
  close(fd);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount(fake, "/proc/sys/fs/suid_dumpable", nullptr, MS_BIND, nullptr) != 0)
      _exit(2);
    auto r = prepare_credentials(target, rights(0, 0, kSwitchCaps), 40);
    if (r.ok()) _exit(3);
    if (r.error().reason != DenyReason::RunAsUnavailable || r.error().field != "fs.suid_dumpable") _exit(4);
    // Root staying root (no uid change) is not affected.
    RunIdentity self = target;
    self.uid = 0;
    self.gid = 0;
    if (!prepare_credentials(self, rights(0, 0, kSwitchCaps), 40).ok()) _exit(5);
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  unlink(fake);
  INFO("child status " << status);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  // The real setting here (0 or 2) allows the switch.
  CHECK(prepare_credentials(target, rights(0, 0, kSwitchCaps), 40).ok());
}
