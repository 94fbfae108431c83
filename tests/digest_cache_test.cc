// The digest cache (lib/digest_cache.h) and executing the original file
// (ExecImage::load_in_place, lib/executable.h): what is cached is bound to
// the file's stamp and the state secret; a change of the file, even with
// its mtime restored, is a miss; a file others can write is copied, never
// executed in place or cached.
#include "lib/digest_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "lib/crypto.h"
#include "lib/executable.h"
#include "lib/fsutil.h"
#include "tests/test_util.h"

using namespace gx;

namespace {

FileStamp stamp_of(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return FileStamp::of(st);
}

std::string file_sha(const std::string& path) {
  auto d = digest_file(path);
  REQUIRE(d.ok());
  return *d;
}

void write_file(const std::string& path, const std::string& content, mode_t mode) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  REQUIRE(chmod(path.c_str(), mode) == 0);
}

// A private directory (0700, ours) holding a program the caller owns.
struct PrivateProgram {
  gx::test::TempDir tmp{"digest"};
  std::string state = tmp.path + "/state";
  std::string dir = tmp.path + "/bin";
  std::string prog = dir + "/prog";
  PrivateProgram() {
    REQUIRE(chmod(tmp.path.c_str(), 0700) == 0);
    REQUIRE(mkdir(dir.c_str(), 0700) == 0);
    write_file(prog, "#!/bin/sh\necho one\n", 0700);
  }
  // Past the racy window: the stamp may be cached.
  static void age() { std::this_thread::sleep_for(std::chrono::milliseconds(2100)); }
};

}  // namespace

TEST_CASE("DigestCache: a remembered stamp and digest are known, any other is not") {
  gx::test::TempDir tmp{"digest"};
  const SignatureCache tags = SignatureCache::open(tmp.path, true);
  REQUIRE(tags.enabled());
  const DigestCache cache(tags);
  const FileStamp old = stamp_of("/bin/true");  // installed long ago: not racy
  const std::string sha = file_sha("/bin/true");
  CHECK_FALSE(cache.known(old, sha));
  cache.remember(old, sha);
  CHECK(cache.known(old, sha));
  CHECK_FALSE(cache.known(old, crypto::sha256_hex("other")));
  FileStamp touched = old;
  touched.ctime_ns += 1;
  CHECK_FALSE(cache.known(touched, sha));
  FileStamp other_inode = old;
  other_inode.ino += 1;
  CHECK_FALSE(cache.known(other_inode, sha));

  // Another state directory's secret: its tags mean nothing here.
  gx::test::TempDir other{"digest"};
  const SignatureCache other_tags = SignatureCache::open(other.path, true);
  const DigestCache other_cache(other_tags);
  CHECK_FALSE(other_cache.known(old, sha));
}

TEST_CASE("DigestCache: a stamp within 2 s of now (same-tick rewrite) is never recorded") {
  PrivateProgram p;
  const SignatureCache tags = SignatureCache::open(p.state, true);
  const DigestCache cache(tags);
  const FileStamp fresh = stamp_of(p.prog);
  CHECK(fresh.racy_at(fresh.ctime_ns));
  cache.remember(fresh, file_sha(p.prog));
  CHECK_FALSE(cache.known(fresh, file_sha(p.prog)));
}

TEST_CASE("load_in_place: the caller's private program runs from its own file; a cached digest skips the read") {
  PrivateProgram p;
  PrivateProgram::age();
  const SignatureCache tags = SignatureCache::open(p.state, true);
  const DigestCache cache(tags);
  const std::string sha = file_sha(p.prog);
  const InPlaceOptions how{&cache, sha, geteuid()};

  auto first = ExecImage::load_in_place(p.prog, how);
  REQUIRE(first.ok());
  CHECK(first->in_place());
  CHECK_FALSE(first->digest_cached());
  CHECK(first->sha256() == sha);
  CHECK(first->is_script());  // the #! line is read from the file too
  struct stat fd_st {
  }, file_st{};
  REQUIRE(fstat(first->fd(), &fd_st) == 0);
  REQUIRE(stat(p.prog.c_str(), &file_st) == 0);
  CHECK(fd_st.st_ino == file_st.st_ino);  // the very file, not a copy

  auto second = ExecImage::load_in_place(p.prog, how);
  REQUIRE(second.ok());
  CHECK(second->digest_cached());
  CHECK(second->sha256() == sha);
  // Both hold writers off until released (a run releases after the exec):
  // the rewrites below would wait for them.
  first->release_writers();
  second->release_writers();

  SECTION("a rewrite with the mtime restored (touch -d) is a miss and is hashed afresh") {
    struct stat before {};
    REQUIRE(stat(p.prog.c_str(), &before) == 0);
    write_file(p.prog, "#!/bin/sh\necho two\n", 0700);  // same size, other bytes
    const struct timespec times[2] = {before.st_atim, before.st_mtim};
    REQUIRE(utimensat(AT_FDCWD, p.prog.c_str(), times, 0) == 0);
    auto after = ExecImage::load_in_place(p.prog, how);
    REQUIRE(after.ok());
    CHECK_FALSE(after->digest_cached());
    CHECK(after->sha256() == file_sha(p.prog));
    CHECK(after->sha256() != sha);  // the caller (match_invocation) denies digest-mismatch
  }
  SECTION("a file replaced by rename is another inode: a miss") {
    write_file(p.dir + "/new", "#!/bin/sh\necho two\n", 0700);
    REQUIRE(rename((p.dir + "/new").c_str(), p.prog.c_str()) == 0);
    auto after = ExecImage::load_in_place(p.prog, how);
    REQUIRE(after.ok());
    CHECK_FALSE(after->digest_cached());
    CHECK(after->sha256() != sha);
  }
  SECTION("a digest that is not the expected one is never recorded") {
    const InPlaceOptions wrong{&cache, crypto::sha256_hex("not it"), geteuid()};
    REQUIRE(ExecImage::load_in_place(p.prog, wrong).ok());
    auto again = ExecImage::load_in_place(p.prog, wrong);
    REQUIRE(again.ok());
    CHECK_FALSE(again->digest_cached());
    CHECK(again->sha256() == sha);
  }
}

