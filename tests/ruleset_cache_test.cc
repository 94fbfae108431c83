// RulesetCache: a kept Landlock ruleset is reused only while every path it
// was built on reaches the same file by the same name in an unchanged mount
// table; each change below makes the next request build afresh, and the
// fresh ruleset is what a confined child gets.
#include "lib/ruleset_cache.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <functional>
#include <thread>

#include "lib/executable.h"
#include "lib/fsutil.h"
#include "lib/process_baseline.h"
#include "lib/side_task.h"
#include "tests/helpers/probe_harness.h"
#include "tests/landlock_fixture.h"

using namespace gx;
using gx::test::run_probe;
using gx::test::TempTree;

namespace {

bool landlock_or_skip() {
  if (landlock_abi() >= 1) return true;
  WARN("no Landlock on this kernel: test skipped");
  return false;
}

std::vector<std::string> loader() {
  auto interp = elf_interpreter(test::probe_path());
  REQUIRE(interp.ok());
  return {*interp};
}

SandboxPolicy policy_of(const TempTree& t) {
  SandboxPolicy p;
  p.read = {"/usr", "/lib", "/lib64", "/etc", t.granted};
  p.write = {t.wdir};
  p.exec = {GX_HELPERS_DIR};
  return p;
}

// What a child confined by `rs` gets reading `path` (0 or errno).
int child_reads(const PreparedRuleset& rs, const std::string& path) {
  auto run = run_probe({.ruleset_fd = rs.fd()}, {"read", path});
  INFO(run.out);
  REQUIRE_FALSE(run.failure);
  REQUIRE(run.results.size() == 1);
  return run.results[0];
}

// The granted directory moved away to root/was, a new one (holding g) made at its name.
void replace_granted(const TempTree& t) {
  REQUIRE(rename(t.granted.c_str(), (t.root + "/was").c_str()) == 0);
  REQUIRE(mkdir(t.granted.c_str(), 0755) == 0);
  REQUIRE(fs::write_file_atomic(t.granted + "/g", "new", 0644, fs::Overwrite::Yes));
}

}  // namespace

TEST_CASE("ruleset cache: the same inputs on unchanged paths reuse the kept ruleset") {
  if (!landlock_or_skip()) return;
  TempTree t;
  RulesetCache cache;
  const SandboxPolicy p = policy_of(t);
  auto first = cache.prepare(p, ProtectedPaths{{t.root + "/state"}, {}, {}}, loader(), {});
  REQUIRE(first.ok());
  CHECK(cache.counts().built == 1);
  REQUIRE(cache.kept_fds().size() == 2);
  auto second = cache.prepare(p, ProtectedPaths{{t.root + "/state"}, {}, {}}, loader(), {});
  REQUIRE(second.ok());
  CHECK(cache.counts().reused == 1);
  CHECK(cache.counts().built == 1);
  CHECK(second->fd() != first->fd());
  CHECK(second->names().read == first->names().read);
  CHECK(second->enforcement().fs_handled == first->enforcement().fs_handled);
  // The report says where each came from.
  auto noted = [](const PreparedRuleset& r) {
    const auto& n = r.enforcement().notes;
    return std::find(n.begin(), n.end(), kRulesetReusedNote) != n.end();
  };
  CHECK_FALSE(noted(*first));
  CHECK(noted(*second));
  // The reused ruleset confines as the built one does.
  CHECK(child_reads(*second, t.granted + "/f") == 0);
  CHECK(child_reads(*second, t.denied + "/f") == EACCES);

  SECTION("another policy is built, and then kept instead") {
    SandboxPolicy other = p;
    other.read.push_back(t.denied);
    auto r = cache.prepare(other, ProtectedPaths{{t.root + "/state"}, {}, {}}, loader(), {});
    REQUIRE(r.ok());
    CHECK(cache.counts().built == 2);
    CHECK(child_reads(*r, t.denied + "/f") == 0);
    REQUIRE(cache.prepare(other, ProtectedPaths{{t.root + "/state"}, {}, {}}, loader(), {}).ok());
    CHECK(cache.counts().reused == 2);  // kept instead
  }
  SECTION("other protected paths are built") {
    REQUIRE(cache.prepare(p, ProtectedPaths{{t.root + "/other"}, {}, {}}, loader(), {}).ok());
    CHECK(cache.counts().built == 2);
  }
}

