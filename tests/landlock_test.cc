// Landlock: the pure planning rules, the protected-path check, and what a
// real kernel enforces on a child confined with a prepared ruleset.
#include "lib/landlock.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "lib/executable.h"
#include "lib/fsutil.h"
#include "lib/landlock_uapi.h"
#include "tests/helpers/probe_harness.h"
#include "tests/landlock_fixture.h"

using namespace gx;
using gx::test::run_probe;
using gx::test::TempTree;

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

SandboxPolicy base_policy(const TempTree& t) {
  SandboxPolicy p;
  p.read = {"/usr", "/lib", "/lib64", "/etc", t.granted};
  p.write = {t.wdir};
  p.exec = {GX_HELPERS_DIR};
  p.network = NetMode::None;
  return p;
}

// `n` files dir/f0 .. f<n-1>, each added to `grants`.
void add_files(const std::string& dir, int n, std::vector<std::string>& grants) {
  REQUIRE(fs::make_dirs(dir, 0755));
  for (int i = 0; i < n; ++i) {
    std::string f = dir + "/f" + std::to_string(i);
    REQUIRE(fs::write_file_atomic(f, "content", 0644, fs::Overwrite::Yes));
    grants.push_back(f);
  }
}

// Moves `path` to `path`.old and puts a symlink to `target` in its place.
void replace_with_link(const std::string& path, const std::string& target) {
  REQUIRE(rename(path.c_str(), (path + ".old").c_str()) == 0);
  REQUIRE(symlink(target.c_str(), path.c_str()) == 0);
}

std::vector<std::string> loader() {
  auto interp = elf_interpreter(test::probe_path());
  REQUIRE(interp.ok());
  REQUIRE(!interp->empty());
  return {*interp};
}

// A TCP listener on 127.0.0.1 with a kernel-chosen port.
struct Listener {
  int fd = -1;
  uint16_t port = 0;
  Listener() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(fd, 8) == 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { close(fd); }
};

// A port nobody listens on and nobody is likely to bind meanwhile.
uint16_t free_port() {
  Listener l;
  return l.port;
}

int kernel_abi_or_skip(int needed) {
  int abi = landlock_abi();
  if (abi < needed) WARN("kernel Landlock ABI " << abi << " < " << needed << ": test skipped");
  return abi;
}

// Bind mounts for one test, made in a mount namespace of this test
// process's own (entered once, propagation private: nothing reaches the
// machine's, or hermetic.sh's, mounts) and detached when the test ends.
struct BindMounts {
  std::string why_not;  // non-empty: no mount namespace here, test skipped
  std::vector<std::string> made;
  BindMounts() {
    static const std::string once = []() -> std::string {
      if (geteuid() != 0) return "not root";
      if (unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
      if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        return std::string("making mounts private: ") + std::strerror(errno);
      return {};
    }();
    why_not = once;
    if (!why_not.empty()) WARN("bind mounts unavailable (" << why_not << "): test skipped");
  }
  void bind(const std::string& from, const std::string& to) {
    INFO("mount --bind " << from << " " << to);
    REQUIRE(mount(from.c_str(), to.c_str(), nullptr, MS_BIND, nullptr) == 0);
    made.push_back(to);
  }
  ~BindMounts() {
    for (auto it = made.rbegin(); it != made.rend(); ++it) umount2(it->c_str(), MNT_DETACH);
  }
};

}  // namespace

TEST_CASE("landlock_abi reports the running kernel's ABI") {
  int abi = landlock_abi();
  REQUIRE(abi >= 1);  // gx's target kernels have Landlock; this one has ABI 7
}

TEST_CASE("plan_landlock: unavailable and too-old kernels deny") {
  SandboxPolicy p;
  auto none = plan_landlock(-ENOSYS, p);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().reason == DenyReason::SandboxUnavailable);
  CHECK(plan_landlock(0, p).error().reason == DenyReason::SandboxUnavailable);

  p.min_landlock_abi = 5;
  p.allow_downgrade = {"net", "truncate", "ioctl-dev", "scope"};
  auto old = plan_landlock(4, p);
  REQUIRE_FALSE(old.ok());
  CHECK(old.error().reason == DenyReason::SandboxUnavailable);
  CHECK(old.error().field == "sandbox.min_landlock_abi");
  // allow_downgrade never overrides min_landlock_abi, nor "no Landlock".
  CHECK(plan_landlock(-EOPNOTSUPP, p).error().reason == DenyReason::SandboxUnavailable);
}

