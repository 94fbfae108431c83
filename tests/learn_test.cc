// gx learn: the pure parts (open-flag classification, path compaction,
// syscall group selection, the [sandbox] table) and one real observed run.
#include "lib/learn.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>

#include "lib/artifact_template.h"
#include "lib/fsutil.h"
#include "seccomp/syscall_groups.h"

using namespace gx;

namespace {

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

SandboxPolicy base_policy() {
  SandboxPolicy sb;
  sb.read = {"/usr", "/etc", "/dev/null"};
  sb.write = {"/dev/null"};
  return sb;
}

}  // namespace

TEST_CASE("classify_open: flags, existence and type decide the grant") {
  CHECK(classify_open(O_RDONLY, true, false) == OpenNeed::Read);
  CHECK(classify_open(O_RDONLY | O_CLOEXEC, true, true) == OpenNeed::ReadDir);
  CHECK(classify_open(O_RDONLY | O_DIRECTORY, true, true) == OpenNeed::ReadDir);
  CHECK(classify_open(O_WRONLY, true, false) == OpenNeed::WriteFile);
  CHECK(classify_open(O_RDWR, true, false) == OpenNeed::WriteFile);
  CHECK(classify_open(O_RDONLY | O_TRUNC, true, false) == OpenNeed::WriteFile);
  CHECK(classify_open(O_WRONLY | O_CREAT | O_TRUNC, true, false) == OpenNeed::WriteFile);
  CHECK(classify_open(O_WRONLY | O_CREAT | O_TRUNC, false, false) == OpenNeed::CreateInDir);
  CHECK(classify_open(O_RDONLY | O_CREAT, false, false) == OpenNeed::CreateInDir);
  CHECK(classify_open(O_RDWR | O_TMPFILE, true, true) == OpenNeed::WriteDir);
  // bound to fail or needing no right: nothing to learn
  CHECK(classify_open(O_RDONLY, false, false) == OpenNeed::None);                    // ENOENT
  CHECK(classify_open(O_WRONLY, false, false) == OpenNeed::None);                    // ENOENT
  CHECK(classify_open(O_WRONLY, true, true) == OpenNeed::None);                      // EISDIR
  CHECK(classify_open(O_CREAT | O_EXCL | O_WRONLY, true, false) == OpenNeed::None);  // EEXIST
  CHECK(classify_open(O_PATH, true, false) == OpenNeed::None);                       // Landlock checks nothing
  CHECK(classify_open(O_RDONLY | O_DIRECTORY, true, false) == OpenNeed::None);       // ENOTDIR
  CHECK(classify_open(O_RDWR | O_TMPFILE, false, false) == OpenNeed::None);
}

TEST_CASE("compact_paths: the template's trees cover system reads") {
  std::vector<PathAccess> seen = {
      {"/usr/lib/x86_64-linux-gnu/libc.so.6", Grant::Read, false},
      {"/etc/ld.so.cache", Grant::Read, false},
      {"/dev/null", Grant::Write, false},
      {"/home/u/p/in.txt", Grant::Read, false},
  };
  PathGrants g = compact_paths(seen, base_policy());
  CHECK(g.read == std::vector<std::string>{"/home/u/p/in.txt"});
  CHECK(g.write.empty());
  CHECK(g.exec.empty());
}

TEST_CASE("compact_paths: writes to system trees are not covered by their read grant") {
  PathGrants g = compact_paths({{"/etc/app.conf", Grant::Write, false}}, base_policy());
  CHECK(g.write == std::vector<std::string>{"/etc/app.conf"});
  CHECK(g.read.empty());
}

TEST_CASE("compact_paths: several files read in one directory collapse to it") {
  std::vector<PathAccess> seen;
  for (size_t i = 0; i < kCollapseFiles; ++i) seen.push_back({"/data/set/f" + std::to_string(i), Grant::Read, false});
  seen.push_back({"/data/other/one", Grant::Read, false});
  PathGrants g = compact_paths(seen, base_policy());
  CHECK(g.read == std::vector<std::string>{"/data/other/one", "/data/set"});

  // one fewer: stays file by file
  seen.resize(kCollapseFiles - 1);
  g = compact_paths(seen, base_policy());
  CHECK(g.read.size() == kCollapseFiles - 1);
  CHECK_FALSE(has(g.read, "/data/set"));
}

