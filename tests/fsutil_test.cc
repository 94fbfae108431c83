// lib/fsutil.h: naming an open descriptor (fd_path) and opening a directory
// by a name that reaches it (open_dir_readonly).
#include "lib/fsutil.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "lib/landlock.h"
#include "tests/landlock_fixture.h"

using namespace gx;
using gx::test::TempTree;

namespace {

bool same_file(int fd, const std::string& path) {
  struct stat a {
  }, b{};
  return fstat(fd, &a) == 0 && stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

bool write_text(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

// A child in a mount namespace of its own with a tmpfs over `dir` holding
// `dir`/f (and `dir`/sub/): the same names as the parent's tree reach other
// files there. With `bind`, also `dir`/a: a directory with `bind`
// bind-mounted on it. Unprivileged, it first enters a user namespace of its
// own.
struct OtherNamespace {
  pid_t pid = -1;
  int release = -1;
  std::string why_not;
  explicit OtherNamespace(const std::string& dir, const std::string& bind = {}) {
    int ready[2], go[2];
    REQUIRE(pipe2(ready, O_CLOEXEC) == 0);
    REQUIRE(pipe2(go, O_CLOEXEC) == 0);
    const uid_t uid = geteuid();
    const gid_t gid = getegid();
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(go[1]);  // else its read never sees the parent's end close
      close(ready[0]);
      auto fail = [&](const char* step) {
        char msg[128];
        int n = std::snprintf(msg, sizeof msg, "%s: %s", step, std::strerror(errno));
        (void)!write(ready[1], msg, static_cast<size_t>(n));
        _exit(1);
      };
      if (uid != 0) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) fail("unshare(CLONE_NEWUSER|CLONE_NEWNS)");
        if (!write_text("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
            !write_text("/proc/self/setgroups", "deny") ||
            !write_text("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"))
          fail("writing the id maps");
      } else if (unshare(CLONE_NEWNS) != 0) {
        fail("unshare(CLONE_NEWNS)");
      }
      if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail("making mounts private");
      if (mount("tmpfs", dir.c_str(), "tmpfs", 0, "mode=0755") != 0) fail("mounting tmpfs");
      if (!fs::write_file_atomic(dir + "/f", "inner", 0644, fs::Overwrite::Yes)) fail("writing f");
      if (mkdir((dir + "/sub").c_str(), 0755) != 0) fail("mkdir sub");
      if (!bind.empty() && (mkdir((dir + "/a").c_str(), 0755) != 0 ||
                            mount(bind.c_str(), (dir + "/a").c_str(), nullptr, MS_BIND, nullptr) != 0))
        fail("bind-mounting");
      (void)!write(ready[1], "", 1);
      char c;
      (void)!read(go[0], &c, 1);
      _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    release = go[1];
    char buf[160] = {};
    ssize_t n = read(ready[0], buf, sizeof buf - 1);
    close(ready[0]);
    if (n != 1) why_not = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "the child died";
  }
  ~OtherNamespace() {
    if (release >= 0) close(release);
    if (pid > 0) waitpid(pid, nullptr, 0);
  }
  std::string root() const { return "/proc/" + std::to_string(pid) + "/root"; }
};

}  // namespace

TEST_CASE("fd_path names what a descriptor reaches, and only that") {
  TempTree t;
  const std::string f = t.granted + "/f";

  SECTION("an ordinary file and directory: their canonical path") {
    fs::UniqueFd fd(open(f.c_str(), O_PATH | O_CLOEXEC));
    REQUIRE(fd.ok());
    CHECK(fs::fd_path(fd.get()) == fs::canonical(f));
    fs::UniqueFd dir(open((t.granted + "/../granted").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(dir.ok());
    CHECK(fs::fd_path(dir.get()) == t.granted);
  }
  SECTION("a file renamed over since it was opened: no name (not \"... (deleted)\")") {
    fs::UniqueFd fd(open(f.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd.ok());
    REQUIRE(fs::write_file_atomic(f, "replacement", 0644, fs::Overwrite::Yes));
    CHECK(fs::fd_path(fd.get()).empty());
    CHECK(fs::canonical(f) == f);  // the name itself still resolves
  }
  SECTION("a file renamed since it was opened, its old name now a symlink to it: the new name") {
    fs::UniqueFd fd(open(f.c_str(), O_PATH | O_CLOEXEC));
    REQUIRE(fd.ok());
    REQUIRE(rename(f.c_str(), (t.granted + "/moved").c_str()) == 0);
    REQUIRE(symlink((t.granted + "/moved").c_str(), f.c_str()) == 0);
    CHECK(fs::fd_path(fd.get()) == t.granted + "/moved");
  }
}

TEST_CASE("a descriptor from another mount namespace is not named by a path that reaches another file here") {
  TempTree t;
  // The parent's files behind the same names as the other namespace's.
  REQUIRE(fs::write_file_atomic(t.denied + "/f", "outer", 0644, fs::Overwrite::Yes));
  REQUIRE(mkdir((t.denied + "/sub").c_str(), 0755) == 0);
  OtherNamespace other(t.denied);
  if (!other.why_not.empty()) {
    WARN("skipped: no mount namespace for the test: " << other.why_not);
    return;
  }
  const std::string inner_file = other.root() + t.denied + "/f";
  const std::string inner_dir = other.root() + t.denied + "/sub";
  fs::UniqueFd fd(open(inner_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) {
    WARN("skipped: cannot open " << inner_file << ": " << std::strerror(errno));
    return;
  }
  char buf[16] = {};
  REQUIRE(read(fd.get(), buf, sizeof buf) == 5);
  REQUIRE(std::string(buf) == "inner");
  // The kernel names it t.denied + "/f", which here is the "outer" file.
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd.get());
  char raw[4096] = {};
  REQUIRE(readlink(link, raw, sizeof raw - 1) > 0);
  CHECK(std::string(raw) == t.denied + "/f");
  CHECK(fs::fd_path(fd.get()).empty());

  // A directory reached that way: whatever path open_dir_readonly settles
  // on, it names the directory its descriptor is (the StrictModes checks
  // read the descriptor, later files are opened by the name).
  auto d = fs::open_dir_readonly(inner_dir);
  if (d.ok()) {
    CHECK(same_file(d->fd.get(), d->path));
  } else {
    CHECK(d.error().reason == DenyReason::IoError);
  }
}

TEST_CASE("a name that reaches a descriptor's file only through a symlink here is not its path") {
  // There, d/a is a directory with gx's protected directory bind-mounted on
  // it; here, d/a is a symlink to that directory. A file opened through
  // /proc/<pid>/root/d/a/... is named d/a/... by the kernel, and that name
  // reaches the same file here -- through the link. Compared as a string
  // with the protected path it would not look inside it.
  TempTree t;
  const std::string protected_dir = t.granted;  // stands for gx's state directory
  const std::string secret_dir = protected_dir + "/keys";
  REQUIRE(mkdir(secret_dir.c_str(), 0700) == 0);
  REQUIRE(symlink(protected_dir.c_str(), (t.denied + "/a").c_str()) == 0);
  OtherNamespace other(t.denied, protected_dir);
  if (!other.why_not.empty()) {
    WARN("skipped: no mount namespace for the test: " << other.why_not);
    return;
  }
  const std::string via = other.root() + t.denied + "/a/keys";
  fs::UniqueFd fd(open(via.c_str(), O_PATH | O_CLOEXEC));
  if (!fd.ok()) {
    WARN("skipped: cannot open " << via << ": " << std::strerror(errno));
    return;
  }
  REQUIRE(same_file(fd.get(), secret_dir));
  CHECK(fs::fd_path(fd.get()).empty());

  // A sandbox grant that leads there (a link the attacker placed) is
  // refused, not granted read on the protected directory.
  const std::string input = t.root + "/shared-input";
  REQUIRE(symlink(via.c_str(), input.c_str()) == 0);
  SandboxPolicy p;
  p.read = {input};
  p.network = NetMode::None;
  auto r = prepare_ruleset(p, ProtectedPaths{{}, {secret_dir}, {}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().field == "sandbox.read[0]");
  CHECK(r.error().detail.find("cannot resolve opened sandbox path") != std::string::npos);
}

TEST_CASE("symlink_hops names every file a chain of links leads to, and where a dangling one would create it") {
  TempTree t;
  const std::string d = t.root;
  REQUIRE(mkdir((d + "/real").c_str(), 0700) == 0);
  REQUIRE(fs::write_file_atomic(d + "/real/f", "x", 0644, fs::Overwrite::Yes));
  REQUIRE(symlink("f", (d + "/real/hop2").c_str()) == 0);                // relative, same directory
  REQUIRE(symlink("../real/hop2", (d + "/granted/hop1").c_str()) == 0);  // relative, up and over
  CHECK(fs::symlink_hops(d + "/real/f") == std::vector<std::string>{d + "/real/f"});
  CHECK(fs::symlink_hops(d + "/granted/hop1") ==
        std::vector<std::string>{d + "/granted/hop1", d + "/real/hop2", d + "/real/f"});
  // Dangling: the link and where it points; no canonical path.
  REQUIRE(symlink((d + "/real/later").c_str(), (d + "/granted/dangling").c_str()) == 0);
  CHECK(fs::symlink_hops(d + "/granted/dangling") ==
        std::vector<std::string>{d + "/granted/dangling", d + "/real/later"});
  // A loop ends (40 hops at most) without repeating a name.
  REQUIRE(symlink("loop2", (d + "/real/loop1").c_str()) == 0);
  REQUIRE(symlink("loop1", (d + "/real/loop2").c_str()) == 0);
  CHECK(fs::symlink_hops(d + "/real/loop1") == std::vector<std::string>{d + "/real/loop1", d + "/real/loop2"});
  // Through a symlinked directory and no link at the end: the name given
  // (directory links are the caller's to resolve, as it does for every
  // name it protects).
  REQUIRE(mkdir((d + "/real/sub").c_str(), 0700) == 0);
  REQUIRE(symlink((d + "/real/sub").c_str(), (d + "/dirlink").c_str()) == 0);
  CHECK(fs::symlink_hops(d + "/dirlink/f") == std::vector<std::string>{d + "/dirlink/f"});
  // A link under a directory link, pointing up: the lexical join says d/f,
  // the kernel d/real/f; both are named, the kernel's last.
  REQUIRE(symlink("../f", (d + "/real/sub/up").c_str()) == 0);
  CHECK(fs::symlink_hops(d + "/dirlink/up") == std::vector<std::string>{d + "/dirlink/up", d + "/f", d + "/real/f"});
}

TEST_CASE("links_on_path names every link the kernel follows, as the entry that holds it") {
  TempTree t;
  const std::string d = fs::canonical(t.root);
  REQUIRE(mkdir((d + "/real").c_str(), 0700) == 0);
  REQUIRE(mkdir((d + "/real/sub").c_str(), 0700) == 0);
  REQUIRE(mkdir((d + "/a").c_str(), 0700) == 0);
  // No link: nothing, whether the path exists or not.
  CHECK(fs::links_on_path(d + "/real/sub").empty());
  CHECK(fs::links_on_path(d + "/real/sub/not/there").empty());
  // In the middle, absolute: the entry in its (resolved) directory.
  REQUIRE(symlink((d + "/real").c_str(), (d + "/a/cfg").c_str()) == 0);
  CHECK(fs::links_on_path(d + "/a/cfg/sub/trust.toml") == std::vector<std::string>{d + "/a/cfg"});
  // A link inside a link's target, relative and pointing up: both entries,
  // each named where the kernel met it (not where the name given says).
  REQUIRE(symlink("../a/cfg", (d + "/real/sub/up").c_str()) == 0);
  CHECK(fs::links_on_path(d + "/a/cfg/sub/up/sub") == std::vector<std::string>{d + "/a/cfg", d + "/real/sub/up"});
  // ".." after a directory link is taken from where the link led, as the
  // kernel does: a/cfg/.. is d, not a.
  REQUIRE(symlink((d + "/real/sub").c_str(), (d + "/deep").c_str()) == 0);
  REQUIRE(symlink("x", (d + "/real/l2").c_str()) == 0);
  CHECK(fs::links_on_path(d + "/deep/../l2") == std::vector<std::string>{d + "/deep", d + "/real/l2"});
  // The last component a link: named too (a dangling one ends the walk).
  REQUIRE(symlink((d + "/nowhere").c_str(), (d + "/a/dangling").c_str()) == 0);
  CHECK(fs::links_on_path(d + "/a/dangling") == std::vector<std::string>{d + "/a/dangling"});
  CHECK(fs::links_on_path(d + "/a/dangling/x/y") == std::vector<std::string>{d + "/a/dangling"});
  // A loop stops, each entry once.
  REQUIRE(symlink("loop2", (d + "/a/loop1").c_str()) == 0);
  REQUIRE(symlink("loop1", (d + "/a/loop2").c_str()) == 0);
  CHECK(fs::links_on_path(d + "/a/loop1") == std::vector<std::string>{d + "/a/loop1", d + "/a/loop2"});
}

TEST_CASE("check_strict_modes holds every link on the way to the same owners") {
  TempTree t;
  const std::string d = fs::canonical(t.root);
  REQUIRE(mkdir((d + "/real").c_str(), 0700) == 0);
  REQUIRE(mkdir((d + "/a").c_str(), 0700) == 0);
  REQUIRE(chmod(d.c_str(), 0700) == 0);
  REQUIRE(fs::write_file_atomic(d + "/real/trust.toml", "", 0644, fs::Overwrite::Yes));
  REQUIRE(symlink((d + "/real").c_str(), (d + "/a/cfg").c_str()) == 0);
  CHECK(fs::check_strict_modes(d + "/a/cfg/trust.toml", false));
  // The link's directory writable by others: they could re-point the link.
  REQUIRE(chmod((d + "/a").c_str(), 0777) == 0);
  Decision open_dir = fs::check_strict_modes(d + "/a/cfg/trust.toml", false);
  CHECK_FALSE(open_dir);
  CHECK(open_dir.detail.find(d + "/a ") != std::string::npos);
  CHECK(open_dir.detail.find("link " + d + "/a/cfg") != std::string::npos);
  // Sticky and root-owned (like /tmp) is enough for the link's directory
  // when the link is ours.
  if (geteuid() == 0) {
    REQUIRE(chmod((d + "/a").c_str(), 01777) == 0);
    CHECK(fs::check_strict_modes(d + "/a/cfg/trust.toml", false));
    // ... but not when someone else owns the link: they may replace it there.
    REQUIRE(lchown((d + "/a/cfg").c_str(), 65534, 65534) == 0);
    Decision theirs = fs::check_strict_modes(d + "/a/cfg/trust.toml", false);
    CHECK_FALSE(theirs);
    CHECK(theirs.detail.find("symbolic link " + d + "/a/cfg") != std::string::npos);
  }
}

TEST_CASE("absolute_physical takes '..' as the kernel does, after a link too") {
  TempTree t;
  const std::string d = fs::canonical(t.root);
  REQUIRE(mkdir((d + "/deep").c_str(), 0700) == 0);
  REQUIRE(mkdir((d + "/deep/x").c_str(), 0700) == 0);
  REQUIRE(mkdir((d + "/a").c_str(), 0700) == 0);
  REQUIRE(symlink((d + "/deep/x").c_str(), (d + "/a/lnk").c_str()) == 0);
  // Lexically /a/cfg; the kernel reaches deep/cfg.
  CHECK(fs::absolute(d + "/a/lnk/../cfg/trust.toml") == d + "/a/cfg/trust.toml");
  CHECK(fs::absolute_physical(d + "/a/lnk/../cfg/trust.toml") == d + "/deep/cfg/trust.toml");
  // Without "..": as absolute(), links kept (they are protected as entries).
  CHECK(fs::absolute_physical(d + "/a/lnk/./cfg//t") == d + "/a/lnk/cfg/t");
  // A prefix that does not resolve: absolute() (the kernel would fail to open it).
  CHECK(fs::absolute_physical(d + "/none/../cfg") == d + "/cfg");
}

TEST_CASE("links_on_path names the entry where it cannot look further, to fail closed") {
  TempTree t;
  const std::string d = fs::canonical(t.root);
  // A name longer than PATH_MAX below a link: the walk stops at the long
  // component and names it, rather than ending as if nothing followed.
  REQUIRE(mkdir((d + "/real").c_str(), 0700) == 0);
  REQUIRE(symlink((d + "/real").c_str(), (d + "/l").c_str()) == 0);
  std::string longname = d + "/l";
  int dir = open((d + "/real").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(dir >= 0);
  const std::string part(200, 'n');
  while (longname.size() < PATH_MAX + 10) {  // made relative to each directory: no name is too long
    REQUIRE(mkdirat(dir, part.c_str(), 0700) == 0);
    int sub = openat(dir, part.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    close(dir);
    REQUIRE(sub >= 0);
    dir = sub;
    longname += "/" + part;
  }
  close(dir);
  auto links = fs::links_on_path(longname);
  REQUIRE(links.size() == 2);
  CHECK(links[0] == d + "/l");
  CHECK(links[1].size() > PATH_MAX);
}

TEST_CASE("proc_status_field finds a line by its whole name, first line included") {
  const std::string status = "Name:\tgx\nSigIgn:\t0000000000001000\nSigIgnX:\t1\nSeccomp:\t2\nNoNewPrivs:  1";
  CHECK(gx::fs::proc_status_field(status, "Name") == std::optional<std::string_view>("gx"));
  CHECK(gx::fs::proc_status_field(status, "SigIgn") == std::optional<std::string_view>("0000000000001000"));
  CHECK(gx::fs::proc_status_field(status, "Seccomp") == std::optional<std::string_view>("2"));
  CHECK(gx::fs::proc_status_field(status, "NoNewPrivs") == std::optional<std::string_view>("1"));  // last line
  CHECK_FALSE(gx::fs::proc_status_field(status, "Sig"));      // a prefix of a name is not the name
  CHECK_FALSE(gx::fs::proc_status_field(status, "Threads"));  // absent
  // The real file has both lines this project reads.
  auto real = gx::fs::read_file("/proc/self/status", 1 << 16);
  REQUIRE(real);
  CHECK(gx::fs::proc_status_field(*real, "SigCgt"));
  CHECK(gx::fs::proc_status_field(*real, "NoNewPrivs"));
}
