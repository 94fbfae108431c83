#include "lib/broker_stdio.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <set>
#include <string_view>

#include "lib/fsutil.h"
#include "lib/mountinfo.h"

namespace gx::broker {
namespace {

constexpr decltype(statfs::f_type) kPipefsMagic = 0x50495045;  // PIPEFS_MAGIC (linux/magic.h)

// A unix socket among the stdio fds would let the command reach past its
// sandbox: an unconnected one connect()s (or a datagram one sendto()s) any
// named socket its uid can, without socket(AF_UNIX) (unix_sockets = false);
// a connected one carries fds in (SCM_RIGHTS: a memfd to exec, see below).
// SO_PASSRIGHTS cannot close that: the caller keeps a copy of the socket and
// turns it back on. So no unix socket is taken.
Decision check_socket_stdio(int fd, size_t i) {
  int domain = 0;
  socklen_t len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0)  // not expected: O_PATH is refused before
    return Decision::deny(DenyReason::InvalidValue,
                          "received fd " + std::to_string(i) + " is a socket gx cannot inspect", "fds", "socket");
  if (domain == AF_UNIX)
    return Decision::deny(DenyReason::InvalidValue,
                          "received fd " + std::to_string(i) +
                              " is a unix socket, which could hand the command fds or connect it past its sandbox; "
                              "give it a pipe, a file or a terminal",
                          "fds", "unix-socket");
  // Any other socket only as a connected stream (an inetd-style TCP
  // connection): a datagram, raw or packet socket sendto()s any address,
  // and Landlock's network rules cover TCP only -- a review sent UDP out of
  // a network = "none" command this way; a listening one accepts on the
  // caller's port.
  int type = 0;
  len = sizeof type;
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
      getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0)
    return Decision::deny(DenyReason::InvalidValue,
                          "received fd " + std::to_string(i) +
                              " is a socket that is not a connected stream (a datagram, raw or listening socket "
                              "reaches addresses past the sandbox's network rules); give it a pipe, a file, a "
                              "terminal or a connected TCP socket",
                          "fds", "socket");
  return Decision::allow();
}

// The ids of the mounts /proc/<pid>/mountinfo lists (lib/mountinfo.h);
// none when it cannot be read or parsed, so every fd is then refused.
std::set<long> mount_ids(const std::string& mountinfo_path) {
  std::set<long> ids;
  auto text = fs::read_file(mountinfo_path, 4 << 20);
  if (!text) return ids;
  auto table = mounts::parse(*text);
  if (!table) return ids;
  for (const auto& m : *table) ids.insert(m.id);
  return ids;
}

// statmount(2) and statx's unique mount id (Linux 6.8), which Debian 12's
// headers lack.
constexpr long kSysStatmount = 457;  // x86_64, aarch64 and the other unified tables
constexpr unsigned kStatxMntIdUnique = 0x4000;
constexpr uint64_t kStatmountSbBasic = 0x1;
struct MntIdReq {
  uint32_t size = sizeof(MntIdReq);  // MNT_ID_REQ_SIZE_VER0
  uint32_t spare = 0;
  uint64_t mnt_id = 0;
  uint64_t param = 0;
};
static_assert(sizeof(MntIdReq) == 24);

// Whether the mount `fd` is on belongs to this process's mount namespace,
// asked of the kernel for that one mount (statmount answers ENOENT for a
// mount of another namespace) instead of generating and parsing all of
// mountinfo (~40 us). nullopt: this kernel cannot tell (before 6.8).
std::optional<bool> in_own_namespace(int fd) {
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, kStatxMntIdUnique, &stx) != 0 ||
      (stx.stx_mask & kStatxMntIdUnique) == 0)
    return std::nullopt;
  MntIdReq req;
  req.mnt_id = stx.stx_mnt_id;
  req.param = kStatmountSbBasic;
  alignas(8) unsigned char buf[1024];
  if (syscall(kSysStatmount, &req, buf, sizeof buf, 0) == 0) return true;
  if (errno == ENOENT) return false;
  return std::nullopt;
}

// The mount ids of the broker's namespace and of the initial one, each
// read at most once per request (mountinfo is generated on every read:
// tens of microseconds a time, and up to three fds are checked).
class MountIds {
 public:
  bool known(int fd, long mnt) {
    std::optional<bool> own = in_own_namespace(fd);
    if (own == true) return true;
    if (!own) {
      if (!own_) own_ = mount_ids("/proc/self/mountinfo");
      if (own_->count(mnt)) return true;
    }
    if (!initial_) initial_ = mount_ids("/proc/1/mountinfo");
    return initial_->count(mnt) != 0;
  }

 private:
  std::optional<std::set<long>> own_, initial_;
};