TEST_CASE("ruleset cache: a grant moved, replaced or swapped for a link is built afresh") {
  if (!landlock_or_skip()) return;
  TempTree t;
  RulesetCache cache;
  const SandboxPolicy p = policy_of(t);
  REQUIRE(cache.prepare(p, {}, loader(), {}).ok());

  SECTION("replaced by another directory: the child reads the new one") {
    replace_granted(t);
    auto r = cache.prepare(p, {}, loader(), {});
    REQUIRE(r.ok());
    CHECK(cache.counts().built == 2);
    CHECK(child_reads(*r, t.granted + "/g") == 0);
    CHECK(child_reads(*r, t.root + "/was/f") == EACCES);  // the kept ruleset's inode
  }
  SECTION("renamed, a symlink left at its name: same inode, new canonical name") {
    REQUIRE(rename(t.granted.c_str(), (t.root + "/moved").c_str()) == 0);
    REQUIRE(symlink((t.root + "/moved").c_str(), t.granted.c_str()) == 0);
    auto r = cache.prepare(p, {}, loader(), {});
    REQUIRE(r.ok());
    CHECK(cache.counts().built == 2);
    CHECK(std::find(r->names().read.begin(), r->names().read.end(), t.root + "/moved") != r->names().read.end());
  }
  SECTION("an ancestor renamed, a symlink left: the canonical name needs a link now") {
    REQUIRE(rename(t.root.c_str(), (t.root + "-moved").c_str()) == 0);
    REQUIRE(symlink((t.root + "-moved").c_str(), t.root.c_str()) == 0);
    auto r = cache.prepare(p, {}, loader(), {});
    CHECK(cache.counts().built == 2);
    unlink(t.root.c_str());
    REQUIRE(rename((t.root + "-moved").c_str(), t.root.c_str()) == 0);
  }
  SECTION("a file grant replaced by a file of the same name") {
    SandboxPolicy f = p;
    f.read.push_back(t.denied + "/f");
    REQUIRE(cache.prepare(f, {}, loader(), {}).ok());
    REQUIRE(cache.prepare(f, {}, loader(), {}).ok());
    CHECK(cache.counts().reused == 1);
    REQUIRE(fs::write_file_atomic(t.denied + "/f", "other", 0644, fs::Overwrite::Yes));  // rename over: a new inode
    auto r = cache.prepare(f, {}, loader(), {});
    REQUIRE(r.ok());
    CHECK(cache.counts().reused == 1);
    CHECK(child_reads(*r, t.denied + "/f") == 0);
  }
}

TEST_CASE("ruleset cache: a precheck verdict decides its request's prepare") {
  if (!landlock_or_skip()) return;
  TempTree t;
  RulesetCache cache;
  const SandboxPolicy p = policy_of(t);
  CHECK_FALSE(cache.precheck().has_value());  // nothing kept: no verdict
  REQUIRE(cache.prepare(p, {}, loader(), {}).ok());
  CHECK(cache.counts().built == 1);

  SECTION("paths unchanged: reused on the verdict") {
    auto verdict = cache.precheck();
    REQUIRE(verdict.has_value());
    CHECK(*verdict);
    auto r = cache.prepare(p, {}, loader(), {}, verdict);
    REQUIRE(r.ok());
    CHECK(cache.counts().reused == 1);
    CHECK(cache.counts().prechecked == 1);
    CHECK(child_reads(*r, t.granted + "/f") == 0);
  }
  SECTION("a grant replaced before the precheck: built afresh") {
    replace_granted(t);
    auto verdict = cache.precheck();
    REQUIRE(verdict.has_value());
    CHECK_FALSE(*verdict);
    auto r = cache.prepare(p, {}, loader(), {}, verdict);
    REQUIRE(r.ok());
    CHECK(cache.counts().built == 2);
    CHECK(cache.counts().reused == 0);
    CHECK(child_reads(*r, t.granted + "/g") == 0);
  }
  SECTION("a verdict not handed over is not used (a request denied before its prepare keeps its own)") {
    REQUIRE(cache.precheck() == std::optional<bool>(true));
    replace_granted(t);
    auto r = cache.prepare(p, {}, loader(), {});  // the next request, with no verdict of its own
    REQUIRE(r.ok());
    CHECK(cache.counts().built == 2);
    CHECK(child_reads(*r, t.granted + "/g") == 0);
  }
  SECTION("from another thread, ordered by its join") {
    std::optional<bool> verdict;
    std::thread side([&] { verdict = cache.precheck(); });
    side.join();
    REQUIRE(cache.prepare(p, {}, loader(), {}, verdict).ok());
    CHECK(cache.counts().prechecked == 1);
  }
}

