// The executable image: resolved like execvp(3), read ONCE into a sealed
// memfd while it is digested, so what gx verified is exactly what runs.
//
// Why a memfd: hashing the opened file and then execveat()-ing that same fd
// closes the rename/replace race (CVE-2015-8239 style), but not an in-place
// write to the same inode between digest and exec. The sealed copy
// (F_SEAL_FUTURE_WRITE|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL; F_SEAL_WRITE
// before Linux 5.1) cannot change after the digest, by anyone, including
// the governed child: gx writes it with write(2) and never maps it, so no
// writable mapping exists for FUTURE_WRITE to leave open.
//
// Scripts ("#!"): the kernel would open the interpreter by path at exec
// time (an unverified path lookup), and execveat() of a close-on-exec fd to
// a script fails with ENOENT anyway. gx instead pins the interpreter in
// the artifact (exec.interpreter + exec.interpreter_sha256), loads it into
// its own sealed memfd, and executes THAT with argv
//   [interpreter, (optional #! argument), SCRIPT, argv[1]...]
// SCRIPT is the script's path as execvp(3) would have handed it to the
// kernel (what $0 is without gx) when script_path_unsafe_reason() finds
// that nobody but root or the caller can replace that file between the
// digest and the interpreter's open (OpenSSH's StrictModes rule, see
// below); otherwise it is "/dev/fd/N", N being the script's sealed memfd,
// inherited by the child, and the caller is warned with the reason.
// Caveat of the path form: the caller itself (any process with its uid,
// outside the sandbox) can still rewrite the file in that window; the
// Landlock read rule gx adds is bound to the checked inode, so a
// replaced file is unreadable unless a read grant covers it anyway.
//
// Executing the original file instead of a copy (ExecImage::load_in_place,
// issue #14): when script_path_unsafe_reason() finds that nobody but root
// (gx run passes caller 0) can modify or replace the file -- system
// programs such as /usr/bin/python3 -- gx opens it, digests it (or finds
// its stamp in the DigestCache, lib/digest_cache.h) and execveat()s THAT
// descriptor: the same inode that was checked, so a rename or replace
// after the check is harmless. No copy is made, the program's pages are
// shared between runs, and a cached digest skips the read entirely.
// Why root alone, not "root or the caller" as for the script path form:
// a file the caller owns can be rewritten in place, between the digest and
// the exec, by any process of the caller's uid -- including another
// governed child whose sandbox grants write there, which would then run
// its own code under THIS artifact's (possibly wider) sandbox. The sealed
// copy closes that (tests/cli/run_races.sh); for the caller's files it is
// kept. Root's own file can be rewritten too, by a root-run governed
// command whose write grant covers it (its name, a bind mount, a hard
// link): writers are held off with a read lease from before the digest to
// the exec (writers_held, below) where gx may take one (as root). Caveat,
// the same as for pinned files (lib/invocation.h): root outside any
// sandbox can change the file behind that; root is trusted by gx (it can
// equally rewrite the state directory). The
// governed child itself cannot use the window: it does not exist yet, and
// afterwards it may not write the file (it is only executed in place when
// no write grant covers it, lib/invocation.cc). A file that fails the rule
// is copied into a sealed memfd as before.
// An interpreter line naming `/usr/bin/env`
// pins env itself; env's own PATH lookup is then governed by the sandbox's
// exec paths, not by a digest (documented in gx-artifact(5)).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "lib/decision.h"

namespace gx {

// The path execvp(3) would pass to execve(2) for `name` (as typed when it
// contains '/', else PATH entry + "/" + name) and its normalised absolute
// form. A path without '/' (empty PATH entry) gets a "./" prefix, so that
// an interpreter never searches PATH for it.
struct ResolvedExecutable {
  std::string path;     // absolute, normalised (what the artifact names)
  std::string as_exec;  // what execve(2) would have been given
};
Result<ResolvedExecutable> resolve_for_exec(const std::string& name, const std::string& path_env,
                                            const std::string& cwd);

// Like execvp(3): a name containing '/' is taken relative to cwd; otherwise
// PATH (or the default "/usr/local/bin:/usr/bin:/bin") is searched for an
// executable regular file. Returns an absolute, normalised path.
Result<std::string> resolve_executable(const std::string& name, const std::string& path_env, const std::string& cwd);

struct Shebang {
  std::string interpreter;  // absolute path from the #! line
  std::string argument;     // the optional single argument (may be empty)
};

class DigestCache;

// How ExecImage::load_in_place may avoid the copy.
struct InPlaceOptions {
  const DigestCache* digests = nullptr;  // null: hash on every load
  std::string expected_sha256;           // the digest the artifact pins (the cache key)
  uid_t caller = 0;                      // who besides root may own the file and its directories
};

class ExecImage {
 public:
  ExecImage() = default;
  ExecImage(ExecImage&& o) noexcept;
  ExecImage& operator=(ExecImage&& o) noexcept;
  ExecImage(const ExecImage&) = delete;
  ExecImage& operator=(const ExecImage&) = delete;
  ~ExecImage();