TEST_CASE("plan_landlock: a missing right family denies unless downgraded") {
  SandboxPolicy p;
  struct Case {
    int abi;
    const char* first_missing;
  };
  for (auto c : {Case{1, "truncate"}, Case{2, "truncate"}, Case{3, "net"}, Case{4, "ioctl-dev"}, Case{5, "scope"}}) {
    auto r = plan_landlock(c.abi, p);
    INFO("abi " << c.abi);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == DenyReason::SandboxUnavailable);
    CHECK(r.error().value == c.first_missing);
  }
  p.allow_downgrade = {"net", "ioctl-dev", "scope"};
  auto r3 = plan_landlock(3, p);
  REQUIRE(r3.ok());
  CHECK(r3->downgraded == std::vector<std::string>{"net", "ioctl-dev", "scope"});
  CHECK(r3->net_handled == 0);
  CHECK(r3->scoped == 0);
  CHECK((r3->fs_handled & ll::kAccessFsTruncate) != 0);
  CHECK((r3->fs_handled & ll::kAccessFsIoctlDev) == 0);
  CHECK((r3->write_access & ll::kAccessFsTruncate) != 0);

  p.allow_downgrade = {"net", "ioctl-dev", "scope", "truncate"};
  auto r1 = plan_landlock(1, p);
  REQUIRE(r1.ok());
  CHECK((r1->fs_handled & ll::kAccessFsRefer) == 0);
  CHECK(r1->write_access == (r1->write_access & ll::fs_rights_for_abi(1)));
  REQUIRE(r1->notes.size() == 1);  // refer: stricter, noted, not a downgrade
  CHECK_FALSE(contains(r1->downgraded, "refer"));
}

TEST_CASE("plan_landlock: ABI 7 handles everything and grants minimal rights") {
  SandboxPolicy p;
  auto r = plan_landlock(7, p);
  REQUIRE(r.ok());
  CHECK(r->downgraded.empty());
  CHECK(r->fs_handled == ll::fs_rights_for_abi(7));
  CHECK(r->fs_handled == (ll::kAccessFsIoctlDev << 1) - 1);
  CHECK(r->net_handled == (ll::kAccessNetBindTcp | ll::kAccessNetConnectTcp));
  CHECK(r->scoped == (ll::kScopeSignal | ll::kScopeAbstractUnixSocket));
  CHECK(r->read_access == (ll::kAccessFsReadFile | ll::kAccessFsReadDir));
  CHECK(r->exec_access == (ll::kAccessFsExecute | ll::kAccessFsReadFile));
  CHECK((r->write_access &
         (ll::kAccessFsMakeChar | ll::kAccessFsMakeBlock | ll::kAccessFsIoctlDev | ll::kAccessFsExecute)) == 0);
  CHECK((r->write_access & ll::kAccessFsWriteFile) != 0);
  CHECK(r->restrict_flags == 0);
  p.log_denials = true;
  CHECK(plan_landlock(7, p)->restrict_flags == ll::kRestrictSelfLogNewExecOn);
  CHECK(plan_landlock(6, p)->restrict_flags == 0);

  auto future = plan_landlock(9, SandboxPolicy{});
  REQUIRE(future.ok());
  CHECK(future->abi == 7);
  CHECK_FALSE(future->notes.empty());
}

TEST_CASE("plan_landlock: malformed policies are rejected") {
  SandboxPolicy p;
  p.allow_downgrade = {"net", "everything"};
  auto r = plan_landlock(7, p);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason == DenyReason::InvalidValue);
  CHECK(r.error().field == "sandbox.allow_downgrade[1]");

  SandboxPolicy q;
  q.connect_tcp = {443};
  CHECK(plan_landlock(7, q).error().reason == DenyReason::InvalidValue);
  q.network = NetMode::Tcp;
  CHECK(plan_landlock(7, q).ok());
}

TEST_CASE("ruleset_attr_size follows the ABI") {
  CHECK(ll::ruleset_attr_size(1) == 8);
  CHECK(ll::ruleset_attr_size(3) == 8);
  CHECK(ll::ruleset_attr_size(4) == 16);
  CHECK(ll::ruleset_attr_size(5) == 16);
  CHECK(ll::ruleset_attr_size(6) == 24);
  CHECK(ll::ruleset_attr_size(7) == 24);
}