TEST_CASE("ruleset cache: RulesetPrecheck makes the verdict on another CPU, for one taker") {
  if (!landlock_or_skip()) return;
  TempTree t;
  RulesetCache cache;
  const SandboxPolicy p = policy_of(t);
  CHECK(RulesetPrecheck::start(cache) == nullptr);  // nothing kept: nothing to check
  REQUIRE(cache.prepare(p, {}, loader(), {}).ok());
  if (other_allowed_cpu() < 0) {
    WARN("one CPU: no side thread, RulesetPrecheck::start makes none");
    CHECK(RulesetPrecheck::start(cache) == nullptr);
    return;
  }
  SECTION("paths unchanged: the verdict holds, once") {
    auto check = RulesetPrecheck::start(cache);
    REQUIRE(check != nullptr);
    const std::optional<bool> verdict = check->take();
    CHECK(verdict == std::optional<bool>(true));
    CHECK_FALSE(check->take().has_value());  // taken: nothing for a second request
    auto r = cache.prepare(p, {}, loader(), {}, verdict);
    REQUIRE(r.ok());
    CHECK(cache.counts().prechecked == 1);
    CHECK(child_reads(*r, t.granted + "/f") == 0);
  }
  SECTION("a grant replaced before the check: it says so, and the prepare builds afresh") {
    replace_granted(t);
    auto check = RulesetPrecheck::start(cache);
    REQUIRE(check != nullptr);
    const std::optional<bool> verdict = check->take();
    CHECK(verdict == std::optional<bool>(false));
    auto r = cache.prepare(p, {}, loader(), {}, verdict);
    REQUIRE(r.ok());
    CHECK(cache.counts().built == 2);
    CHECK(child_reads(*r, t.granted + "/g") == 0);
  }
  SECTION("never taken: dropped (its thread joined) without a trace in the cache") {
    RulesetPrecheck::start(cache).reset();
    replace_granted(t);
    auto r = cache.prepare(p, {}, loader(), {});
    REQUIRE(r.ok());
    CHECK(cache.counts().built == 2);
    CHECK(cache.counts().prechecked == 0);
  }
}