// A file, device node or named FIFO must sit on a mount of the broker's own
// mount namespace or of the initial one (systemd's hardening gives the
// broker a copy of it with new ids; callers normally live in it). A mount
// that only the caller's own namespace has is refused: Landlock checks a
// reopen of /proc/self/fd/N, and exec, by walking up the caller's mount
// tree, where a private mount can sit inside a grant -- the command could
// exec a program no exec rule allows, or, running as root, reopen for
// reading or writing a device its caller bind-mounted there.
Decision check_mount(int fd, size_t i, mode_t mode, MountIds& known) {
  const long mnt = mounts::mount_id(fd);
  if (mnt < 0)
    return Decision::deny(DenyReason::Malformed, "received fd " + std::to_string(i) + ": its mount is unknown", "fds");
  if (known.known(fd, mnt)) return Decision::allow();
  return Decision::deny(DenyReason::InvalidValue,
                        "received fd " + std::to_string(i) + " is " + fs::file_kind(mode) +
                            " on a mount only the caller's namespace has (pipe it instead: `cat FILE | gx "
                            "run --broker ...`)",
                        "fds", "mount " + std::to_string(mnt));
}

// An anonymous pipe lives on pipefs, a kernel-internal mount no mountinfo
// lists (and no path reaches); a named FIFO lives on the filesystem it was
// made on.
bool anonymous_pipe(int fd) {
  struct statfs sf {};
  return fstatfs(fd, &sf) == 0 && sf.f_type == kPipefsMagic;
}

}  // namespace

Decision check_stdio(const std::vector<int>& fds) {
  MountIds mounts;
  for (size_t i = 0; i < fds.size(); ++i) {
    // O_PATH first: it opens no stream (reads and writes fail), so it is
    // never a real stdin or stdout -- only a handle the command could
    // reopen through /proc/self/fd/N with its own, possibly root, rights.
    const int flags = fcntl(fds[i], F_GETFL);
    if (flags < 0)
      return Decision::deny(DenyReason::Malformed, "received fd " + std::to_string(i) + " is unusable", "fds");
    if (flags & O_PATH)
      return Decision::deny(DenyReason::InvalidValue,
                            "received fd " + std::to_string(i) +
                                " was opened with O_PATH, which is no stream; give it a pipe, a file or a terminal",
                            "fds", "O_PATH");
    struct stat st {};
    if (fstat(fds[i], &st) != 0)
      return Decision::deny(DenyReason::Malformed, "received fd " + std::to_string(i) + " is unusable", "fds");
    if (S_ISDIR(st.st_mode))
      return Decision::deny(DenyReason::InvalidValue, "received fd " + std::to_string(i) + " is a directory", "fds");
    // Landlock's exec rules never cover a memfd: the command could exec
    // /proc/self/fd/N and run code no exec path allows (memfd_create is
    // refused inside the sandbox for the same reason).
    if (S_ISREG(st.st_mode)) {
      char target[16] = {};
      std::string link = "/proc/self/fd/" + std::to_string(fds[i]);
      ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
      if (n < 0)
        return Decision::deny(DenyReason::Malformed, "received fd " + std::to_string(i) + ": cannot read " + link,
                              "fds");
      if (std::string_view(target, static_cast<size_t>(n)).starts_with("/memfd:"))
        return Decision::deny(
            DenyReason::InvalidValue,
            "received fd " + std::to_string(i) + " is a memfd, which Landlock cannot keep from being executed", "fds",
            "memfd");
    }
    // What is taken, and nothing else (an allow list: a review passed an
    // inotify fd watching a directory the sandbox denies, read as stdin):
    // a regular file, a character device (terminals on /dev/pts included:
    // the broker's devpts is a known mount) or a named FIFO on a known
    // mount; an anonymous pipe; a connected stream socket that is not a
    // unix one. Not an anonymous inode (eventfd, epoll, inotify, pidfd,
    // signalfd, timerfd, ...: no file type bits), nor a block device.
    const mode_t type = st.st_mode & S_IFMT;
    if (type == S_IFREG || type == S_IFCHR || (type == S_IFIFO && !anonymous_pipe(fds[i]))) {
      if (Decision d = check_mount(fds[i], i, st.st_mode, mounts); !d) return d;
    } else if (type == S_IFSOCK) {
      if (Decision d = check_socket_stdio(fds[i], i); !d) return d;
    } else if (type != S_IFIFO) {
      return Decision::deny(DenyReason::InvalidValue,
                            "received fd " + std::to_string(i) + " is " +
                                (type == 0 ? std::string("an anonymous inode (an eventfd, epoll, inotify or pidfd)")
                                           : fs::file_kind(st.st_mode)) +
                                ", not a pipe, a file, a terminal or a connected TCP socket",
                            "fds", type == 0 ? "anonymous-inode" : fs::file_kind(st.st_mode));
    }
  }
  return Decision::allow();
}

}  // namespace gx::broker