  const std::string& path() const { return path_; }
  const std::string& sha256() const { return sha256_; }
  int fd() const { return fd_; }  // sealed memfd, or the original file when in_place(); O_CLOEXEC
  bool in_place() const { return in_place_; }
  bool digest_cached() const { return digest_cached_; }            // in place, digest from the DigestCache
  const std::string& copy_reason() const { return copy_reason_; }  // why load_in_place copied
  bool is_script() const { return !shebang_.interpreter.empty(); }
  const Shebang& shebang() const { return shebang_; }
  uint64_t size() const { return size_; }
  dev_t device() const { return dev_; }  // of the file that was read
  ino_t inode() const { return ino_; }

  // Opens `path` (O_NOFOLLOW on the last component is not used: resolution
  // already happened; the digest covers whatever was opened), copies it into
  // a sealed memfd while hashing, and parses a #! line if there is one.
  static Result<ExecImage> load(const std::string& path, uint64_t max_bytes = kMaxBytes);

  // Executes the original file when script_path_unsafe_reason(path)
  // passes for `how.caller` (see the header comment) and its file system
  // is not one whose server may change
  // the bytes, or the stamps the DigestCache keys on, behind the kernel's
  // back (untrusted_filesystem): opens it, digests it
  // unless the DigestCache knows its stamp with how.expected_sha256,
  // requires the stamp unchanged by the read, and records the digest when
  // it equals the expected one. Otherwise (copy_reason() says why) exactly
  // load(). `path` must be absolute.
  static Result<ExecImage> load_in_place(const std::string& path, const InPlaceOptions& how,
                                         uint64_t max_bytes = kMaxBytes);

  // Writers held off (in place only). load_in_place takes a read lease
  // (fcntl F_SETLEASE F_RDLCK) on the file before it is digested: from then
  // on, a process opening it for writing or truncating it waits until the
  // lease is released -- or until /proc/sys/fs/lease-break-time runs out,
  // when the kernel takes the lease away -- and the lease is marked
  // broken. After a successful exec the kernel refuses writers on its own
  // (ETXTBSY, for as long as the program runs), so holding them off from
  // the digest to the exec is what makes the executed bytes the digested
  // ones. A file someone holds open for writing is copied instead.
  // Taking a lease needs CAP_LEASE or owning the file: gx as root (the
  // broker, root's cron) holds one; gx as another user executing a root's
  // file cannot, and the window stays open to root writers
  // (docs/security.md). The break notice is sent as SIGURG, whose default
  // action is to ignore it (gx never handles SIGURG).
  bool writers_held() const { return lease_held_; }  // a lease was taken
  // A process opened the file for writing (or truncated it) since the lease
  // was taken: it waits, or the kernel took the lease away and it may have
  // written. False without a lease, and for a sealed copy.
  bool writer_came() const;
  // The file's stamp (size, mtime, ctime) as it was digested. Always true
  // for a sealed copy.
  bool stamp_unchanged() const;
  // Lets writers in (after the exec): releases the lease. Idempotent.
  void release_writers();

  static constexpr uint64_t kMaxBytes = 1ull << 31;  // 2 GiB

  // The name of a file system type (statfs f_type) whose contents and
  // attributes are served by someone other than this kernel -- FUSE, NFS,
  // SMB, 9P, Ceph, AFS, Coda -- or by another file system behind this one
  // (overlay: a write to a lower layer breaks no lease on the overlay
  // inode), else nullptr. Such files are always copied.
  static const char* untrusted_filesystem(unsigned long f_type);

 private:
  std::string path_;
  std::string sha256_;
  Shebang shebang_;
  uint64_t size_ = 0;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  int fd_ = -1;
  bool in_place_ = false;
  bool digest_cached_ = false;
  bool lease_held_ = false;
  int64_t mtime_ns_ = 0, ctime_ns_ = 0;  // in place: the stamp that was digested
  std::string copy_reason_;
};

// StrictModes (OpenSSH's rule, extended to sticky directories): may
// `path` (as the interpreter will open it, relative to `cwd` when not
// absolute) be handed to an interpreter instead of the sealed copy?
// Walking the path physically (each symlink followed, at most 40), the
// file, every directory on the way and every symlink must be owned by root
// or `caller`; the file and every directory must not be writable by group or
// others -- except a directory with the sticky bit (/tmp), where only an
// entry's owner (already root or the caller) can rename or remove it. The
// file must be a regular file with device/inode `dev`/`ino` (the one that
// was digested). Returns "" when all holds, else the first reason, one
// line naming the path ("/tmp/x is writable by group or others"). Any error
// is a reason (the caller falls back to the sealed copy).
std::string script_path_unsafe_reason(const std::string& path, const std::string& cwd, uid_t caller, dev_t dev,
                                      ino_t ino);

// SHA-256 (hex) of a file's content, for pinned files and `gx init`.
Result<std::string> digest_file(const std::string& path);

// Parses the first line of a file's content as a #! line.
std::optional<Shebang> parse_shebang(std::string_view head);

// PT_INTERP of an ELF file read through fd (must be readable; pread, the
// offset is untouched) or path: "" for a static executable, a denial
// (malformed / io-error) for a non-ELF or truncated file. The result is the
// path as written in the binary; O_PATH-opening it in prepare_ruleset
// follows symlinks, so the rule lands on the real loader.
Result<std::string> elf_interpreter(int fd);
Result<std::string> elf_interpreter(const std::string& path);

}  // namespace gx