TEST_CASE("ruleset cache: a verdict leaves /proc/self/fd/N to the prepare, which sees another file there") {
  // The request's own descriptors (its in-place executable) are opened after
  // the precheck: prepare checks those entries itself.
  if (!landlock_or_skip()) return;
  TempTree t;
  RulesetCache cache;
  const SandboxPolicy p = policy_of(t);
  REQUIRE(fs::write_file_atomic(t.root + "/a", "a", 0755, fs::Overwrite::Yes));
  REQUIRE(fs::write_file_atomic(t.root + "/b", "b", 0755, fs::Overwrite::Yes));
  fs::UniqueFd a(open((t.root + "/a").c_str(), O_RDONLY | O_CLOEXEC));
  fs::UniqueFd b(open((t.root + "/b").c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  std::vector<std::string> exec = loader();
  exec.push_back("/proc/self/fd/" + std::to_string(a.get()));
  REQUIRE(cache.prepare(p, {}, exec, {}).ok());
  auto verdict = cache.precheck();
  REQUIRE(verdict == std::optional<bool>(true));
  SECTION("the same file at that number: reused") {
    REQUIRE(cache.prepare(p, {}, exec, {}, verdict).ok());
    CHECK(cache.counts().reused == 1);
  }
  SECTION("another file at that number since the precheck: built afresh") {
    REQUIRE(dup3(b.get(), a.get(), O_CLOEXEC) == a.get());
    REQUIRE(cache.prepare(p, {}, exec, {}, verdict).ok());
    CHECK(cache.counts().built == 2);
    CHECK(cache.counts().reused == 0);
  }
}

TEST_CASE("ruleset cache: a protected path that appears, or a grant expanded, is never reused") {
  if (!landlock_or_skip()) return;
  TempTree t;
  RulesetCache cache;
  const SandboxPolicy p = policy_of(t);
  const ProtectedPaths prot{{t.root + "/later/state"}, {}, {}};
  REQUIRE(cache.prepare(p, prot, loader(), {}).ok());
  REQUIRE(cache.prepare(p, prot, loader(), {}).ok());
  CHECK(cache.counts().reused == 1);
  REQUIRE(mkdir((t.root + "/later").c_str(), 0700) == 0);  // the missing component exists now
  REQUIRE(cache.prepare(p, prot, loader(), {}).ok());
  CHECK(cache.counts().built == 2);

  // A read grant containing a protected path is expanded around it: the
  // entries opened inside it are not witnessed, so it is built every time.
  const ProtectedPaths inside{{t.granted + "/state"}, {}, {}};
  REQUIRE(mkdir((t.granted + "/state").c_str(), 0700) == 0);
  RulesetWitness w;
  auto r = prepare_ruleset(p, inside, loader(), {}, &w);
  REQUIRE(r.ok());
  REQUIRE_FALSE(r->enforcement().expanded.empty());
  CHECK_FALSE(w.not_reusable.empty());
  CHECK_FALSE(witness_holds(w));
  RulesetCache other;
  REQUIRE(other.prepare(p, inside, loader(), {}).ok());
  REQUIRE(other.prepare(p, inside, loader(), {}).ok());
  CHECK(other.counts().reused == 0);
  CHECK(other.kept_fds().empty());
}

TEST_CASE("ruleset cache: witness_holds checks each recorded fact") {
  if (!landlock_or_skip()) return;
  TempTree t;
  RulesetWitness w;
  REQUIRE(prepare_ruleset(policy_of(t), {}, loader(), {}, &w).ok());
  REQUIRE(w.not_reusable.empty());
  REQUIRE_FALSE(w.reached.empty());
  CHECK(witness_holds(w));
  SECTION("an absent optional path that appears") {
    w.absent.push_back({t.root + "/absent", t.root + "/absent"});
    CHECK(witness_holds(w));
    REQUIRE(mkdir((t.root + "/absent").c_str(), 0755) == 0);
    CHECK_FALSE(witness_holds(w));
  }
  SECTION("another mount id") {
    w.reached.front().mnt += 1000000;
    CHECK_FALSE(witness_holds(w));
  }
  SECTION("another type") {
    w.reached.front().type = S_IFIFO;
    CHECK_FALSE(witness_holds(w));
  }
  SECTION("another inode, for a directory and for a file") {
    for (auto& r : w.reached) {
      auto was = r.ino;
      r.ino += 1;
      CHECK_FALSE(witness_holds(w));
      r.ino = was;
    }
    CHECK(witness_holds(w));
  }
  SECTION("another name") {
    w.reached.back().canonical += "x";
    CHECK_FALSE(witness_holds(w));
  }
  SECTION("a build that failed leaves nothing reusable") {
    SandboxPolicy broken = policy_of(t);
    broken.write.push_back(t.root + "/no-such-dir");
    REQUIRE_FALSE(prepare_ruleset(broken, {}, loader(), {}, &w).ok());
    CHECK_FALSE(w.not_reusable.empty());
    CHECK_FALSE(witness_holds(w));
  }
  SECTION("a mount table that reads otherwise") {
    w.mount_table += "\n";
    CHECK_FALSE(witness_holds(w));
  }
}

namespace {

// Runs `body` in a child process with a mount namespace of its own (and a
// user namespace when not root), propagation private: nothing reaches the
// machine's mounts. Its exit code; 3: no such namespace here.
int in_mount_namespace(const std::function<int()>& body) {
  const uid_t uid = geteuid();
  pid_t pid = fork();
  if (pid < 0) return 2;
  if (pid == 0) {
    if (uid != 0) {
      if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) _exit(3);
      const std::string map = "0 " + std::to_string(uid) + " 1";
      if (!fs::write_file_atomic("/proc/self/uid_map", map, 0644, fs::Overwrite::Yes)) {
        int fd = open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, map.data(), map.size()) != static_cast<ssize_t>(map.size())) _exit(3);
        close(fd);
      }
    } else if (unshare(CLONE_NEWNS) != 0) {
      _exit(3);
    }
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(3);
    _exit(body());
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 2;
  return WEXITSTATUS(status);
}

// `body` returns 0 in such a child (its other codes say which step failed);
// skipped, saying so, where no such namespace can be made.
void check_in_mount_namespace(const std::function<int()>& body) {
  const int rc = in_mount_namespace(body);
  if (rc == 3) {
    WARN("no private mount namespace here: test skipped");
    return;
  }
  CHECK(rc == 0);
}

}  // namespace