TEST_CASE("confined child: a grant containing gx's files is expanded around them") {
  if (kernel_abi_or_skip(3) < 3) return;
  TempTree t;
  std::string state = t.root + "/home/.local/state/gx";
  std::string cfg = t.root + "/home/.config/gx";
  std::string home = t.root + "/home";
  REQUIRE(fs::make_dirs(state, 0700));
  REQUIRE(fs::make_dirs(cfg, 0700));
  REQUIRE(fs::make_dirs(home + "/docs", 0755));
  for (const auto& f :
       {state + "/receipt.key", state + "/uses.db", cfg + "/trust.toml", home + "/docs/a", home + "/.local/other"})
    REQUIRE(fs::write_file_atomic(f, "content", 0644, fs::Overwrite::Yes));
  REQUIRE(symlink(state.c_str(), (home + "/link-to-state").c_str()) == 0);
  ProtectedPaths prot{{state, cfg}, {state + "/receipt.key"}, {}};
  SandboxPolicy p = base_policy(t);
  p.read.push_back(t.root);  // contains everything
  p.write.push_back(home);   // contains the state and the trust store

  auto rs = prepare_ruleset(p, prot, loader());
  REQUIRE(rs.ok());
  const auto& ex = rs->enforcement().expanded;
  REQUIRE(ex.size() == 2);
  std::string h = fs::canonical(home);
  CHECK(ex[1].field == "sandbox.write[1]");
  CHECK(ex[1].excluded == std::vector<std::string>{h + "/.config/gx", h + "/.local/state/gx"});
  CHECK(contains(ex[1].listable, h));
  CHECK(contains(ex[1].listable, h + "/.local"));
  CHECK(contains(ex[1].granted, h + "/docs"));
  CHECK(contains(ex[1].granted, h + "/.local/other"));
  CHECK_FALSE(contains(ex[1].granted, h + "/.local/state/gx"));
  CHECK(ex[1].skipped_symlinks == std::vector<std::string>{h + "/link-to-state"});
  nlohmann::json j = rs->enforcement();
  CHECK(j["expanded"][1]["grant"] == h);

  auto run = run_probe({.ruleset_fd = rs->fd()}, {"read",  home + "/docs/a",
                                                  "write", home + "/docs/new",
                                                  "read",  home + "/.local/other",
                                                  "list",  home,
                                                  "read",  state + "/receipt.key",
                                                  "read",  state + "/uses.db",
                                                  "write", state + "/uses.db",
                                                  "read",  cfg + "/trust.toml",
                                                  "write", cfg + "/trust.toml",
                                                  "write", home + "/new-in-expanded-dir",
                                                  "read",  home + "/link-to-state/uses.db"});
  INFO(run.out);
  REQUIRE_FALSE(run.failure);
  CHECK(run.results == std::vector<int>{0, 0, 0, 0, EACCES, EACCES, EACCES, EACCES, EACCES, EACCES, EACCES});
  CHECK(fs::exists(home + "/docs/new"));
  CHECK_FALSE(fs::exists(home + "/new-in-expanded-dir"));
  CHECK(fs::read_file(state + "/uses.db", 100).take() == "content");
  CHECK(fs::read_file(cfg + "/trust.toml", 100).take() == "content");
}

