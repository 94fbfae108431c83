#include "lib/learn_recorder.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include "lib/fsutil.h"

namespace gx {
namespace {

std::string read_link(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

std::vector<std::string_view> components(std::string_view p) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < p.size()) {
    while (i < p.size() && p[i] == '/') ++i;
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    if (j > i) out.push_back(p.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

// The decoders and what they recorded so far, one notification at a time.
class SyscallRecorder::Impl {
 public:
  explicit Impl(pid_t root) : root_(root) {}

  Observation obs;

  void on_notification(int listener, const seccomp_notif& n) {
    const pid_t tid = static_cast<pid_t>(n.pid);
    if (!started_) {
      // gx's own set-up between seccomp() and the command's exec.
      if (tid == root_ && static_cast<long>(n.data.nr) == SYS_execveat) started_ = true;
      return;
    }
    ++obs.notifications;
    if (n.data.arch != AUDIT_ARCH_X86_64 || (n.data.nr & 0x40000000) != 0) {
      note("a syscall through a foreign ABI (i386 int 0x80 or x32): gx run kills the process for it");
      return;
    }
    obs.syscalls.insert(syscall_name(n.data.nr));
    if (n.data.nr == SYS_ioctl) obs.ioctls.insert(static_cast<uint32_t>(n.data.args[1]));
    pending_.clear();
    pending_notes_.clear();
    pending_ports_bind_.clear();
    pending_ports_connect_.clear();
    pending_unix_.clear();
    decode(tid, n.data.nr, n.data.args);
    if (pending_.empty() && pending_notes_.empty() && pending_ports_bind_.empty() && pending_ports_connect_.empty() &&
        pending_unix_.empty())
      return;
    // Memory read for a notification that is gone (the thread died or the
    // syscall was interrupted) may describe something else: drop it.
    uint64_t id = n.id;
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0) return;
    for (auto& p : pending_) add_path(std::move(p));
    for (auto& s : pending_notes_) note(s);
    obs.connect_tcp.insert(pending_ports_connect_.begin(), pending_ports_connect_.end());
    obs.bind_tcp.insert(pending_ports_bind_.begin(), pending_ports_bind_.end());
    obs.unix_sockets.insert(pending_unix_.begin(), pending_unix_.end());
  }

 private:
  std::string syscall_name(int nr) {
    auto it = names_.find(nr);
    if (it != names_.end()) return it->second;
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
    std::string s = name ? name : "syscall_" + std::to_string(nr);
    free(name);
    names_.emplace(nr, s);
    return s;
  }

  void note(const std::string& s) {
    if (std::find(obs.notes.begin(), obs.notes.end(), s) == obs.notes.end()) obs.notes.push_back(s);
  }
  void later_note(std::string s) { pending_notes_.push_back(std::move(s)); }

  void add_path(PathAccess p) {
    if (std::find(obs.paths.begin(), obs.paths.end(), p) == obs.paths.end()) obs.paths.push_back(std::move(p));
  }

  static pid_t tgid_of(pid_t tid) {
    auto status = fs::read_file("/proc/" + std::to_string(tid) + "/status", 64 * 1024);
    if (!status) return tid;
    auto pos = status->find("\nTgid:");
    if (pos == std::string::npos) return tid;
    return static_cast<pid_t>(strtol(status->c_str() + pos + 6, nullptr, 10));
  }

  std::optional<std::string> read_mem(pid_t tid, uint64_t addr, size_t max, bool string) {
    if (addr == 0) return std::nullopt;
    fs::UniqueFd mem(open(("/proc/" + std::to_string(tid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
    if (mem.get() < 0) {
      later_note("cannot read the memory of pid " + std::to_string(tid) + " (" + fs::errno_text(errno) +
                 "): some of its paths were not observed");
      return std::nullopt;
    }
    std::string out;
    char buf[256];
    while (out.size() < max) {
      size_t want = std::min(sizeof buf, max - out.size());
      // Never cross a page boundary in one read: the next page may be unmapped.
      size_t to_page = 4096 - ((addr + out.size()) % 4096);
      want = std::min(want, to_page);
      ssize_t n = pread(mem.get(), buf, want, static_cast<off_t>(addr + out.size()));
      if (n <= 0) return std::nullopt;
      if (string) {
        auto* nul = static_cast<char*>(memchr(buf, '\0', static_cast<size_t>(n)));
        if (nul) return out + std::string(buf, static_cast<size_t>(nul - buf));
      }
      out.append(buf, static_cast<size_t>(n));
    }
    if (string) return std::nullopt;  // longer than PATH_MAX
    return out;
  }

  // The path a syscall names, absolute and with the process's own /proc
  // aliases made explicit (gx's /proc/self is not the child's).
  std::optional<std::string> absolute_for(pid_t tid, int64_t dirfd, uint64_t addr, bool empty_ok) {
    auto raw = read_mem(tid, addr, PATH_MAX, true);
    if (!raw) return std::nullopt;
    const std::string proc = "/proc/" + std::to_string(tid);
    std::string full;
    if (raw->empty()) {
      if (!empty_ok || dirfd == AT_FDCWD) return std::nullopt;
      full = proc + "/fd/" + std::to_string(dirfd);
    } else if ((*raw)[0] == '/') {
      full = *raw;
    } else {
      std::string base = read_link(dirfd == AT_FDCWD ? proc + "/cwd" : proc + "/fd/" + std::to_string(dirfd));
      if (base.empty() || base[0] != '/') return std::nullopt;
      full = base + "/" + *raw;
    }
    const std::string tg = "/proc/" + std::to_string(tgid_of(tid));
    auto replace_prefix = [&](std::string_view from, const std::string& to) {
      if (full.compare(0, from.size(), from) == 0 && (full.size() == from.size() || full[from.size()] == '/')) {
        full = to + full.substr(from.size());
        return true;
      }
      return false;
    };
    replace_prefix("/proc/self", tg) || replace_prefix("/proc/thread-self", proc) ||
        replace_prefix("/dev/fd", tg + "/fd") || replace_prefix("/dev/stdin", tg + "/fd/0") ||
        replace_prefix("/dev/stdout", tg + "/fd/1") || replace_prefix("/dev/stderr", tg + "/fd/2");
    // /proc/<pid>[/task/<tid>]/fd/<n>: the file behind the fd, when it has a path.
    auto c = components(full);
    if (c.size() >= 4 && c[0] == "proc" && all_digits(c[1])) {
      size_t i = (c.size() == 6 && c[2] == "task" && all_digits(c[3])) ? 4 : 2;
      if (c.size() == i + 2 && c[i] == "fd" && all_digits(c[i + 1])) {
        std::string target = read_link(full);
        if (target.empty() || target[0] != '/' || target.rfind("/memfd:", 0) == 0 ||
            target.find(" (deleted)") != std::string::npos)
          return std::nullopt;  // pipe, socket, memfd, anonymous: no path to grant
        full = target;
      }
    }
    return full;
  }

  static bool is_proc(const std::string& p) { return fs::path_within(p, "/proc"); }

  // A grant under /proc names the process (a different pid each run): reads
  // of per-process files need the whole of /proc; writes are not learned.
  bool proc_rewrite(PathAccess& a) {
    if (!is_proc(a.path)) return true;
    auto c = components(a.path);
    if (a.grant != Grant::Read) {
      later_note("write to " + a.path + " not learned: gx does not grant writes under /proc");
      return false;
    }
    if (c.size() >= 2 && (all_digits(c[1]) || c[1] == "self" || c[1] == "thread-self")) {
      later_note(
          "per-process files under /proc were read: /proc is granted for reading, which also lets the command "
          "read the environment, command line and memory map of every process of its user (Landlock does not "
          "cover /proc's read-mode process checks); review that before signing");
      a = PathAccess{"/proc", Grant::Read, true};
    }
    return true;
  }

  void push(PathAccess a) {
    if (proc_rewrite(a)) pending_.push_back(std::move(a));
  }

  // The parent directory of `full` gets write (create, remove, rename).
  void record_dir_change(const std::string& full, bool must_exist, bool must_be_absent) {
    struct stat st {};
    bool exists = lstat(full.c_str(), &st) == 0;
    if ((must_exist && !exists) || (must_be_absent && exists)) return;  // bound to fail
    std::string parent = fs::canonical(fs::dirname(full));
    if (parent.empty() || access(parent.c_str(), W_OK | X_OK) != 0) return;  // DAC denies anyway
    push(PathAccess{parent, Grant::Write, true});
  }

  void record_open(const std::string& full, uint64_t flags) {
    struct stat st {};
    bool exists = stat(full.c_str(), &st) == 0;
    OpenNeed need = classify_open(flags, exists, exists && S_ISDIR(st.st_mode));
    std::string canon = exists ? fs::canonical(full) : std::string();
    switch (need) {
      case OpenNeed::None: return;
      case OpenNeed::Read:
        if (access(canon.c_str(), R_OK) == 0) push(PathAccess{canon, Grant::Read, false});
        return;
      case OpenNeed::ReadDir:
        if (access(canon.c_str(), R_OK) == 0) push(PathAccess{canon, Grant::Read, true});
        return;
      case OpenNeed::WriteFile:
        if (access(canon.c_str(), W_OK) == 0) push(PathAccess{canon, Grant::Write, false});
        return;
      case OpenNeed::WriteDir:
        if (access(canon.c_str(), W_OK | X_OK) == 0) push(PathAccess{canon, Grant::Write, true});
        return;
      case OpenNeed::CreateInDir: record_dir_change(full, false, true); return;
    }
  }

  void record_exec(const std::string& full) {
    struct stat st {};
    if (stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || access(full.c_str(), X_OK) != 0) return;
    push(PathAccess{fs::canonical(full), Grant::Exec, false});
  }

  void record_socket(uint64_t domain, uint64_t type, uint64_t protocol) {
    int d = static_cast<int>(domain), t = static_cast<int>(type) & 0xf, p = static_cast<int>(protocol);
    if (d == AF_UNIX) {
      obs.unix_socket_created = true;
      return;
    }
    if ((d == AF_INET || d == AF_INET6) && t == SOCK_STREAM && (p == 0 || p == IPPROTO_TCP)) {
      obs.tcp = true;
      return;
    }
    if (d == AF_INET || d == AF_INET6)
      note(std::string(t == SOCK_DGRAM ? "a UDP" : "a non-TCP") + " socket was created (" +
           (d == AF_INET ? "AF_INET" : "AF_INET6") + "): gx's network mode allows TCP only; it will be denied");
    else
      note("a socket of address family " + std::to_string(d) +
           " was created: gx allows AF_UNIX and TCP only; it will be denied");
  }

  // SOCK_STREAM? Asks the socket itself through a pidfd_getfd() copy.
  static std::optional<int> socket_type(pid_t tid, int fd) {
    fs::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, tgid_of(tid), 0)));
    if (pidfd.get() < 0) return std::nullopt;
    fs::UniqueFd copy(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
    if (copy.get() < 0) return std::nullopt;
    int type = 0;
    socklen_t len = sizeof type;
    if (getsockopt(copy.get(), SOL_SOCKET, SO_TYPE, &type, &len) != 0) return std::nullopt;
    return type;
  }

  void record_sockaddr(pid_t tid, uint64_t fd, uint64_t addr, uint64_t len, bool bind) {
    size_t n = std::min<size_t>(static_cast<size_t>(len), sizeof(sockaddr_storage));
    if (n < sizeof(sa_family_t)) return;
    auto bytes = read_mem(tid, addr, n, false);
    if (!bytes) return;
    sa_family_t family;
    memcpy(&family, bytes->data(), sizeof family);
    if (family == AF_UNIX) {
      if (bytes->size() > offsetof(sockaddr_un, sun_path) && (*bytes)[offsetof(sockaddr_un, sun_path)] == '\0')
        later_note(
            "an abstract unix socket was used: Landlock's scope confines them to the sandbox; reaching one outside is "
            "denied");
      else if (bytes->size() > offsetof(sockaddr_un, sun_path))
        pending_unix_.emplace_back(
            bytes->data() + offsetof(sockaddr_un, sun_path),
            strnlen(bytes->data() + offsetof(sockaddr_un, sun_path), bytes->size() - offsetof(sockaddr_un, sun_path)));
      return;
    }
    if (family != AF_INET && family != AF_INET6) return;
    if (bytes->size() < 4) return;
    uint16_t port_be;
    memcpy(&port_be, bytes->data() + 2, sizeof port_be);  // sin_port and sin6_port share the offset
    uint16_t port = ntohs(port_be);
    auto type = socket_type(tid, static_cast<int>(fd));
    if (type && (*type & 0xf) != SOCK_STREAM) return;  // UDP: noted at socket()
    if (port == 0) {
      if (bind) later_note("bind() to port 0 (any port): gx cannot grant an ephemeral bind; it will be denied");
      return;
    }
    if (bind) pending_ports_bind_.push_back(port);
    else pending_ports_connect_.push_back(port);
  }

  void decode(pid_t tid, int nr32, const __u64* a) {
    const long nr = nr32;
    const int64_t fdcwd = AT_FDCWD;
    auto dirfd = [](uint64_t v) { return static_cast<int64_t>(static_cast<int>(v)); };
    auto path = [&](int64_t dfd, uint64_t addr, bool empty_ok = false) {
      return absolute_for(tid, dfd, addr, empty_ok);
    };
    // A path argument at index i: (dirfd, path) at i, i+1 for the *at
    // syscalls, a path relative to the cwd at i otherwise.
    auto name_arg = [&](bool at, size_t i) { return at ? path(dirfd(a[i]), a[i + 1]) : path(fdcwd, a[i]); };
    auto created = [&](const std::optional<std::string>& p) {
      if (p) record_dir_change(*p, false, true);
    };
    auto removed = [&](const std::optional<std::string>& p) {
      if (p) record_dir_change(*p, true, false);
    };
    auto moved = [&](const std::optional<std::string>& from, const std::optional<std::string>& to) {
      if (from) record_dir_change(*from, true, false);
      if (to) record_dir_change(*to, false, false);
    };
    switch (nr) {
      case SYS_open:
        if (auto p = path(fdcwd, a[0])) record_open(*p, a[1]);
        break;
      case SYS_creat:
        if (auto p = path(fdcwd, a[0])) record_open(*p, O_CREAT | O_WRONLY | O_TRUNC);
        break;
      case SYS_openat:
        if (auto p = path(dirfd(a[0]), a[1])) record_open(*p, a[2]);
        break;
      case SYS_openat2: {
        auto how = read_mem(tid, a[2], sizeof(uint64_t), false);
        uint64_t flags = 0;
        if (how) memcpy(&flags, how->data(), sizeof flags);
        if (auto p = how ? path(dirfd(a[0]), a[1]) : std::nullopt) record_open(*p, flags);
        break;
      }
      case SYS_execve:
        if (auto p = path(fdcwd, a[0])) record_exec(*p);
        break;
      case SYS_execveat:
        if (auto p = path(dirfd(a[0]), a[1], (a[4] & AT_EMPTY_PATH) != 0)) record_exec(*p);
        break;
      // A new name must be absent, a removed or moved one must exist.
      case SYS_mkdir:
      case SYS_mknod:
      case SYS_mkdirat:
      case SYS_mknodat: created(name_arg(nr == SYS_mkdirat || nr == SYS_mknodat, 0)); break;
      case SYS_symlink:
      case SYS_symlinkat: created(name_arg(nr == SYS_symlinkat, 1)); break;
      case SYS_unlink:
      case SYS_rmdir:
      case SYS_unlinkat: removed(name_arg(nr == SYS_unlinkat, 0)); break;
      case SYS_rename:
      case SYS_link:
      case SYS_renameat:
      case SYS_renameat2:
      case SYS_linkat: {
        const bool at = nr != SYS_rename && nr != SYS_link;
        moved(name_arg(at, 0), name_arg(at, at ? 2 : 1));
        break;
      }
      case SYS_truncate:
        if (auto p = path(fdcwd, a[0])) record_open(*p, O_WRONLY);
        break;
      case SYS_socket: record_socket(a[0], a[1], a[2]); break;
      case SYS_connect: record_sockaddr(tid, a[0], a[1], a[2], false); break;
      case SYS_bind: record_sockaddr(tid, a[0], a[1], a[2], true); break;
      default: break;
    }
  }

  pid_t root_;
  bool started_ = false;
  std::map<int, std::string> names_;
  std::vector<PathAccess> pending_;
  std::vector<std::string> pending_notes_;
  std::vector<uint16_t> pending_ports_bind_, pending_ports_connect_;
  std::vector<std::string> pending_unix_;
};

SyscallRecorder::SyscallRecorder(pid_t root) : impl_(std::make_unique<Impl>(root)) {}
SyscallRecorder::~SyscallRecorder() = default;

void SyscallRecorder::on_notification(int listener, const seccomp_notif& n) { impl_->on_notification(listener, n); }

Observation SyscallRecorder::take() { return std::move(impl_->obs); }

}  // namespace gx