TEST_CASE("ruleset cache: a mount made or removed builds afresh") {
  if (!landlock_or_skip()) return;
  TempTree t;
  const std::vector<std::string> ld = loader();
  check_in_mount_namespace([&] {
    RulesetCache cache;
    const SandboxPolicy p = policy_of(t);
    if (!cache.prepare(p, {}, ld, {}).ok() || !cache.prepare(p, {}, ld, {}).ok()) return 4;
    if (cache.counts().reused != 1) return 5;
    // A mount that touches no grant at all still counts: the table is
    // compared as a whole.
    if (mount("tmpfs", t.denied.c_str(), "tmpfs", 0, nullptr) != 0) return 6;
    if (!cache.prepare(p, {}, ld, {}).ok() || cache.counts().built != 2) return 7;
    if (!cache.prepare(p, {}, ld, {}).ok() || cache.counts().reused != 2) return 8;
    if (umount2(t.denied.c_str(), MNT_DETACH) != 0) return 9;
    if (!cache.prepare(p, {}, ld, {}).ok() || cache.counts().built != 3) return 10;
    return 0;
  });
}

// Review helper-58: renaming a directory above a mount point moves the mount
// and raises no mount event. Here a bind mount of a protected directory is
// moved into a write grant that way: the fresh build must see it there.
TEST_CASE("ruleset cache: a mount moved into a grant by renaming its parent builds afresh") {
  if (!landlock_or_skip()) return;
  TempTree t;
  const std::vector<std::string> ld = loader();
  const std::string prot = t.root + "/prot", outer = t.root + "/outer";
  REQUIRE(mkdir(prot.c_str(), 0755) == 0);
  REQUIRE(mkdir(outer.c_str(), 0755) == 0);
  REQUIRE(mkdir((outer + "/mp").c_str(), 0755) == 0);
  check_in_mount_namespace([&] {
    if (mount(prot.c_str(), (outer + "/mp").c_str(), nullptr, MS_BIND, nullptr) != 0) return 4;
    RulesetCache cache;
    const SandboxPolicy p = policy_of(t);
    const ProtectedPaths gx_files{{prot}, {}, {}};
    if (!cache.prepare(p, gx_files, ld, {}).ok() || !cache.prepare(p, gx_files, ld, {}).ok()) return 5;
    if (cache.counts().reused != 1) return 6;
    if (rename(outer.c_str(), (t.wdir + "/outer").c_str()) != 0) return 7;
    auto r = cache.prepare(p, gx_files, ld, {});
    if (cache.counts().built != 2) return 8;                     // reused: the old rules, blind to the mount
    if (!r.ok() || r->enforcement().expanded.empty()) return 9;  // expanded around it
    // The expanded grant: its existing entries stay writable, the mount
    // showing gx's directory is not.
    auto run = run_probe({.ruleset_fd = r->fd()}, {"write", t.wdir + "/outer/mp/x", "write", t.wdir + "/f"});
    if (run.failure || run.results != std::vector<int>{EACCES, 0}) {
      fprintf(stderr, "probe: %s\n", run.out.c_str());
      return 10;
    }
    return fs::exists(prot + "/x") ? 11 : 0;
  });
}

TEST_CASE("ruleset cache: a file reached through another of its names builds afresh") {
  if (!landlock_or_skip()) return;
  TempTree t;
  RulesetCache cache;
  SandboxPolicy p = policy_of(t);
  const std::string via = t.root + "/link", second = t.denied + "/second";
  REQUIRE(symlink((t.denied + "/f").c_str(), via.c_str()) == 0);
  p.read.push_back(via);
  REQUIRE(cache.prepare(p, {}, loader(), {}).ok());
  REQUIRE(cache.prepare(p, {}, loader(), {}).ok());
  CHECK(cache.counts().reused == 1);
  // The same file (a hard link), now reached under another name: a fresh
  // build names it so, and checks that name.
  REQUIRE(::link((t.denied + "/f").c_str(), second.c_str()) == 0);
  REQUIRE(unlink(via.c_str()) == 0);
  REQUIRE(symlink(second.c_str(), via.c_str()) == 0);
  auto r = cache.prepare(p, {}, loader(), {});
  REQUIRE(r.ok());
  CHECK(cache.counts().built == 2);
  CHECK(r->names().read.back() == second);
}

TEST_CASE("ruleset cache: a worker's reuse check leaves the kept descriptors out, and only those") {
  if (!landlock_or_skip()) return;
  TempTree t;
  RulesetCache cache;
  ProcessBaseline base = ProcessBaseline::take();
  REQUIRE(base.differs().empty());
  { REQUIRE(cache.prepare(policy_of(t), {}, loader(), {}).ok()); }
  REQUIRE(cache.kept_fds().size() == 2);
  CHECK_FALSE(base.differs().empty());
  CHECK(base.differs(cache.kept_fds()).empty());
  int leaked = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK_FALSE(base.differs(cache.kept_fds()).empty());
  close(leaked);
  CHECK(base.differs(cache.kept_fds()).empty());
}