TEST_CASE("prepare_ruleset: path errors and the enforcement summary") {
  if (kernel_abi_or_skip(6) < 6) return;
  TempTree t;
  SandboxPolicy p = base_policy(t);

  SECTION("a missing write or exec path denies") {
    p.write.push_back(t.root + "/missing");
    auto r = prepare_ruleset(p, {}, loader());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == DenyReason::InvalidValue);
    CHECK(r.error().field == "sandbox.write[1]");
    p.write.pop_back();
    p.exec.push_back(t.root + "/missing");
    CHECK(prepare_ruleset(p, {}, loader()).error().field == "sandbox.exec[1]");
  }
  SECTION("a missing optional system read path is skipped and reported") {
    std::string absent;
    for (auto o : kOptionalReadPaths)
      if (!fs::exists(std::string(o))) absent = std::string(o);
    if (absent.empty()) return;
    p.read.push_back(absent);
    auto r = prepare_ruleset(p, {}, loader());
    REQUIRE(r.ok());
    CHECK(r->enforcement().skipped_paths == std::vector<std::string>{absent});
  }
  SECTION("a missing ordinary read path denies, relative paths deny") {
    p.read.push_back(t.root + "/missing");
    CHECK(prepare_ruleset(p, {}, loader()).error().field == "sandbox.read[5]");
    p.read.back() = "relative/dir";
    CHECK(prepare_ruleset(p, {}, loader()).error().reason == DenyReason::InvalidValue);
  }
  SECTION("files get file rights only, the summary lists what is enforced") {
    p.read.push_back("/etc/hostname");
    p.write.push_back(t.denied + "/f");
    p.allow_downgrade = {"net"};  // accepted but unused on ABI >= 4
    auto r = prepare_ruleset(p, {}, loader());
    REQUIRE(r.ok());
    CHECK(r->fd() >= 0);
    CHECK((fcntl(r->fd(), F_GETFD) & FD_CLOEXEC) != 0);
    const auto& e = r->enforcement();
    CHECK(e.abi >= 6);
    CHECK(contains(e.fs_handled, "execute"));
    CHECK(contains(e.fs_handled, "truncate"));
    CHECK(contains(e.net_handled, "connect_tcp"));
    CHECK(contains(e.scoped, "signal"));
    CHECK(e.downgraded.empty());
    nlohmann::json j = e;
    CHECK(j["landlock_abi"] == e.abi);
    CHECK(j["scoped"].size() == 2);
  }
  SECTION("more grants than are held open at once: each still gets its rule and its check") {
    // prepare_ruleset holds the first 256 grants' descriptors; later ones are
    // opened when their rule is added. 600 files, with the fd limit lowered
    // below that: all granted, the last one still checked.
    const std::string many = t.root + "/many";
    add_files(many, 600, p.read);
    rlimit old{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
    rlimit low = old;
    low.rlim_cur = 400;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    auto r = prepare_ruleset(p, {}, loader());
    p.write.push_back(many + "/f599");
    auto protected_last = prepare_ruleset(p, ProtectedPaths{{many + "/f599"}, {}, {}}, loader());
    REQUIRE(setrlimit(RLIMIT_NOFILE, &old) == 0);
    REQUIRE(r.ok());
    auto run = run_probe({.ruleset_fd = r->fd()}, {"read", many + "/f0", "read", many + "/f300", "read", many + "/f599",
                                                   "read", t.denied + "/f"});
    INFO(run.out);
    REQUIRE_FALSE(run.failure);
    CHECK(run.results == std::vector<int>{0, 0, 0, EACCES});
    REQUIRE_FALSE(protected_last.ok());
    CHECK(protected_last.error().reason == DenyReason::PolicyMismatch);
    CHECK(protected_last.error().field == "sandbox.write[1]");
  }
  SECTION("a grant moved between its check and its rule is refused, whether or not its descriptor was held") {
    // 300 write grants first: the last write grant comes after the held
    // ones and is opened again for its rule. Between the checks and the rules it
    // becomes a symlink to the exec directory: a write rule there would let
    // the child write a program and run it.
    const std::string many = t.root + "/many", bin = t.root + "/bin", w = t.root + "/w";
    for (const auto& d : {bin, w}) REQUIRE(fs::make_dirs(d, 0755));
    add_files(many, 300, p.write);
    p.exec.push_back(bin);
    p.write.push_back(w);
    auto moved = prepare_ruleset_at_abi(landlock_abi(), p, {}, loader(), {}, [&] { replace_with_link(w, bin); });
    REQUIRE_FALSE(moved.ok());
    CHECK(moved.error().reason == DenyReason::PolicyMismatch);
    CHECK(moved.error().field == "sandbox.write[301]");
    CHECK(moved.error().detail.find("moved while its grant was checked") != std::string::npos);
  }
  SECTION("a grant missing when checked is not opened again when it appears") {
    const std::string bin = t.root + "/bin", later = t.root + "/later";
    REQUIRE(fs::make_dirs(bin, 0755));
    p.exec.push_back(bin);
    p.write.push_back(later);
    auto r = prepare_ruleset_at_abi(landlock_abi(), p, {}, loader(), {},
                                    [&] { REQUIRE(symlink(bin.c_str(), later.c_str()) == 0); });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == DenyReason::InvalidValue);
    CHECK(r.error().field == "sandbox.write[1]");
    CHECK(r.error().detail.find("No such file") != std::string::npos);
  }
  SECTION("a path named twice is one grant: both rules on what was checked") {
    const std::string bin = t.root + "/bin", w = t.root + "/w";
    for (const auto& d : {bin, w}) REQUIRE(fs::make_dirs(d, 0755));
    REQUIRE(fs::write_file_atomic(w + "/f", "content", 0644, fs::Overwrite::Yes));
    p.exec.push_back(bin);
    p.read.push_back(w);
    p.write.push_back(w);
    auto r = prepare_ruleset_at_abi(landlock_abi(), p, {}, loader(), {}, [&] { replace_with_link(w, bin); });
    REQUIRE(r.ok());
    // The rules went on the directory that was checked (now w.old), not bin.
    auto run = run_probe({.ruleset_fd = r->fd()}, {"write", w + ".old/new", "write", bin + "/new"});
    INFO(run.out);
    REQUIRE_FALSE(run.failure);
    CHECK(run.results == std::vector<int>{0, EACCES});
  }
  SECTION("a grant on a file removed since it was opened is ruled on its descriptor") {
    // In-place execution grants /proc/self/fd/N of the verified file, which
    // may have been renamed over meanwhile: no path to check, still ruled.
    const std::string f = t.granted + "/gone";
    REQUIRE(fs::write_file_atomic(f, "content", 0755, fs::Overwrite::Yes));
    fs::UniqueFd held(open(f.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(held.ok());
    REQUIRE(unlink(f.c_str()) == 0);
    auto exec = loader();
    exec.push_back("/proc/self/fd/" + std::to_string(held.get()));
    auto r = prepare_ruleset(p, ProtectedPaths{{t.granted}, {}, {}}, exec);
    INFO((r.ok() ? std::string() : r.error().detail));
    CHECK(r.ok());
    // With more grants than are held: gx's own grants are opened first and
    // held, so the run does not depend on how many paths the artifact lists.
    add_files(t.root + "/many", 300, p.read);
    auto many = prepare_ruleset(p, ProtectedPaths{{t.granted}, {}, {}}, exec);
    INFO((many.ok() ? std::string() : many.error().detail));
    CHECK(many.ok());
  }
  SECTION("a low fd limit: fewer descriptors held, every grant still ruled") {
    // Exactly `room` free descriptors. With 60 grants, from one up: holding
    // stops where an open, or the naming of the descriptor just opened (a
    // CI run failed on that boundary alone), reaches the limit. With 300,
    // just past the 256 held: holding stops at its bound with the limit
    // close behind. Each must end in the same complete ruleset.
    const auto [grant_count, first_room, last_room] = GENERATE(table<int, int, int>({{60, 1, 24}, {300, 250, 270}}));
    const std::string many = t.root + "/many";
    add_files(many, grant_count, p.read);
    const auto interp = loader();
    int highest = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
      highest = std::max(highest, std::stoi(entry.path().filename().string()));
    rlimit old{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(highest + last_room + 40);
    Result<PreparedRuleset> r = Decision::deny(DenyReason::IoError, "not run");
    for (int room = first_room; room <= last_room; ++room) {
      REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
      std::vector<fs::UniqueFd> fillers;
      for (;;) {
        fs::UniqueFd f(open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (!f.ok()) break;
        fillers.push_back(std::move(f));
      }
      REQUIRE(fillers.size() > static_cast<size_t>(room));
      fillers.resize(fillers.size() - static_cast<size_t>(room));
      r = prepare_ruleset(p, {}, interp);
      fillers.clear();
      REQUIRE(setrlimit(RLIMIT_NOFILE, &old) == 0);
      INFO(grant_count << " grants, room for " << room
                       << " descriptors: " << (r.ok() ? std::string() : r.error().detail));
      if (room >= 3) {
        REQUIRE(r.ok());
      } else {  // the ruleset, a grant and its name: below that, refused for the limit it hit
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().reason == DenyReason::IoError);
        CHECK_THAT(r.error().detail, Catch::Contains("Too many open files"));
      }
    }
    const std::string last = many + "/f" + std::to_string(grant_count - 1);
    auto run = run_probe({.ruleset_fd = r->fd()},
                         {"read", many + "/f0", "read", many + "/f30", "read", last, "read", t.denied + "/f"});
    INFO(run.out);
    REQUIRE_FALSE(run.failure);
    CHECK(run.results == std::vector<int>{0, 0, 0, EACCES});
  }
  SECTION("protected paths are checked") {
    p.write.push_back(t.root + "/state/sub");
    auto r = prepare_ruleset(p, ProtectedPaths{{t.root + "/state"}, {}, {}}, loader());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == DenyReason::PolicyMismatch);
  }
}

TEST_CASE("prepare_ruleset: names() are the names of the descriptors the rules went on") {
  // Lineage fixes a running parent's bounds to these and checks a child's
  // rules by them (lib/attenuation.h): a grant reached through a symlink is
  // named by its target, held or opened again, and never by what it was
  // called when an earlier check resolved it.
  if (kernel_abi_or_skip(6) < 6) return;
  TempTree t;
  SandboxPolicy p = base_policy(t);
  const std::string link = t.root + "/link", many = t.root + "/many", bin = t.root + "/bin";
  REQUIRE(fs::make_dirs(bin, 0755));
  REQUIRE(symlink(t.denied.c_str(), link.c_str()) == 0);
  p.read.push_back(link);
  p.exec.push_back(bin);
  p.exec_writable = {bin};
  p.write.push_back(bin);
  add_files(many, 300, p.read);  // beyond the held descriptors: the last ones are opened again
  p.read.push_back(link + "/f");
  p.read.push_back("/lib32");  // optional, maybe absent: its planned name
  auto r = prepare_ruleset(p, {}, loader());
  INFO((r.ok() ? std::string() : r.error().explain()));
  REQUIRE(r.ok());
  const GrantNames& n = r->names();
  REQUIRE(n.read.size() == p.read.size());
  REQUIRE(n.write.size() == p.write.size());
  REQUIRE(n.exec.size() == p.exec.size());
  REQUIRE(n.exec_writable.size() == 1);
  const std::string denied = fs::canonical(t.denied), root = fs::canonical(t.root);
  CHECK(n.read[5] == denied);
  CHECK(n.read[4] == fs::canonical(t.granted));
  CHECK(n.read[305] == root + "/many/f299");
  CHECK(n.read[306] == denied + "/f");
  CHECK(n.read[307] == canonical_or_planned("/lib32"));
  CHECK(n.write == std::vector<std::string>{fs::canonical(t.wdir), root + "/bin"});
  CHECK(n.exec[1] == root + "/bin");
  CHECK(n.exec_writable[0] == root + "/bin");
}

TEST_CASE("prepare_ruleset: grants are checked by file-system position, not by path (bind mounts)") {
  // Landlock rules attach to inodes: a grant on a bind-mount alias of gx's
  // state directory reaches the state directory whatever its path says.
  if (kernel_abi_or_skip(3) < 3) return;
  TempTree t;
  BindMounts mnt;
  if (!mnt.why_not.empty()) return;
  const std::string state = t.root + "/state", tr = t.root + "/tr";
  for (const auto& d : {state, state + "/sub", tr}) REQUIRE(fs::make_dirs(d, 0700));
  for (const auto& f : {state + "/receipt.key", state + "/receipts.log", tr + "/trust.toml"})
    REQUIRE(fs::write_file_atomic(f, "content", 0600, fs::Overwrite::Yes));
  const ProtectedPaths prot{{state, tr}, {state + "/receipt.key"}, {}};
  SandboxPolicy p = base_policy(t);
  auto mkdirs = [](std::initializer_list<std::string> dirs) {
    for (const auto& d : dirs) REQUIRE(fs::make_dirs(d, 0755));
  };

  SECTION("a write grant on an alias of the state directory, of a directory in it, of the trust store's") {
    const std::string salias = t.root + "/salias", talias = t.root + "/talias";
    mkdirs({salias, talias});
    mnt.bind(state, salias);
    mnt.bind(tr, talias);
    for (const auto& grant : {salias, salias + "/sub", talias}) {
      p.write = {t.wdir, grant};
      auto r = prepare_ruleset(p, prot, loader());
      INFO(grant << ": " << (r.ok() ? "accepted" : r.error().explain()));
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().reason == DenyReason::PolicyMismatch);
      CHECK(r.error().field == "sandbox.write[1]");
      CHECK(r.error().value == grant);
      CHECK_THAT(r.error().detail, Catch::Contains("through another mount"));
    }
  }
  SECTION("a read grant on the alias is expanded around the secret, as the state directory's own path is") {
    const std::string salias = t.root + "/salias";
    mkdirs({salias});
    mnt.bind(state, salias);
    p.read.push_back(salias);
    auto r = prepare_ruleset(p, prot, loader());
    INFO((r.ok() ? std::string() : r.error().explain()));
    REQUIRE(r.ok());
    REQUIRE(r->enforcement().expanded.size() == 1);
    CHECK(r->enforcement().expanded[0].excluded == std::vector<std::string>{salias + "/receipt.key"});
    auto run = run_probe({.ruleset_fd = r->fd()}, {"read", salias + "/receipts.log", "read", salias + "/receipt.key",
                                                   "read", state + "/receipt.key"});
    INFO(run.out);
    REQUIRE_FALSE(run.failure);
    CHECK(run.results == std::vector<int>{0, EACCES, EACCES});
  }
  SECTION("an exec grant on an alias of a write grant, or inside one, is refused") {
    const std::string bw = t.root + "/bw", bx = t.root + "/bx";
    mkdirs({bw + "/sub", bx});
    mnt.bind(bw, bx);
    for (const auto& exec : {bx, bx + "/sub"}) {
      p.exec = {GX_HELPERS_DIR, exec};
      p.write = {bw};
      auto r = prepare_ruleset(p, prot, loader());
      INFO(exec << ": " << (r.ok() ? "accepted" : r.error().explain()));
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().reason == DenyReason::PolicyMismatch);
      CHECK(r.error().field == "sandbox.exec[1]");
      CHECK_THAT(r.error().detail, Catch::Contains("overlaps write grant " + bw));
    }
    // A write grant inside the exec grant's alias too.
    p.exec = {GX_HELPERS_DIR, bw};
    p.write = {bx + "/sub"};
    auto r = prepare_ruleset(p, prot, loader());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "sandbox.exec[1]");
    // exec_writable still accepts it, by name.
    p.exec_writable = {bw};
    CHECK(prepare_ruleset(p, prot, loader()).ok());
  }
  SECTION("the state directory mounted inside a grant: write expanded around it, exec refused") {
    const std::string data = t.root + "/data";
    mkdirs({data + "/inner", data + "/other"});
    mnt.bind(state, data + "/inner");
    p.write.push_back(data);
    auto r = prepare_ruleset(p, prot, loader());
    INFO((r.ok() ? std::string() : r.error().explain()));
    REQUIRE(r.ok());
    REQUIRE(r->enforcement().expanded.size() == 1);
    CHECK(r->enforcement().expanded[0].field == "sandbox.write[1]");
    CHECK(r->enforcement().expanded[0].excluded == std::vector<std::string>{data + "/inner"});
    auto run =
        run_probe({.ruleset_fd = r->fd()}, {"write", data + "/other/new", "write", data + "/inner/receipts.log", "read",
                                            data + "/inner/receipt.key", "write", state + "/receipts.log"});
    INFO(run.out);
    REQUIRE_FALSE(run.failure);
    CHECK(run.results == std::vector<int>{0, EACCES, EACCES, EACCES});
    CHECK(fs::read_file(state + "/receipts.log", 100).take() == "content");

    p.write.pop_back();
    p.exec.push_back(data);
    auto x = prepare_ruleset(p, prot, loader());
    REQUIRE_FALSE(x.ok());
    CHECK(x.error().reason == DenyReason::PolicyMismatch);
    CHECK(x.error().field == "sandbox.exec[1]");
    CHECK_THAT(x.error().detail, Catch::Contains("secret path"));
  }
  SECTION("the state directory mounted inside another alias of the grant's directory") {
    // g is also mounted at h, and the state directory at h/inner: the kernel
    // walks up from h/inner through g's inode, so a rule on g covers it.
    const std::string g = t.root + "/g", h = t.root + "/h";
    mkdirs({g + "/inner", g + "/other", h});
    mnt.bind(g, h);
    mnt.bind(state, h + "/inner");
    p.write.push_back(g);
    auto r = prepare_ruleset(p, prot, loader());
    INFO((r.ok() ? std::string() : r.error().explain()));
    REQUIRE(r.ok());
    REQUIRE(r->enforcement().expanded.size() == 1);
    CHECK(r->enforcement().expanded[0].excluded == std::vector<std::string>{g + "/inner"});
    auto run = run_probe({.ruleset_fd = r->fd()},
                         {"write", g + "/other/new", "write", h + "/inner/receipts.log", "write", h + "/other/new2"});
    INFO(run.out);
    REQUIRE_FALSE(run.failure);
    CHECK(run.results == std::vector<int>{0, EACCES, 0});
  }
  SECTION("legitimate grants beside gx's files and beside other mounts are accepted unchanged") {
    const std::string next = t.root + "/next", other = t.root + "/other", alias = t.root + "/other-alias";
    mkdirs({next, other, alias});
    mnt.bind(other, alias);
    p.write.push_back(next);
    p.write.push_back(alias);
    p.read.push_back(t.root + "/tr/trust.toml");  // reading the trust store is allowed, by any name
    auto r = prepare_ruleset(p, prot, loader());
    INFO((r.ok() ? std::string() : r.error().explain()));
    REQUIRE(r.ok());
    CHECK(r->enforcement().expanded.empty());
  }
}

