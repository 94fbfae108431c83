#include "lib/executable.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <utility>

#include "lib/crypto.h"
#include "lib/digest_cache.h"
#include "lib/fsutil.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

namespace gx {

Result<ResolvedExecutable> resolve_for_exec(const std::string& name, const std::string& path_env,
                                            const std::string& cwd) {
  if (name.empty()) return Decision::deny(DenyReason::Usage, "empty command name");
  auto check = [](const std::string& p) {
    struct stat st {};
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    std::string p = name[0] == '/' ? name : cwd + "/" + name;
    p = fs::absolute(p);
    if (!check(p)) return Decision::deny(DenyReason::PolicyMismatch, p + " is not an executable file", "exec.path", p);
    return ResolvedExecutable{p, name};
  }
  std::string search = path_env.empty() ? "/usr/local/bin:/usr/bin:/bin" : path_env;
  size_t pos = 0;
  while (pos <= search.size()) {
    size_t end = search.find(':', pos);
    if (end == std::string::npos) end = search.size();
    // POSIX: an empty PATH entry means the current directory.
    std::string as_exec = end == pos ? "./" + name : search.substr(pos, end - pos) + "/" + name;
    std::string p = end == pos ? cwd : search[pos] == '/' ? std::string() : cwd + "/";
    p.append(search, pos, end - pos).append("/").append(name);
    p = fs::absolute(p);
    if (check(p)) return ResolvedExecutable{p, as_exec};
    pos = end + 1;
  }
  return Decision::deny(DenyReason::PolicyMismatch, "command not found in PATH: " + name, "exec.path", name);
}

Result<std::string> resolve_executable(const std::string& name, const std::string& path_env, const std::string& cwd) {
  auto r = resolve_for_exec(name, path_env, cwd);
  if (!r) return r.error();
  return r->path;
}

namespace {

#ifdef F_SEAL_FUTURE_WRITE
constexpr int kFutureWriteSeal = F_SEAL_FUTURE_WRITE;
#else
constexpr int kFutureWriteSeal = 0x0010;  // linux/fcntl.h, Linux 5.1
#endif

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < p.size()) {
    size_t end = p.find('/', pos);
    if (end == std::string::npos) end = p.size();
    if (end > pos) out.push_back(p.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::string owner_reason(const std::string& p, const struct stat& st, uid_t caller) {
  if (st.st_uid == 0 || st.st_uid == caller) return {};
  return p + " is owned by uid " + std::to_string(st.st_uid) + ", neither root nor the caller";
}

}  // namespace

std::string script_path_unsafe_reason(const std::string& path, const std::string& cwd, uid_t caller, dev_t dev,
                                      ino_t ino) {
  if (path.empty()) return "empty script path";
  std::string start = path[0] == '/' ? path : cwd + "/" + path;
  if (start[0] != '/') return "script path " + path + " is not anchored at an absolute directory";
  std::vector<std::string> todo = split_path(start);
  std::reverse(todo.begin(), todo.end());  // a stack: next component at the back
  std::vector<std::string> cur;            // the physical directory reached so far
  auto joined = [&](const std::vector<std::string>& parts) {
    std::string s;
    for (const auto& c : parts) s += "/" + c;
    return s.empty() ? std::string("/") : s;
  };
  auto check_dir = [&](const std::string& p) -> std::string {
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0) return "cannot stat " + p + ": " + fs::errno_text(errno);
    if (!S_ISDIR(st.st_mode)) return p + " is not a directory";
    if (auto r = owner_reason(p, st, caller); !r.empty()) return r;
    // Sticky: others may add entries, but only an entry's owner (checked) may replace it.
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0)
      return p + " is writable by group or others";
    return {};
  };
  if (auto r = check_dir("/"); !r.empty()) return r;
  int links = 0;
  while (!todo.empty()) {
    std::string c = todo.back();
    todo.pop_back();
    if (c == ".") continue;
    if (c == "..") {
      if (!cur.empty()) cur.pop_back();
      continue;
    }
    std::vector<std::string> next = cur;
    next.push_back(c);
    std::string p = joined(next);
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0) return "cannot stat " + p + ": " + fs::errno_text(errno);
    if (auto r = owner_reason(p, st, caller); !r.empty()) return r;
    if (S_ISLNK(st.st_mode)) {
      if (++links > 40) return "too many symbolic links in " + path;
      std::vector<char> buf(static_cast<size_t>(st.st_size > 0 ? st.st_size : 4096) + 1);
      ssize_t n = readlink(p.c_str(), buf.data(), buf.size());
      if (n <= 0 || static_cast<size_t>(n) >= buf.size()) return "cannot read symbolic link " + p;
      std::string target(buf.data(), static_cast<size_t>(n));
      if (target[0] == '/') cur.clear();
      auto parts = split_path(target);
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_back(*it);
      continue;
    }
    if (todo.empty()) {
      if (!S_ISREG(st.st_mode)) return p + " is not a regular file";
      if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) return p + " is writable by group or others";
      if (st.st_dev != dev || st.st_ino != ino) return p + " is no longer the file that was digested";
      return {};
    }
    if (auto r = check_dir(p); !r.empty()) return r;
    cur = std::move(next);
  }
  return path + " names a directory";
}