TEST_CASE("compact_paths: write covers read; a directory covers what lies beneath") {
  std::vector<PathAccess> seen = {
      {"/w/out", Grant::Write, true},  // a file was created in /w/out
      {"/w/out/result.txt", Grant::Write, false},
      {"/w/out/result.txt", Grant::Read, false},
      {"/w/out/sub/x", Grant::Read, false},
      {"/w/log", Grant::Write, false},  // an existing file opened for writing
      {"/w/log", Grant::Read, false},
      {"/w/in", Grant::Read, true},  // a directory listed
      {"/w/in/a", Grant::Read, false},
      {"/w/in", Grant::Read, true},  // twice
  };
  PathGrants g = compact_paths(seen, base_policy());
  CHECK(g.write == std::vector<std::string>{"/w/log", "/w/out"});
  CHECK(g.read == std::vector<std::string>{"/w/in"});
}

TEST_CASE("compact_paths: exec grants stay per file and cover reading that file") {
  std::vector<PathAccess> seen = {
      {"/opt/t/bin/a", Grant::Exec, false}, {"/opt/t/bin/b", Grant::Exec, false}, {"/opt/t/bin/c", Grant::Exec, false},
      {"/opt/t/bin/a", Grant::Read, false}, {"/usr/bin/ls", Grant::Exec, false},
  };
  PathGrants g = compact_paths(seen, base_policy());
  CHECK(g.exec == std::vector<std::string>{"/opt/t/bin/a", "/opt/t/bin/b", "/opt/t/bin/c", "/usr/bin/ls"});
  CHECK(g.read.empty());
}

TEST_CASE("compact_paths: a read grant is not a prefix match on names") {
  // /w/outside is not beneath /w/out
  PathGrants g = compact_paths({{"/w/out", Grant::Write, true}, {"/w/outside", Grant::Read, false}}, base_policy());
  CHECK(g.read == std::vector<std::string>{"/w/outside"});
}

TEST_CASE("choose_ioctls: default set needs nothing, groups and names for the rest") {
  // TCGETS, TIOCGWINSZ: default; TIOCSWINSZ: tty; SIOCGIFINDEX: net-query;
  // FIFREEZE: by name only; 0xdead: unknown number; TIOCSTI: never.
  auto c = choose_ioctls({0x5401, 0x5413, 0x5414, 0x8933, 0xc0045877, 0xdead, 0x5412});
  CHECK(c.groups == std::vector<std::string>{"net-query", "tty"});
  CHECK(c.ioctls == std::vector<std::string>{"0xdead", "FIFREEZE"});
  CHECK(c.refused == std::vector<std::string>{"TIOCSTI"});
  auto d = choose_ioctls({0x5401, 0x5413});
  CHECK(d.groups.empty());
  CHECK(d.ioctls.empty());
}

TEST_CASE("choose_syscalls: default only for an ordinary program") {
  auto c = choose_syscalls({"read", "write", "openat", "close", "mmap", "exit_group"}, false, false, false);
  CHECK(c.groups == std::vector<std::string>{"default"});
  CHECK(c.allow_syscalls.empty());
}

TEST_CASE("choose_syscalls: a group when it covers enough, leftovers by name") {
  auto c = choose_syscalls({"read", "mkdir", "unlink", "rename", "prctl"}, false, false, false);
  CHECK(c.groups == std::vector<std::string>{"default", "filesystem"});
  CHECK(c.allow_syscalls == std::vector<std::string>{"prctl"});  // one process syscall: no whole group

  auto exact = choose_syscalls({"read", "mkdir", "unlink", "rename", "prctl"}, false, true, false);
  CHECK(exact.groups == std::vector<std::string>{"default"});
  CHECK(exact.allow_syscalls == std::vector<std::string>{"mkdir", "prctl", "rename", "unlink"});
}

TEST_CASE("choose_syscalls: network group with tcp; its syscalls are not repeated") {
  auto c = choose_syscalls({"socket", "connect", "read"}, true, false, false);
  CHECK(c.groups == std::vector<std::string>{"default", "network"});
  CHECK(c.allow_syscalls.empty());
}

TEST_CASE("choose_syscalls: dangerous and probed syscalls only with allow_dangerous") {
  std::set<std::string> used = {"read", "ptrace", "bpf", "clone3", "io_uring_setup"};
  auto c = choose_syscalls(used, false, false, false);
  CHECK(c.groups == std::vector<std::string>{"default"});
  CHECK(c.allow_syscalls.empty());
  CHECK(c.dangerous == std::vector<std::string>{"bpf", "ptrace"});
  CHECK(c.probed == std::vector<std::string>{"clone3", "io_uring_setup"});

  auto d = choose_syscalls(used, false, false, true);
  CHECK(d.allow_syscalls == std::vector<std::string>{"bpf", "clone3", "io_uring_setup", "ptrace"});
  for (const auto& s : d.allow_syscalls) CHECK((seccomp::is_dangerous(s) || s == "clone3"));
}

TEST_CASE("choose_syscalls: names libseccomp does not know are never allowed") {
  auto c = choose_syscalls({"read", "syscall_999"}, false, false, true);
  CHECK(c.allow_syscalls.empty());
  CHECK(c.unknown == std::vector<std::string>{"syscall_999"});
}

