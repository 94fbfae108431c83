#include "lib/fsutil.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "lib/crypto.h"

namespace gx::fs {

std::string errno_text(int err) { return std::strerror(err); }

std::optional<std::string_view> proc_status_field(std::string_view status, std::string_view name) {
  for (size_t line = 0; line < status.size();) {
    size_t end = status.find('\n', line);
    if (end == std::string_view::npos) end = status.size();
    std::string_view text = status.substr(line, end - line);
    if (text.size() > name.size() && text.substr(0, name.size()) == name && text[name.size()] == ':') {
      text.remove_prefix(name.size() + 1);
      while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
      return text;
    }
    line = end + 1;
  }
  return std::nullopt;
}

namespace {

std::string file_type_name(mode_t m) {
  if (S_ISREG(m)) return "a regular file";
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a fifo";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISLNK(m)) return "a symlink";
  return "of unknown type";
}

std::string octal_mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

}  // namespace

namespace {
Result<std::string> read_regular(const std::string& path, size_t max_bytes, int extra_flags) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | extra_flags);
  if (fd < 0)
    return Decision::deny(DenyReason::IoError, "cannot open " + path + ": " + errno_text(errno), "file", path);
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Decision::deny(DenyReason::IoError, path + " is " + file_type_name(st.st_mode) + ", not a regular file",
                          "file", path);
  }
  std::string out;
  // The size fstat reports, within the limit, so a large file is not
  // copied again each time the buffer grows; the reads below still decide.
  out.reserve(std::min(static_cast<size_t>(st.st_size), max_bytes) + 1);
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return Decision::deny(DenyReason::IoError, "cannot read " + path + ": " + errno_text(err), "file", path);
    }
    if (n == 0) break;
    // Stop reading as soon as the limit is passed: never buffer a huge input.
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      close(fd);
      return Decision::deny(DenyReason::TooLarge,
                            path + " is larger than the limit of " + std::to_string(max_bytes) + " bytes", "file",
                            path);
    }
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}
}  // namespace

Result<std::string> read_file(const std::string& path, size_t max_bytes) { return read_regular(path, max_bytes, 0); }
Result<std::string> read_file_nofollow(const std::string& path, size_t max_bytes) {
  return read_regular(path, max_bytes, O_NOFOLLOW);
}

Decision write_file_atomic(const std::string& path, std::string_view data, mode_t mode, Overwrite overwrite) {
  std::string dir = dirname(path);
  auto suffix = crypto::random_hex(6);
  if (!suffix) return suffix.error();
  std::string tmp = path + ".tmp." + *suffix;
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return Decision::deny(DenyReason::IoError, "cannot create " + tmp + ": " + errno_text(errno), "file", path);
  // O_CREAT honours the umask; set the exact mode we promise (0600 for keys).
  if (fchmod(fd, mode) != 0) {
    int err = errno;
    close(fd);
    unlink(tmp.c_str());
    return Decision::deny(DenyReason::IoError, "cannot chmod " + tmp + ": " + errno_text(err), "file", path);
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return Decision::deny(DenyReason::IoError, "cannot write " + tmp + ": " + errno_text(err), "file", path);
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return Decision::deny(DenyReason::IoError, "cannot flush " + tmp + ": " + errno_text(err), "file", path);
  }
  int rc;
  if (overwrite == Overwrite::Yes) {
    rc = rename(tmp.c_str(), path.c_str());
  } else {
    // link(2) fails with EEXIST instead of replacing: no-overwrite without a race.
    rc = link(tmp.c_str(), path.c_str());
    int err = errno;
    unlink(tmp.c_str());
    errno = err;
  }
  if (rc != 0) {
    int err = errno;
    if (overwrite == Overwrite::Yes) unlink(tmp.c_str());
    if (err == EEXIST)
      return Decision::deny(DenyReason::IoError, path + " already exists (use --force to replace it)", "file", path);
    return Decision::deny(DenyReason::IoError, "cannot write " + path + ": " + errno_text(err), "file", path);
  }
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return Decision::allow();
}