std::optional<Shebang> parse_shebang(std::string_view head) {
  if (head.size() < 2 || head[0] != '#' || head[1] != '!') return std::nullopt;
  size_t eol = head.find('\n');
  std::string_view line = head.substr(2, eol == std::string_view::npos ? head.size() - 2 : eol - 2);
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  size_t i = 0;
  while (i < line.size() && is_space(line[i])) ++i;
  size_t start = i;
  while (i < line.size() && !is_space(line[i])) ++i;
  Shebang s;
  s.interpreter = std::string(line.substr(start, i - start));
  while (i < line.size() && is_space(line[i])) ++i;
  std::string_view rest = line.substr(i);
  // Linux passes everything after the interpreter as ONE argument, trailing blanks stripped.
  while (!rest.empty() && (is_space(rest.back()) || rest.back() == '\r')) rest.remove_suffix(1);
  s.argument = std::string(rest);
  if (s.interpreter.empty()) return std::nullopt;
  return s;
}

ExecImage::ExecImage(ExecImage&& o) noexcept { *this = std::move(o); }
ExecImage& ExecImage::operator=(ExecImage&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    path_ = std::move(o.path_);
    sha256_ = std::move(o.sha256_);
    shebang_ = std::move(o.shebang_);
    size_ = o.size_;
    dev_ = o.dev_;
    ino_ = o.ino_;
    fd_ = o.fd_;
    in_place_ = o.in_place_;
    digest_cached_ = o.digest_cached_;
    lease_held_ = std::exchange(o.lease_held_, false);
    mtime_ns_ = o.mtime_ns_;
    ctime_ns_ = o.ctime_ns_;
    copy_reason_ = std::move(o.copy_reason_);
    o.fd_ = -1;
  }
  return *this;
}
ExecImage::~ExecImage() {
  if (fd_ >= 0) close(fd_);
}

bool ExecImage::writer_came() const { return in_place_ && lease_held_ && fcntl(fd_, F_GETLEASE) != F_RDLCK; }

bool ExecImage::stamp_unchanged() const {
  if (!in_place_) return true;
  struct stat now {};
  return fstat(fd_, &now) == 0 && static_cast<uint64_t>(now.st_size) == size_ &&
         FileStamp::of(now).mtime_ns == mtime_ns_ && FileStamp::of(now).ctime_ns == ctime_ns_;
}

void ExecImage::release_writers() {
  if (lease_held_ && fd_ >= 0) (void)fcntl(fd_, F_SETLEASE, F_UNLCK);
  lease_held_ = false;
}

namespace {

// Reads `src` to its end, hashing every byte and, when copy_to >= 0,
// writing it there: what is hashed is exactly what is copied.
struct ReadResult {
  std::string sha256;
  uint64_t size = 0;
  std::string head;  // the first 256 bytes, for the #! line
};
Result<ReadResult> hash_file(int src, int copy_to, const std::string& path, uint64_t max_bytes) {
  auto io = [&](const std::string& what, int err) {
    return Decision::deny(DenyReason::IoError, what + " " + path + ": " + fs::errno_text(err), "exec.path", path);
  };
  ReadResult out;
  crypto::Sha256 hash;
  std::vector<unsigned char> buf(1 << 17);
  Decision failure;
  for (;;) {
    ssize_t n = read(src, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failure = io("cannot read", errno);
      break;
    }
    if (n == 0) break;
    out.size += static_cast<uint64_t>(n);
    if (out.size > max_bytes) {
      failure =
          Decision::deny(DenyReason::TooLarge, path + " is larger than the executable size limit", "exec.path", path);
      break;
    }
    if (out.head.size() < 256)
      out.head.append(reinterpret_cast<char*>(buf.data()), std::min<size_t>(static_cast<size_t>(n), 256));
    // Hash exactly the bytes that go into the copy: what runs is what was hashed.
    hash.update(std::string_view(reinterpret_cast<char*>(buf.data()), static_cast<size_t>(n)));
    size_t off = 0;
    while (copy_to >= 0 && off < static_cast<size_t>(n)) {
      ssize_t w = write(copy_to, buf.data() + off, static_cast<size_t>(n) - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) break;
      off += static_cast<size_t>(w);
    }
    if (copy_to >= 0 && off != static_cast<size_t>(n)) {
      failure = io("cannot copy", errno);
      break;
    }
  }
  crypto::Digest d = hash.finish();
  if (!failure.allowed()) return failure;
  out.sha256 = crypto::hex(d);
  return out;
}

}  // namespace

