#include "seccomp/ioctls.h"

#include <asm/ioctls.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace gx::seccomp {
namespace {

// Numbers for x86-64 (checked against the kernel headers in
// tests/seccomp_filter_test.cc). Spelled out so that the table does not
// depend on which uapi headers the build machine has.
const std::vector<IoctlRequest> kKnown = {
    // terminals: attributes, window size, process group, queues
    {"TCGETS", 0x5401},
    {"TCSETS", 0x5402},
    {"TCSETSW", 0x5403},
    {"TCSETSF", 0x5404},
    {"TCGETS2", 0x802c542a},
    {"TCSETS2", 0x402c542b},
    {"TCSETSW2", 0x402c542c},
    {"TCSETSF2", 0x402c542d},
    {"TCSBRK", 0x5409},
    {"TCXONC", 0x540a},
    {"TCFLSH", 0x540b},
    {"TIOCGWINSZ", 0x5413},
    {"TIOCGPGRP", 0x540f},
    {"TIOCGSID", 0x5429},
    {"TIOCOUTQ", 0x5411},
    {"TIOCSWINSZ", 0x5414},
    {"TIOCSPGRP", 0x5410},
    {"TCSBRKP", 0x5425},
    {"TIOCGPTN", 0x80045430},
    {"TIOCSPTLCK", 0x40045431},
    {"TIOCGPTLCK", 0x80045439},
    {"TIOCGPTPEER", 0x5441},
    {"TIOCGDEV", 0x80045432},
    {"TIOCEXCL", 0x540c},
    {"TIOCNXCL", 0x540d},
    {"TIOCGEXCL", 0x80045440},
    {"TIOCMGET", 0x5415},
    {"TIOCGETD", 0x5424},
    {"TIOCNOTTY", 0x5422},
    // terminals: opt-in by name only
    {"TIOCSCTTY", 0x540e},
    {"TIOCSETD", 0x5423},
    {"TIOCCONS", 0x541d},
    {"TIOCVHANGUP", 0x5437},
    // any fd
    {"FIONREAD", 0x541b},
    {"FIONBIO", 0x5421},
    {"FIOCLEX", 0x5451},
    {"FIONCLEX", 0x5450},
    {"FIOASYNC", 0x5452},
    {"FIOQSIZE", 0x5460},
    // files
    {"FICLONE", 0x40049409},
    {"FICLONERANGE", 0x4020940d},
    {"FIDEDUPERANGE", 0xc0189436},
    {"FS_IOC_GETFLAGS", 0x80086601},
    {"FS_IOC_GETVERSION", 0x80087601},
    {"FS_IOC_FSGETXATTR", 0x801c581f},
    {"FS_IOC_FIEMAP", 0xc020660b},
    {"FIGETBSZ", 0x2},
    {"FS_IOC_GETFSLABEL", 0x81009431},
    {"BLKGETSIZE64", 0x80081272},
    {"BLKSSZGET", 0x1268},
    {"BLKGETSIZE", 0x1260},
    {"BLKROGET", 0x125e},
    // files and file systems: opt-in by name only
    {"FS_IOC_SETFLAGS", 0x40086602},
    {"FS_IOC_FSSETXATTR", 0x401c5820},
    {"FS_IOC_SETFSLABEL", 0x41009432},
    {"FIFREEZE", 0xc0045877},
    {"FITHAW", 0xc0045878},
    {"FITRIM", 0xc0185879},
    {"FIBMAP", 0x1},
    {"BLKROSET", 0x125d},
    // network interfaces (through any socket): queries
    {"SIOCGIFNAME", 0x8910},
    {"SIOCGIFCONF", 0x8912},
    {"SIOCGIFFLAGS", 0x8913},
    {"SIOCGIFADDR", 0x8915},
    {"SIOCGIFDSTADDR", 0x8917},
    {"SIOCGIFBRDADDR", 0x8919},
    {"SIOCGIFNETMASK", 0x891b},
    {"SIOCGIFMTU", 0x8921},
    {"SIOCGIFHWADDR", 0x8927},
    {"SIOCGIFINDEX", 0x8933},
    {"SIOCGIFTXQLEN", 0x8942},
    {"SIOCATMARK", 0x8905},
    {"SIOCGSTAMP_OLD", 0x8906},
    {"SIOCGSTAMPNS_OLD", 0x8907},
    // network interfaces and routes: opt-in by name only
    {"SIOCSIFFLAGS", 0x8914},
    {"SIOCSIFMTU", 0x8922},
    {"SIOCSIFNAME", 0x8923},
    {"SIOCSIFADDR", 0x8916},
    {"SIOCSIFHWADDR", 0x8924},
    {"SIOCADDRT", 0x890b},
    {"SIOCDELRT", 0x890c},
    // seccomp user notification (a supervisor such as a nested gx answering its child)
    {"SECCOMP_IOCTL_NOTIF_RECV", 0xc0502100},
    {"SECCOMP_IOCTL_NOTIF_SEND", 0xc0182101},
    {"SECCOMP_IOCTL_NOTIF_ID_VALID", 0x40082102},
    {"SECCOMP_IOCTL_NOTIF_ADDFD", 0x40182103},
    // never allowed (kept so that they are named in messages)
    {"TIOCSTI", 0x5412},
    {"TIOCLINUX", 0x541c},
};

std::vector<IoctlGroup> make_groups() {
  return {
      {"default",
       "always allowed with ioctl: terminal attributes and size of the child's own fds, "
       "FIONREAD/FIONBIO/FIOCLEX, tcdrain/tcflush, reflink copies",
       {"TCGETS",  "TCSETS",  "TCSETSW",  "TCSETSF",    "TCGETS2",   "TCSETS2",  "TCSETSW2",    "TCSETSF2",
        "TCSBRK",  "TCXONC",  "TCFLSH",   "TIOCGWINSZ", "TIOCGPGRP", "TIOCGSID", "TIOCOUTQ",    "FIONREAD",
        "FIONBIO", "FIOCLEX", "FIONCLEX", "FIOASYNC",   "FIOQSIZE",  "FICLONE",  "FICLONERANGE"}},
      {"tty",
       "pseudo-terminals and job control: ptmx (script, tmux, expect), window size, "
       "foreground process group, exclusive mode",
       {"TIOCSWINSZ", "TIOCSPGRP", "TCSBRKP", "TIOCGPTN", "TIOCSPTLCK", "TIOCGPTLCK", "TIOCGPTPEER", "TIOCGDEV",
        "TIOCEXCL", "TIOCNXCL", "TIOCGEXCL", "TIOCMGET", "TIOCGETD", "TIOCNOTTY"}},
      {"fs-query",
       "read-only file and block-device queries: attributes (lsattr), extents, block size, "
       "label, device size; dedupe",
       {"FS_IOC_GETFLAGS", "FS_IOC_GETVERSION", "FS_IOC_FSGETXATTR", "FS_IOC_FIEMAP", "FIGETBSZ", "FS_IOC_GETFSLABEL",
        "BLKGETSIZE64", "BLKSSZGET", "BLKGETSIZE", "BLKROGET", "FIDEDUPERANGE"}},
      {"net-query",
       "read-only network interface queries (if_nametoindex, ifconfig without arguments), "
       "socket timestamps",
       {"SIOCGIFNAME", "SIOCGIFCONF", "SIOCGIFFLAGS", "SIOCGIFADDR", "SIOCGIFDSTADDR", "SIOCGIFBRDADDR",
        "SIOCGIFNETMASK", "SIOCGIFMTU", "SIOCGIFHWADDR", "SIOCGIFINDEX", "SIOCGIFTXQLEN", "SIOCATMARK",
        "SIOCGSTAMP_OLD", "SIOCGSTAMPNS_OLD"}},
      {"seccomp-notify",
       "answering seccomp user notifications on a listener the program created itself: "
       "a nested gx (its exec = [] guard) or another supervisor",
       {"SECCOMP_IOCTL_NOTIF_RECV", "SECCOMP_IOCTL_NOTIF_SEND", "SECCOMP_IOCTL_NOTIF_ID_VALID",
        "SECCOMP_IOCTL_NOTIF_ADDFD"}},
  };
}

}  // namespace