TEST_CASE("confined child: filesystem grants") {
  if (kernel_abi_or_skip(3) < 3) return;
  TempTree t;
  auto rs = prepare_ruleset(base_policy(t), {}, loader());
  REQUIRE(rs.ok());
  auto run = run_probe({.ruleset_fd = rs->fd()},
                       {"read",  t.granted + "/f",   "read",     t.denied + "/f",  "list",     t.granted,
                        "list",  t.denied,           "write",    t.wdir + "/new",  "write",    t.granted + "/new",
                        "write", t.denied + "/new",  "truncate", t.granted + "/f", "truncate", t.wdir + "/f",
                        "read",  "/proc/self/status"});
  INFO(run.out);
  REQUIRE_FALSE(run.failure);
  REQUIRE(run.results == std::vector<int>{0, EACCES, 0, EACCES, 0, EACCES, EACCES, EACCES, 0, EACCES});
  // The denied writes did not happen; the allowed ones did.
  CHECK(fs::exists(t.wdir + "/new"));
  CHECK_FALSE(fs::exists(t.granted + "/new"));
  CHECK_FALSE(fs::exists(t.denied + "/new"));
  CHECK(fs::read_file(t.granted + "/f", 100).take() == "content");
  CHECK(fs::read_file(t.wdir + "/f", 100).take().empty());
}