Decision make_dirs(const std::string& path, mode_t mode) {
  std::string cur;
  std::string p = absolute(path);
  struct stat st {};
  // Usually there already: one stat instead of a failing mkdir per
  // component (each locks its parent directory).
  if (stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Decision::allow();
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = p.find('/', pos + 1);
    cur = p.substr(0, pos);
    if (cur.empty()) continue;
    if (mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return Decision::deny(DenyReason::IoError, "cannot create directory " + cur + ": " + errno_text(errno), "dir",
                            cur);
  }
  if (stat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Decision::deny(DenyReason::IoError, p + " is not a directory", "dir", p);
  return Decision::allow();
}

bool exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

bool exists_in(const OpenDir& dir, std::string_view name) {
  struct stat st {};
  return fstatat(dir.fd.get(), std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

std::string dirname(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string absolute(const std::string& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  if (ec) return path;
  return abs.lexically_normal().string();
}

std::vector<std::string> symlink_hops(const std::string& path) {
  std::vector<std::string> out;
  auto add = [&](const std::string& p) {
    if (!p.empty() && std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  };
  std::string cur = absolute(path);
  add(cur);
  for (int hop = 0; hop < 40; ++hop) {
    char buf[PATH_MAX];
    ssize_t n = readlink(cur.c_str(), buf, sizeof buf - 1);
    if (n <= 0) break;  // not a symlink, or gone
    std::string target(buf, static_cast<size_t>(n));
    cur = absolute(target[0] == '/' ? target : dirname(cur) + "/" + target);
    add(cur);
  }
  // Only after a link: the lexical join above cannot see a directory link
  // under a "..", the kernel's name can. Without one, the name given is the
  // file's, up to directory links, which callers resolve anyway.
  if (out.size() > 1) add(canonical(path));
  return out;
}

std::string absolute_physical(const std::string& path) {
  // The end of the last ".." component.
  size_t end = std::string::npos;
  for (size_t at = 0; at < path.size();) {
    size_t next = std::min(path.find('/', at), path.size());
    if (path.compare(at, next - at, "..") == 0) end = next;
    at = next + 1;
  }
  if (end == std::string::npos) return absolute(path);
  char real[PATH_MAX];
  if (realpath(path.substr(0, end).c_str(), real) == nullptr) return absolute(path);
  std::string rest = path.substr(end);
  return absolute(std::string(real) + (rest.empty() ? "" : rest));
}

std::vector<std::string> links_on_path(const std::string& path) {
  std::vector<std::string> links;
  if (path.empty()) return links;
  // Components still to walk, the next one last.
  std::vector<std::string> todo;
  auto push_front = [&todo](std::string_view p) {
    std::vector<std::string> parts;
    for (size_t at = 0; at <= p.size();) {
      size_t end = std::min(p.find('/', at), p.size());
      if (end > at) parts.emplace_back(p.substr(at, end - at));
      at = end + 1;
    }
    todo.insert(todo.end(), parts.rbegin(), parts.rend());
  };
  push_front(path);
  std::string at = "/";  // resolved so far, no link in it
  if (path[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == nullptr) return links;
    at = cwd;
  }
  for (int hops = 0; !todo.empty();) {
    std::string c = std::move(todo.back());
    todo.pop_back();
    if (c == ".") continue;
    if (c == "..") {
      at = dirname(at);
      continue;
    }
    std::string next = at == "/" ? "/" + c : at + "/" + c;
    char buf[PATH_MAX];
    ssize_t n = readlink(next.c_str(), buf, sizeof buf - 1);
    if (n <= 0) {
      // Not a link: walk on. Nothing there: the rest is planned. Anything
      // else: what lies below is unknown, so the entry is named (see .h).
      if (errno == EINVAL) {
        at = std::move(next);
        continue;
      }
      if (errno != ENOENT && errno != ENOTDIR && std::find(links.begin(), links.end(), next) == links.end())
        links.push_back(next);
      break;
    }
    if (std::find(links.begin(), links.end(), next) == links.end()) links.push_back(next);
    if (++hops > 40) break;  // ELOOP for the kernel too
    std::string_view target(buf, static_cast<size_t>(n));
    if (target[0] == '/') at = "/";
    push_front(target);
  }
  return links;
}

namespace {

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

}  // namespace

// The kernel's name for a descriptor has no symlink, so a name that needs
// one (a link in this namespace standing where another namespace had a
// directory or a mount) is not the descriptor's path, even when the link
// leads to the same file. openat2(RESOLVE_NO_SYMLINKS) walks it in one
// call; where openat2 is missing (Linux < 5.6) or filtered (a nested gx
// under a seccomp profile), realpath(3) must give the name back unchanged.
bool reaches_without_links(const char* name, const struct stat& want) {
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS;
  struct stat got {};
  const long fd = syscall(SYS_openat2, AT_FDCWD, name, &how, sizeof how);
  if (fd >= 0) {
    const bool same = fstat(static_cast<int>(fd), &got) == 0 && same_file(got, want);
    close(static_cast<int>(fd));
    return same;
  }
  if (errno != ENOSYS && errno != EPERM) return false;  // ELOOP: a link on the way
  char real[PATH_MAX];
  return realpath(name, real) != nullptr && std::strcmp(real, name) == 0 &&
         fstatat(AT_FDCWD, name, &got, AT_SYMLINK_NOFOLLOW) == 0 && same_file(got, want);
}

std::string fd_path(int fd) {
  char link[32];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char buf[PATH_MAX];
  ssize_t n = readlink(link, buf, sizeof buf - 1);
  if (n <= 0 || buf[0] != '/') return {};
  buf[n] = '\0';
  struct stat by_fd {};
  if (fstat(fd, &by_fd) != 0 || !reaches_without_links(buf, by_fd)) return {};
  return std::string(buf, static_cast<size_t>(n));
}

std::string canonical(const std::string& path) {
  // The kernel resolves the whole path in one open(O_PATH); /proc/self/fd
  // names what it reached. realpath(3) instead readlink()s every component
  // of every path (issue #14: ~400 readlink calls per gx run). Same result
  // (symlinks followed, the file must exist); realpath when /proc is
  // missing or its name is not the file's (see fd_path).
  int fd = open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out = fd_path(fd);
  close(fd);
  if (!out.empty()) return out;
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) return {};
  return buf;
}

bool path_within(const std::string& inner, const std::string& outer) {
  if (outer == "/") return !inner.empty() && inner[0] == '/';
  if (inner == outer) return true;
  return inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 && inner[outer.size()] == '/';
}

std::string file_kind(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISLNK(mode)) return "a symlink";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "an unknown kind of file";
}

namespace {

Decision dir_error(const std::string& detail, const std::string& path) {
  return Decision::deny(DenyReason::IoError, detail, "state", path);
}

Result<OpenDir> open_resolved(const std::string& path) {
  // The directory first, then the path the kernel reached (/proc/self/fd):
  // the name and the descriptor cannot disagree, whatever moves meanwhile.
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.ok()) {
    int err = errno;
    return dir_error(
        (err == ENOTDIR ? "cannot open directory " : "cannot resolve directory ") + path + ": " + errno_text(err),
        path);
  }
  std::string real = fd_path(fd.get());
  if (real.empty()) {
    // No /proc, or its name is not this directory (see fd_path): by name, then O_NOFOLLOW (realpath
    // returned a path without links; a link appearing now means someone is
    // racing us).
    real = canonical(path);
    if (real.empty()) return dir_error("cannot resolve directory " + path + ": " + errno_text(errno), path);
    fd = UniqueFd(open(real.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.ok()) return dir_error("cannot open directory " + real + ": " + errno_text(errno), real);
  }
  return OpenDir{real, std::move(fd)};
}

}  // namespace

Result<OpenDir> open_dir_readonly(const std::string& path) { return open_resolved(path); }

Result<OpenDir> open_private_dir(const std::string& path, bool create) {
  if (path.empty()) return dir_error("no state directory given", path);
  if (create) {
    // A symlink in the given path is fine: it is resolved below and the
    // resolved chain is what gets checked.
    if (Decision d = make_dirs(path, 0700); !d) return dir_error("cannot create directory: " + d.detail, path);
  }
  auto dir = open_resolved(path);
  if (!dir) return dir;
  struct stat st {};
  if (fstat(dir->fd.get(), &st) != 0)
    return dir_error("cannot stat " + dir->path + ": " + errno_text(errno), dir->path);
  const uid_t me = geteuid();
  if (st.st_uid != me)
    return dir_error(
        "directory " + dir->path + " is owned by uid " + std::to_string(st.st_uid) + ", not by the invoking user",
        dir->path);
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return dir_error("directory " + dir->path + " is writable by group or others", dir->path);
  // Ancestors (StrictModes): only root or we may be able to swap a component.
  std::string cur = dir->path;
  while (cur != "/") {
    cur = dirname(cur);
    struct stat a {};
    if (lstat(cur.c_str(), &a) != 0) return dir_error("cannot stat " + cur + ": " + errno_text(errno), cur);
    if (a.st_uid != 0 && a.st_uid != me)
      return dir_error("ancestor " + cur + " of " + dir->path + " is owned by uid " + std::to_string(a.st_uid) +
                           " (neither root nor the invoking user): it could swap the directory",
                       cur);
    if ((a.st_mode & (S_IWGRP | S_IWOTH)) && !(a.st_mode & S_ISVTX))
      return dir_error("ancestor " + cur + " of " + dir->path +
                           " is writable by group or others without the sticky bit: they could swap the directory",
                       cur);
  }
  // The name given may reach it through links: each could be re-pointed.
  if (Decision d = check_links_strict(path); !d) return dir_error(d.detail, path);
  return dir;
}

Result<UniqueFd> open_in_dir(const OpenDir& dir, std::string_view name, int flags, mode_t mode) {
  const std::string full = dir.path + "/" + std::string(name);
  if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..")
    return Decision::deny(DenyReason::IoError, "not a file name: " + std::string(name), "file", full);
  int fd =
      openat(dir.fd.get(), std::string(name).c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode);
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP)
      return Decision::deny(DenyReason::IoError, full + " is a symlink: refused (state files are never followed)",
                            "file", full);
    return Decision::deny(DenyReason::IoError, "cannot open " + full + ": " + errno_text(err), "file", full);
  }
  UniqueFd out(fd);
  struct stat st {};
  if (fstat(fd, &st) != 0)
    return Decision::deny(DenyReason::IoError, "cannot stat " + full + ": " + errno_text(errno), "file", full);
  if (!S_ISREG(st.st_mode))
    return Decision::deny(DenyReason::IoError, full + " is " + file_kind(st.st_mode) + ", not a regular file", "file",
                          full);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
    return Decision::deny(DenyReason::IoError, "cannot configure " + full + ": " + errno_text(errno), "file", full);
  return out;
}

Result<std::optional<std::string>> read_in_dir(const OpenDir& dir, std::string_view name, size_t max_bytes) {
  auto fd = open_in_dir(dir, name, O_RDONLY);
  // A file that appears between the failed open and the check (a concurrent
  // first user creating it) is opened again rather than reported as an error.
  for (int attempt = 0; !fd; ++attempt) {
    struct stat st {};
    if (fstatat(dir.fd.get(), std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
      return std::optional<std::string>();
    if (attempt > 0) return fd.error();
    fd = open_in_dir(dir, name, O_RDONLY);
  }
  const std::string full = dir.path + "/" + std::string(name);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd->get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Decision::deny(DenyReason::IoError, "cannot read " + full + ": " + errno_text(errno), "file", full);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes)
      return Decision::deny(DenyReason::TooLarge, full + " is larger than " + std::to_string(max_bytes) + " bytes",
                            "file", full);
    out.append(buf, static_cast<size_t>(n));
  }
  return std::optional<std::string>(std::move(out));
}

}  // namespace gx::fs

namespace gx::fs {

namespace {

Decision refuse_owner(const std::string& what, const struct stat& st, const std::string& why) {
  return Decision::deny(DenyReason::IoError,
                        what + " is owned by uid " + std::to_string(st.st_uid) + " with mode " +
                            octal_mode(st.st_mode) + ": " + why + " (it must be owned by root or uid " +
                            std::to_string(geteuid()) + " and not writable by group or others)",
                        "file", what);
}

// `dir` and every directory above it: owned by root or us, and not writable
// by group or others -- except a root-owned sticky one (/tmp), where nobody
// else can rename or remove our entries, when `own` is false.
Decision check_directories_up(std::string dir, const std::string& path, bool own) {
  const uid_t me = geteuid();
  for (;; own = false) {
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0)
      return Decision::deny(DenyReason::IoError, "cannot stat " + dir + ": " + errno_text(errno), "dir", dir);
    if (st.st_uid != 0 && st.st_uid != me) return refuse_owner(dir, st, "untrusted owner of a directory above " + path);
    bool sticky_root = (st.st_mode & S_ISVTX) && st.st_uid == 0;
    if ((st.st_mode & 022) && (own || !sticky_root))
      return refuse_owner(dir, st, "directory above " + path + " is writable by group or others");
    if (dir == "/") return Decision::allow();
    dir = dirname(dir);
  }
}

}  // namespace

Decision check_links_strict(const std::string& path) {
  const uid_t me = geteuid();
  for (const std::string& link : links_on_path(path)) {
    struct stat st {};
    if (lstat(link.c_str(), &st) != 0)
      return Decision::deny(DenyReason::IoError, "cannot stat " + link + ": " + errno_text(errno), "file", link);
    // A link's mode means nothing; its owner may replace it in a sticky directory.
    if (st.st_uid != 0 && st.st_uid != me)
      return Decision::deny(DenyReason::IoError,
                            "symbolic link " + link + " on the way to " + path + " is owned by uid " +
                                std::to_string(st.st_uid) + ": it could re-point " + path +
                                " (it must be owned by root or uid " + std::to_string(me) + ")",
                            "file", link);
    if (Decision d = check_directories_up(dirname(link), "link " + link + " on the way to " + path, false); !d)
      return d;
  }
  return Decision::allow();
}

Decision check_strict_modes(const std::string& path, bool missing_ok) {
  const uid_t me = geteuid();
  std::string dir;
  std::string real = canonical(path);
  if (!real.empty()) {
    struct stat st {};
    if (stat(real.c_str(), &st) != 0)
      return Decision::deny(DenyReason::IoError, "cannot stat " + real + ": " + errno_text(errno), "file", path);
    if (!S_ISREG(st.st_mode))
      return Decision::deny(DenyReason::IoError, path + " is " + file_type_name(st.st_mode) + ", not a regular file",
                            "file", path);
    if (st.st_uid != 0 && st.st_uid != me) return refuse_owner(real, st, "untrusted owner");
    if (st.st_mode & 022) return refuse_owner(real, st, "writable by group or others");
    dir = dirname(real);
  } else {
    if (errno != ENOENT || !missing_ok)
      return Decision::deny(DenyReason::IoError, "cannot resolve " + path + ": " + errno_text(errno), "file", path);
    // Missing: its nearest existing directory stands in for its own.
    dir = dirname(absolute(path));
    while (dir != "/" && canonical(dir).empty()) dir = dirname(dir);
    dir = canonical(dir);
    if (dir.empty()) dir = "/";
  }
  if (Decision d = check_directories_up(dir, path, true); !d) return d;
  return check_links_strict(path);
}

}  // namespace gx::fs
