// The ioctl allowlist: which ioctl(2) request numbers a sandboxed child may
// issue. ioctl is one syscall that multiplexes thousands of operations, many
// of which act on the whole machine through any fd the child can open for
// reading: FIFREEZE freezes a file system, FS_IOC_SETFLAGS sets the immutable
// flag, SIOCSIFFLAGS/SIOCSIFMTU/SIOCSIFNAME reconfigure host interfaces
// through any socket (AF_UNIX included), TIOCSCTTY steals a terminal,
// TIOCSTI/TIOCLINUX inject input. So gx allows ioctl by request number:
//
//   * the "default" set, always allowed when the ioctl syscall is: what
//     ordinary programs and terminals need to query and use their OWN fds
//     (isatty/tcgetattr/tcsetattr, window size, FIONREAD/FIONBIO, FIOCLEX,
//     tcdrain/tcflush, reflink copies into a file the child opened for
//     writing);
//   * named ioctl groups (sandbox.ioctl_groups) for further query sets;
//   * single requests by name or number (sandbox.ioctls), opt-in per
//     artifact. Requests that are in no group (FIFREEZE, FS_IOC_SETFLAGS,
//     SIOCSIF*, TIOCSCTTY, ...) are reachable only this way;
//   * TIOCSTI and TIOCLINUX can never be allowed (invalid-value).
// Everything else gets the filter's default action (EPERM or kill).
//
// The filter compares the low 32 bits of the request, which is what the
// kernel reads (`unsigned int cmd`), so high garbage cannot smuggle a
// request past it (CVE-2019-10063). Caveat: a number, not a driver, is
// allowed: the same number may mean something else on another driver.
// The default set is chosen from generic (vfs, tty, socket) requests whose
// numbers are not reused for state-changing operations on common drivers;
// Landlock's IOCTL_DEV right (ABI 5) additionally limits device files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gx::seccomp {

struct IoctlRequest {
  std::string name;  // as in the kernel headers, e.g. "TCGETS"
  uint32_t number;
};

struct IoctlGroup {
  std::string name;
  std::string description;         // one line
  std::vector<std::string> names;  // request names (all in known_ioctls())
};

// Every request gx knows by name, in display order.
const std::vector<IoctlRequest>& known_ioctls();
// The groups, "default" first ("default" is always in force).
const std::vector<IoctlGroup>& ioctl_groups();
const IoctlGroup* find_ioctl_group(std::string_view name);

// The number of a request name ("TCGETS") or of a number written as
// "0x5401" / "21505"; nullopt when neither.
std::optional<uint32_t> ioctl_number(std::string_view name_or_number);
// The name gx knows for a number, or "0x...." (lowercase hex).
std::string ioctl_name(uint32_t number);
// TIOCSTI, TIOCLINUX: never allowed.
bool ioctl_forbidden(uint32_t number);

}  // namespace gx::seccomp