TEST_CASE("confined child: execute only beneath exec paths, loader needed") {
  if (kernel_abi_or_skip(1) < 1) return;
  TempTree t;
  auto rs = prepare_ruleset(base_policy(t), {}, loader());
  REQUIRE(rs.ok());
  auto outside = run_probe({.ruleset_fd = rs->fd()}, {"exec", "/usr/bin/true"});
  REQUIRE_FALSE(outside.failure);
  CHECK(outside.results == std::vector<int>{EACCES});

  auto inside = run_probe({.ruleset_fd = rs->fd()}, {"exec", test::probe_path()});
  REQUIRE_FALSE(inside.failure);
  CHECK(inside.results == std::vector<int>{0});  // printed by the exec'd probe

  // Without the loader rule even the granted binary cannot start.
  auto no_loader = prepare_ruleset(base_policy(t), {});
  REQUIRE(no_loader.ok());
  auto fail = run_probe({.ruleset_fd = no_loader->fd()}, {"true", "-"});
  REQUIRE(fail.failure);
  CHECK(fail.failure->step == static_cast<int32_t>(ConfineStep::Exec));
  CHECK(fail.failure->err == EACCES);
  CHECK(fail.out.empty());
}

TEST_CASE("confined child: memfd execution under Landlock (design finding)") {
  if (kernel_abi_or_skip(1) < 1) return;
  TempTree t;
  // Sealed memfd copy of the probe, as gx run will exec it.
  int src = open(test::probe_path().c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(src >= 0);
  int mfd = memfd_create("gx-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  REQUIRE(mfd >= 0);
  char buf[65536];
  ssize_t n;
  while ((n = read(src, buf, sizeof buf)) > 0) REQUIRE(write(mfd, buf, static_cast<size_t>(n)) == n);
  close(src);
  REQUIRE(fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) == 0);

  SandboxPolicy p = base_policy(t);
  p.exec = {};  // the probe's directory is NOT executable
  auto rs = prepare_ruleset(p, {}, loader());
  REQUIRE(rs.ok());
  // Finding: Landlock does not check execute on memfd files (they live on an
  // internal, unreachable mount), so the sealed copy runs with only the
  // loader granted ...
  auto run = run_probe({.ruleset_fd = rs->fd(), .exec_fd = mfd}, {"true", "-"});
  INFO(run.out);
  REQUIRE_FALSE(run.failure);
  CHECK(run.results == std::vector<int>{0});
  // ... and, equally, a confined child can run code that is in no exec path
  // by copying it into its own memfd (execute is not a code-integrity
  // boundary; seccomp or vm.memfd_noexec must close that if required).
  auto self = prepare_ruleset(base_policy(t), {}, loader());
  auto own = run_probe({.ruleset_fd = self->fd()}, {"memfd-exec", "-"});
  INFO(own.out);
  CHECK(own.results == std::vector<int>{0});
  // The loader is still opened by path: without its rule the memfd fails.
  auto no_loader = prepare_ruleset(p, {});
  auto fail = run_probe({.ruleset_fd = no_loader->fd(), .exec_fd = mfd}, {"true", "-"});
  REQUIRE(fail.failure);
  CHECK(fail.failure->err == EACCES);
  close(mfd);
}

TEST_CASE("confined child: TCP connect and bind only to listed ports") {
  if (kernel_abi_or_skip(4) < 4) return;
  TempTree t;
  Listener allowed, other;
  uint16_t bind_ok = free_port(), bind_no = free_port();
  SandboxPolicy p = base_policy(t);
  p.network = NetMode::Tcp;
  p.connect_tcp = {allowed.port};
  p.bind_tcp = {bind_ok};
  auto rs = prepare_ruleset(p, {}, loader());
  REQUIRE(rs.ok());
  auto run = run_probe({.ruleset_fd = rs->fd()},
                       {"connect", std::to_string(allowed.port), "connect", std::to_string(other.port), "bind",
                        std::to_string(bind_ok), "bind", std::to_string(bind_no)});
  REQUIRE_FALSE(run.failure);
  CHECK(run.results == std::vector<int>{0, EACCES, 0, EACCES});

  SandboxPolicy none = base_policy(t);
  auto rs_none = prepare_ruleset(none, {}, loader());
  REQUIRE(rs_none.ok());
  auto run_none = run_probe({.ruleset_fd = rs_none->fd()},
                            {"connect", std::to_string(allowed.port), "bind", std::to_string(bind_ok)});
  CHECK(run_none.results == std::vector<int>{EACCES, EACCES});

  // A downgrade really means unenforced: at ABI 3 the same policy connects.
  none.allow_downgrade = {"net", "ioctl-dev", "scope"};
  auto rs3 = prepare_ruleset_at_abi(3, none, {}, loader());
  REQUIRE(rs3.ok());
  CHECK(rs3->enforcement().downgraded == std::vector<std::string>{"net", "ioctl-dev", "scope"});
  CHECK(rs3->enforcement().net_handled.empty());
  auto run3 = run_probe({.ruleset_fd = rs3->fd()}, {"connect", std::to_string(other.port)});
  CHECK(run3.results == std::vector<int>{0});
}

namespace {
// Forks a "supervisor" that blocks SIGTERM and runs a confined probe doing
// kill-parent and abstract; returns {kill errno, abstract errno, SIGTERM
// pending in the supervisor}.
std::vector<int> scope_probe(int ruleset_fd, const std::string& abstract_name) {
  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  pid_t sup = fork();
  if (sup == 0) {
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, nullptr);
    auto run = run_probe({.ruleset_fd = ruleset_fd}, {"kill-parent", "-", "abstract", abstract_name});
    sigset_t pending;
    sigpending(&pending);
    int out[3] = {run.results.size() == 2 ? run.results[0] : -1, run.results.size() == 2 ? run.results[1] : -1,
                  sigismember(&pending, SIGTERM)};
    if (write(pipefd[1], out, sizeof out) != sizeof out) _exit(1);
    _exit(0);
  }
  close(pipefd[1]);
  int out[3] = {-2, -2, -2};
  REQUIRE(read(pipefd[0], out, sizeof out) == sizeof out);
  close(pipefd[0]);
  int status = 0;
  waitpid(sup, &status, 0);
  return {out[0], out[1], out[2]};
}
}  // namespace

TEST_CASE("confined child: scoped signals and abstract sockets") {
  if (kernel_abi_or_skip(6) < 6) return;
  TempTree t;
  std::string name = "gx-ll-test-" + std::to_string(getpid());
  int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  memcpy(a.sun_path + 1, name.data(), name.size());
  REQUIRE(bind(ls, reinterpret_cast<sockaddr*>(&a),
               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())) == 0);
  REQUIRE(listen(ls, 8) == 0);

  auto rs = prepare_ruleset(base_policy(t), {}, loader());
  REQUIRE(rs.ok());
  CHECK(scope_probe(rs->fd(), name) == std::vector<int>{EPERM, EPERM, 0});

  // Control: at ABI 5 (scope downgraded) the same child reaches both.
  SandboxPolicy p = base_policy(t);
  p.allow_downgrade = {"scope"};
  auto rs5 = prepare_ruleset_at_abi(5, p, {}, loader());
  REQUIRE(rs5.ok());
  CHECK(rs5->enforcement().downgraded == std::vector<std::string>{"scope"});
  CHECK(scope_probe(rs5->fd(), name) == std::vector<int>{0, 0, 1});
  close(ls);
}