TEST_CASE("load_in_place: a file others can modify is copied, never executed in place or cached") {
  PrivateProgram p;
  const SignatureCache tags = SignatureCache::open(p.state, true);
  const DigestCache cache(tags);
  const std::string sha = file_sha(p.prog);
  SECTION("group/other-writable file") { REQUIRE(chmod(p.prog.c_str(), 0777) == 0); }
  SECTION("other-writable directory on the way") { REQUIRE(chmod(p.dir.c_str(), 0777) == 0); }
  PrivateProgram::age();
  auto img = ExecImage::load_in_place(p.prog, InPlaceOptions{&cache, sha, geteuid()});
  REQUIRE(img.ok());
  CHECK_FALSE(img->in_place());
  CHECK(img->copy_reason().find("writable by group or others") != std::string::npos);
  CHECK(img->sha256() == sha);
  // The copy is a sealed memfd, and nothing was cached.
  CHECK(fcntl(img->fd(), F_GET_SEALS) > 0);
  struct stat st {};
  CHECK(stat((p.state + "/" + std::string(kDigestCacheFile)).c_str(), &st) != 0);
}

TEST_CASE("untrusted_filesystem: file systems served by someone else than this kernel are named") {
  CHECK(std::string(ExecImage::untrusted_filesystem(0x65735546)) == "FUSE");
  CHECK(std::string(ExecImage::untrusted_filesystem(0x6969)) == "NFS");
  CHECK(std::string(ExecImage::untrusted_filesystem(0xFE534D42)) == "SMB2");
  CHECK(std::string(ExecImage::untrusted_filesystem(0x01021997)) == "9P");
  // A write to a lower layer breaks no lease on the overlay's inode.
  CHECK(std::string(ExecImage::untrusted_filesystem(0x794C7630)) == "union (overlay)");
  CHECK(ExecImage::untrusted_filesystem(0xEF53) == nullptr);      // ext4
  CHECK(ExecImage::untrusted_filesystem(0x01021994) == nullptr);  // tmpfs
  CHECK(ExecImage::untrusted_filesystem(0x9123683E) == nullptr);  // btrfs
}

TEST_CASE("load_in_place: writers are held off from the digest until release_writers") {
  PrivateProgram p;
  const InPlaceOptions how{nullptr, "", geteuid()};
  auto img = ExecImage::load_in_place(p.prog, how);
  REQUIRE(img.ok());
  REQUIRE(img->in_place());
  if (!img->writers_held()) {
    WARN("no read lease on " << p.prog << " (leases disabled?): skipping");
    return;
  }
  CHECK_FALSE(img->writer_came());
  CHECK(img->stamp_unchanged());
  // A writer waits (O_NONBLOCK: told so at once) and the lease shows it came.
  const int busy = open(p.prog.c_str(), O_WRONLY | O_NONBLOCK);
  const int busy_err = errno;
  CHECK(busy < 0);
  CHECK(busy_err == EWOULDBLOCK);
  if (busy >= 0) close(busy);
  CHECK(img->writer_came());
  CHECK(img->stamp_unchanged());  // it waited: nothing written
  // Released (after the exec, in a run): the writer gets in.
  img->release_writers();
  const int w = open(p.prog.c_str(), O_WRONLY | O_NONBLOCK);
  CHECK(w >= 0);
  REQUIRE(write(w, "#", 1) == 1);
  close(w);
  CHECK_FALSE(img->stamp_unchanged());

  SECTION("a file someone holds open for writing is copied") {
    const int holder = open(p.prog.c_str(), O_WRONLY);
    REQUIRE(holder >= 0);
    auto copied = ExecImage::load_in_place(p.prog, how);
    close(holder);
    REQUIRE(copied.ok());
    CHECK_FALSE(copied->in_place());
    CHECK(copied->copy_reason().find("open for writing") != std::string::npos);
    CHECK_FALSE(copied->writer_came());
    CHECK(copied->stamp_unchanged());
  }
}
