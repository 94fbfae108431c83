// Executable resolution and the StrictModes rule for handing a script to its
// interpreter by path (lib/executable.h).
#include "lib/executable.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "lib/fsutil.h"

using namespace gx;

namespace {

struct Tree {
  std::string root;
  Tree() {
    char tmpl[] = "/tmp/gx-exe-XXXXXX";  // /tmp: sticky, world-writable, root-owned
    root = fs::canonical(mkdtemp(tmpl));
    REQUIRE(chmod(root.c_str(), 0755) == 0);
  }
  ~Tree() {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
};

std::string reason(const std::string& path, const std::string& cwd = "/") {
  struct stat st {};
  if (stat(path[0] == '/' ? path.c_str() : (cwd + "/" + path).c_str(), &st) != 0) return "test: no such file";
  return script_path_unsafe_reason(path, cwd, geteuid(), st.st_dev, st.st_ino);
}

}  // namespace

TEST_CASE("resolve_for_exec: the path execvp would hand to the kernel") {
  auto abs = resolve_for_exec("sh", "/nonexistent-gx:/bin", "/");
  REQUIRE(abs.ok());
  CHECK(abs->as_exec == "/bin/sh");
  auto typed = resolve_for_exec("../bin/sh", "", "/usr");
  REQUIRE(typed.ok());
  CHECK(typed->as_exec == "../bin/sh");
  CHECK(typed->path == "/bin/sh");
  auto here = resolve_for_exec("sh", ":", "/bin");  // empty PATH entry: the cwd
  REQUIRE(here.ok());
  CHECK(here->as_exec == "./sh");
}

TEST_CASE("script_path_unsafe_reason: StrictModes, sticky directories, symlinks, identity") {
  Tree t;
  std::string dir = t.root + "/bin";
  REQUIRE(fs::make_dirs(dir, 0755));
  std::string s = dir + "/s.sh";
  REQUIRE(fs::write_file_atomic(s, "#!/bin/sh\necho hi\n", 0755, fs::Overwrite::Yes));

  CHECK(reason(s) == "");                   // /tmp is sticky: fine
  CHECK(reason("bin/s.sh", t.root) == "");  // relative to the cwd
  CHECK(reason("./bin/../bin/s.sh", t.root) == "");

  REQUIRE(chmod(dir.c_str(), 0775) == 0);
  CHECK(reason(s) == dir + " is writable by group or others");
  REQUIRE(chmod(dir.c_str(), 01777) == 0);  // sticky: others cannot replace our entry
  CHECK(reason(s) == "");
  REQUIRE(chmod(dir.c_str(), 0755) == 0);

  REQUIRE(chmod(s.c_str(), 0775) == 0);
  CHECK(reason(s) == s + " is writable by group or others");
  REQUIRE(chmod(s.c_str(), 0755) == 0);

  // A symlink is followed, and what lies on the way to its target counts.
  std::string open_dir = t.root + "/open";
  REQUIRE(fs::make_dirs(open_dir, 0755));
  REQUIRE(chmod(open_dir.c_str(), 0777) == 0);
  std::string target = open_dir + "/real.sh";
  REQUIRE(fs::write_file_atomic(target, "#!/bin/sh\n", 0755, fs::Overwrite::Yes));
  REQUIRE(symlink("../open/real.sh", (dir + "/link.sh").c_str()) == 0);
  CHECK(reason(dir + "/link.sh") == open_dir + " is writable by group or others");
  REQUIRE(chmod(open_dir.c_str(), 0755) == 0);
  CHECK(reason(dir + "/link.sh") == "");

  // Not the file that was digested (replaced meanwhile).
  struct stat st {};
  REQUIRE(stat(s.c_str(), &st) == 0);
  CHECK(script_path_unsafe_reason(s, "/", geteuid(), st.st_dev, st.st_ino + 1) ==
        s + " is no longer the file that was digested");
  CHECK(script_path_unsafe_reason(dir + "/missing", "/", geteuid(), st.st_dev, st.st_ino).rfind("cannot stat", 0) == 0);
  CHECK(script_path_unsafe_reason(dir, "/", geteuid(), st.st_dev, st.st_ino) == dir + " is not a regular file");

  // Owned by someone else (needs root to arrange).
  if (geteuid() == 0) {
    REQUIRE(chown(s.c_str(), 65534, 65534) == 0);
    CHECK(reason(s) == s + " is owned by uid 65534, neither root nor the caller");
    // ...and for that user, the root-owned directories are fine but the file is its own.
    CHECK(script_path_unsafe_reason(s, "/", 65534, st.st_dev, st.st_ino) == "");
  } else {
    WARN("not root: the foreign-owner case is not exercised");
    CHECK(script_path_unsafe_reason(s, "/", geteuid() + 1, st.st_dev, st.st_ino).find("neither root nor the caller") !=
          std::string::npos);
  }
}

TEST_CASE("elf_interpreter reads PT_INTERP") {
  auto interp = elf_interpreter(std::string(GX_HELPERS_DIR) + "/probe_sandbox");
  REQUIRE(interp.ok());
  CHECK(interp->find("ld-linux") != std::string::npos);
  auto not_elf = elf_interpreter(std::string(GX_SOURCE_DIR) + "/lib/landlock.h");
  REQUIRE_FALSE(not_elf.ok());
  CHECK(not_elf.error().reason == DenyReason::Malformed);
  CHECK(elf_interpreter("/nonexistent-gx").error().reason == DenyReason::IoError);
}

TEST_CASE("ExecImage::load: no route changes the sealed copy") {
  Tree t;
  const std::string src = t.root + "/prog";
  const std::string content = "#!/bin/sh\necho original\n";
  REQUIRE(fs::write_file_atomic(src, content, 0755, fs::Overwrite::Yes));
  auto img = ExecImage::load(src, 1 << 20);
  REQUIRE(img.ok());
  const int fd = img->fd();
  const int seals = fcntl(fd, F_GET_SEALS);
  REQUIRE(seals >= 0);
  CHECK((seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) == (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
  CHECK((seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) != 0);
  // Through a new writable description (what a child could open via
  // /proc/self/fd or /dev/fd): write, pwrite, truncate, grow, punch a hole.
  fs::UniqueFd w(open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDWR | O_CLOEXEC));
  REQUIRE(w.ok());
  errno = 0;
  CHECK(write(w.get(), "X", 1) == -1);
  CHECK(errno == EPERM);
  errno = 0;
  CHECK(pwrite(w.get(), "X", 1, 0) == -1);
  CHECK(errno == EPERM);
  CHECK(ftruncate(w.get(), 1) == -1);
  CHECK(ftruncate(w.get(), 1 << 20) == -1);
  CHECK(fallocate(w.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == -1);
  // A shared writable mapping is refused; a private one writes only its own copy.
  void* shared = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, w.get(), 0);
  CHECK(shared == MAP_FAILED);
  if (shared != MAP_FAILED) munmap(shared, 4096);
  // The seals themselves are sealed.
  CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == -1);
  // And the bytes are still the ones digested.
  std::string back(content.size() + 16, '\0');
  const ssize_t n = pread(fd, back.data(), back.size(), 0);
  REQUIRE(n == static_cast<ssize_t>(content.size()));
  back.resize(static_cast<size_t>(n));
  CHECK(back == content);
  CHECK(img->size() == content.size());
}