TEST_CASE("sandbox_table: the [sandbox] table and nothing else") {
  std::string body =
      "version = 1\n\n[exec]\npath = \"/bin/x\"\n\n[sandbox]\ngroups = [\"default\"]\nread = []\n\n[replay]\nnonce = "
      "\"n\"\n";
  CHECK(sandbox_table(body) == "[sandbox]\ngroups = [\"default\"]\nread = []\n\n");
  CHECK(sandbox_table("version = 1\n").empty());
}

// One real observed run: touch creates a file in a scratch directory and
// reads nothing outside the system trees.
TEST_CASE("learn: a real run of touch learns exactly its write directory") {
  namespace sfs = std::filesystem;
  std::string dir = sfs::temp_directory_path().string() + "/gx-learn-test-" + std::to_string(getpid());
  sfs::create_directories(dir + "/w");
  std::string target = dir + "/w/new-file";
  LearnRequest req;
  req.tmpl.argv = {"/usr/bin/touch", target};
  req.tmpl.cwd = dir;
  req.tmpl.path_env = "/usr/bin:/bin";
  req.tmpl.now = 1900000000;
  req.env = {"PATH=/usr/bin:/bin", "LD_PRELOAD=/nonexistent.so", "SECRET=1"};
  req.protect.no_write = {dir + "/state"};
  auto r = learn(req);
  REQUIRE(r.ok());
  CHECK(r->exit_status == 0);
  CHECK(sfs::exists(target));  // it really ran
  const SandboxPolicy& sb = r->artifact.scope.sandbox;
  CHECK(has(sb.write, fs::canonical(dir + "/w")));
  CHECK_FALSE(has(sb.write, fs::canonical(target)));
  CHECK(sb.network == NetMode::None);
  CHECK(sb.groups.front() == "default");
  CHECK(r->observed.syscalls.count("execve") + r->observed.syscalls.count("openat") +
            r->observed.syscalls.count("utimensat") >=
        2);
  CHECK(r->artifact.body.find("from ONE run") != std::string::npos);
  // what gx learn writes parses back to the same sandbox
  auto again = parse_artifact_body(r->artifact.body);
  REQUIRE(again.ok());
  CHECK(again->scope.sandbox.write == sb.write);
  sfs::remove_all(dir);
}

TEST_CASE("learn: the command sees the filtered environment, as under gx run") {
  namespace sfs = std::filesystem;
  std::string dir = sfs::temp_directory_path().string() + "/gx-learn-env-" + std::to_string(getpid());
  sfs::create_directories(dir);
  LearnRequest req;
  // sh writes its environment into a file: SECRET must not be there.
  req.tmpl.argv = {"/bin/sh", "-c", "env > " + dir + "/env.txt"};
  req.tmpl.cwd = dir;
  req.tmpl.now = 1900000000;
  req.env = {"PATH=/usr/bin:/bin", "SECRET=hunter2", "HOME=/nonexistent-home"};
  auto r = learn(req);
  REQUIRE(r.ok());
  auto env = fs::read_file(dir + "/env.txt", 1 << 20);
  REQUIRE(env.ok());
  CHECK(env->find("SECRET") == std::string::npos);
  CHECK(env->find("HOME=/nonexistent-home") != std::string::npos);
  CHECK(has(r->artifact.scope.sandbox.write, fs::canonical(dir)));
  sfs::remove_all(dir);
}

TEST_CASE("learn: gx's protected paths are never learned") {
  namespace sfs = std::filesystem;
  std::string dir = sfs::temp_directory_path().string() + "/gx-learn-prot-" + std::to_string(getpid());
  sfs::create_directories(dir + "/state");
  sfs::create_directories(dir + "/ok");
  LearnRequest req;
  req.tmpl.argv = {"/bin/sh", "-c", "echo x > " + dir + "/state/f; echo y > " + dir + "/ok/f"};
  req.tmpl.cwd = dir;
  req.tmpl.now = 1900000000;
  req.env = {"PATH=/usr/bin:/bin"};
  req.protect.no_write = {dir + "/state"};
  auto r = learn(req);
  REQUIRE(r.ok());
  const auto& w = r->artifact.scope.sandbox.write;
  CHECK(has(w, fs::canonical(dir + "/ok")));
  for (const auto& p : w) CHECK_FALSE(fs::path_within(p, fs::canonical(dir + "/state")));
  bool warned = false;
  for (const auto& s : r->warnings)
    warned |= s.find("not learned") != std::string::npos && s.find("/state") != std::string::npos;
  CHECK(warned);
  sfs::remove_all(dir);
}