const std::vector<IoctlRequest>& known_ioctls() { return kKnown; }

const std::vector<IoctlGroup>& ioctl_groups() {
  static const std::vector<IoctlGroup> groups = make_groups();
  return groups;
}

const IoctlGroup* find_ioctl_group(std::string_view name) {
  for (const auto& g : ioctl_groups())
    if (g.name == name) return &g;
  return nullptr;
}

std::optional<uint32_t> ioctl_number(std::string_view s) {
  for (const auto& r : kKnown)
    if (r.name == s) return r.number;
  if (s.empty() || s.size() > 10) return std::nullopt;
  const bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  const std::string digits(hex ? s.substr(2) : s);
  if (digits.empty()) return std::nullopt;
  for (char c : digits)
    if (hex ? !std::isxdigit(static_cast<unsigned char>(c)) : !std::isdigit(static_cast<unsigned char>(c)))
      return std::nullopt;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(digits.c_str(), &end, hex ? 16 : 10);
  if (errno != 0 || end == nullptr || *end != '\0' || v > 0xffffffffULL) return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::string ioctl_name(uint32_t number) {
  for (const auto& r : kKnown)
    if (r.number == number) return r.name;
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", number);
  return buf;
}

bool ioctl_forbidden(uint32_t number) { return number == TIOCSTI || number == TIOCLINUX; }

}  // namespace gx::seccomp