Result<ExecImage> ExecImage::load(const std::string& path, uint64_t max_bytes) {
  auto io = [&](const std::string& what, int err) {
    return Decision::deny(DenyReason::IoError, what + " " + path + ": " + fs::errno_text(err), "exec.path", path);
  };
  fs::UniqueFd src(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!src.ok()) return io("cannot open", errno);
  struct stat st {};
  if (fstat(src.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return Decision::deny(DenyReason::PolicyMismatch, path + " is not a regular file", "exec.path", path);
  int mfd = memfd_create("gx-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (mfd < 0 && errno == EINVAL) mfd = memfd_create("gx-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) return io("cannot create memfd for", errno);
  ExecImage img;
  img.fd_ = mfd;
  img.dev_ = st.st_dev;
  img.ino_ = st.st_ino;
  img.path_ = path;
  auto r = hash_file(src.get(), mfd, path, max_bytes);
  if (!r) return r.error();
  // F_SEAL_FUTURE_WRITE, not F_SEAL_WRITE: both refuse every write from
  // now on (write, a writable shared mmap, a hole punched), and they differ
  // only for writable mappings that already exist -- this memfd was written
  // with write(2) and never mapped. F_SEAL_WRITE also waits for the pages
  // just written to lose their extra references (per-CPU LRU batches) and
  // fails with EBUSY when they do not in time: under load in CI it did.
  int sealed = fcntl(mfd, F_ADD_SEALS, kFutureWriteSeal | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  if (sealed != 0 && errno == EINVAL) {  // before Linux 5.1
    for (int attempt = 0; attempt < 5; ++attempt) {
      sealed = fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
      if (sealed == 0 || errno != EBUSY) break;
      usleep(2000);
    }
  }
  if (sealed != 0) return io("cannot seal memfd copy of", errno);
  img.size_ = r->size;
  img.sha256_ = r->sha256;
  if (auto sb = parse_shebang(r->head)) img.shebang_ = *sb;
  return img;
}

const char* ExecImage::untrusted_filesystem(unsigned long f_type) {
  // <linux/magic.h> has some of these; the rest are their file systems' own.
  switch (f_type) {
    case 0x65735546: return "FUSE";
    case 0x6969: return "NFS";
    case 0xFF534D42: return "CIFS";
    case 0xFE534D42: return "SMB2";
    case 0x517B: return "SMB";
    case 0x01021997: return "9P";
    case 0x00C36400: return "Ceph";
    case 0x5346414F: return "AFS";
    case 0x6B414653: return "kAFS";
    case 0x73757245: return "Coda";
    // Its files are another file system's: a write to the lower layer
    // changes them without touching the inode gx leased (review helper-40).
    case 0x794C7630: return "union (overlay)";
    default: return nullptr;
  }
}

Result<ExecImage> ExecImage::load_in_place(const std::string& path, const InPlaceOptions& how, uint64_t max_bytes) {
  auto copy = [&](std::string why) -> Result<ExecImage> {
    auto img = load(path, max_bytes);
    if (img) img->copy_reason_ = std::move(why);
    return img;
  };
  fs::UniqueFd src(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  struct stat before {};
  if (!src.ok() || fstat(src.get(), &before) != 0 || !S_ISREG(before.st_mode)) return copy("cannot open " + path);
  // The rule is checked for the inode that is open: a swap after this
  // point changes nothing we execute.
  if (std::string why = script_path_unsafe_reason(path, "/", how.caller, before.st_dev, before.st_ino); !why.empty())
    return copy(why);
  struct statfs fs_info {};
  if (fstatfs(src.get(), &fs_info) != 0) return copy("cannot read the file system of " + path);
  if (const char* kind = untrusted_filesystem(static_cast<unsigned long>(fs_info.f_type)))
    return copy(path + " is on a " + kind + " file system");
  // Writers held off from before the digest to the exec (see the header).
  // The break notice must not be SIGIO, whose default action kills gx.
  bool leased = false;
  if (fcntl(src.get(), F_SETSIG, SIGURG) == 0) {
    if (fcntl(src.get(), F_SETLEASE, F_RDLCK) == 0) leased = true;
    else if (errno == EAGAIN) return copy(path + " is open for writing by another process");
    // EACCES (neither its owner nor CAP_LEASE), EINVAL (leases disabled):
    // in place without, as the header says.
  }
  if (leased && fstat(src.get(), &before) != 0) return copy("cannot stat " + path);
  const FileStamp stamp = FileStamp::of(before);
  ExecImage img;
  img.lease_held_ = leased;
  img.mtime_ns_ = stamp.mtime_ns;
  img.ctime_ns_ = stamp.ctime_ns;
  img.path_ = path;
  img.dev_ = before.st_dev;
  img.ino_ = before.st_ino;
  img.size_ = static_cast<uint64_t>(before.st_size);
  std::string head(256, '\0');
  if (how.digests && !how.expected_sha256.empty() && how.digests->known(stamp, how.expected_sha256)) {
    ssize_t n = pread(src.get(), head.data(), head.size(), 0);
    if (n < 0) return copy("cannot read " + path);
    head.resize(static_cast<size_t>(n));
    img.sha256_ = how.expected_sha256;
    img.digest_cached_ = true;
  } else {
    auto r = hash_file(src.get(), -1, path, max_bytes);
    if (!r) return r.error();
    struct stat after {};
    // Changed while we read it: what we hashed may not be what would run.
    if (fstat(src.get(), &after) != 0 || FileStamp::of(after) != stamp || r->size != img.size_)
      return copy(path + " changed while it was digested");
    img.sha256_ = r->sha256;
    head = r->head;
    if (how.digests && img.sha256_ == how.expected_sha256) how.digests->remember(stamp, img.sha256_);
  }
  if (auto sb = parse_shebang(head)) img.shebang_ = *sb;
  img.fd_ = src.release();
  img.in_place_ = true;
  return img;
}

Result<std::string> digest_file(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return Decision::deny(DenyReason::IoError, "cannot open " + path + ": " + fs::errno_text(errno), "file", path);
  auto d = crypto::sha256_fd_hex(fd);
  close(fd);
  return d;
}

// ---- ELF: the loader a dynamic executable names ----

namespace {

template <class Ehdr, class Phdr>
Result<std::string> interp_of(int fd) {
  Ehdr eh{};
  if (pread(fd, &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh))
    return Decision::deny(DenyReason::Malformed, "truncated ELF header", "executable");
  if (eh.e_phentsize != sizeof(Phdr) || eh.e_phnum > 1024)
    return Decision::deny(DenyReason::Malformed, "unexpected ELF program header layout", "executable");
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Phdr ph{};
    off_t off = static_cast<off_t>(eh.e_phoff + i * sizeof(Phdr));
    if (pread(fd, &ph, sizeof ph, off) != static_cast<ssize_t>(sizeof ph))
      return Decision::deny(DenyReason::Malformed, "truncated ELF program headers", "executable");
    if (ph.p_type != PT_INTERP) continue;
    if (ph.p_filesz < 2 || ph.p_filesz > PATH_MAX)
      return Decision::deny(DenyReason::Malformed, "bad PT_INTERP size", "executable");
    std::string s(static_cast<size_t>(ph.p_filesz), '\0');
    if (pread(fd, s.data(), s.size(), static_cast<off_t>(ph.p_offset)) != static_cast<ssize_t>(s.size()))
      return Decision::deny(DenyReason::Malformed, "truncated PT_INTERP", "executable");
    // The kernel requires the terminating NUL and uses the string up to it.
    if (s.back() != '\0' || s.find('\0') != s.size() - 1)
      return Decision::deny(DenyReason::Malformed, "PT_INTERP is not a C string", "executable");
    s.pop_back();
    return s;
  }
  return std::string();
}

}  // namespace

Result<std::string> elf_interpreter(int fd) {
  unsigned char ident[EI_NIDENT];
  if (pread(fd, ident, sizeof ident, 0) != static_cast<ssize_t>(sizeof ident) || memcmp(ident, ELFMAG, SELFMAG) != 0)
    return Decision::deny(DenyReason::Malformed, "not an ELF file", "executable");
  if (ident[EI_DATA] != ELFDATA2LSB)
    return Decision::deny(DenyReason::Malformed, "not a little-endian ELF file", "executable");
  if (ident[EI_CLASS] == ELFCLASS64) return interp_of<Elf64_Ehdr, Elf64_Phdr>(fd);
  if (ident[EI_CLASS] == ELFCLASS32) return interp_of<Elf32_Ehdr, Elf32_Phdr>(fd);
  return Decision::deny(DenyReason::Malformed, "unknown ELF class", "executable");
}

Result<std::string> elf_interpreter(const std::string& path) {
  fs::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok())
    return Decision::deny(DenyReason::IoError, "cannot open " + path + ": " + fs::errno_text(errno), "executable",
                          path);
  return elf_interpreter(fd.get());
}

}  // namespace gx
