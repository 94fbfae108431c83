#include "lib/landlock.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "lib/fsutil.h"
#include "lib/landlock_uapi.h"
#include "lib/mountinfo.h"

namespace gx {

namespace {

struct NamedBit {
  uint64_t bit;
  const char* name;
};

constexpr NamedBit kFsNames[] = {
    {ll::kAccessFsExecute, "execute"},      {ll::kAccessFsWriteFile, "write_file"},
    {ll::kAccessFsReadFile, "read_file"},   {ll::kAccessFsReadDir, "read_dir"},
    {ll::kAccessFsRemoveDir, "remove_dir"}, {ll::kAccessFsRemoveFile, "remove_file"},
    {ll::kAccessFsMakeChar, "make_char"},   {ll::kAccessFsMakeDir, "make_dir"},
    {ll::kAccessFsMakeReg, "make_reg"},     {ll::kAccessFsMakeSock, "make_sock"},
    {ll::kAccessFsMakeFifo, "make_fifo"},   {ll::kAccessFsMakeBlock, "make_block"},
    {ll::kAccessFsMakeSym, "make_sym"},     {ll::kAccessFsRefer, "refer"},
    {ll::kAccessFsTruncate, "truncate"},    {ll::kAccessFsIoctlDev, "ioctl_dev"},
};
constexpr NamedBit kNetNames[] = {{ll::kAccessNetBindTcp, "bind_tcp"}, {ll::kAccessNetConnectTcp, "connect_tcp"}};
constexpr NamedBit kScopeNames[] = {{ll::kScopeAbstractUnixSocket, "abstract_unix_socket"},
                                    {ll::kScopeSignal, "signal"}};

template <size_t N>
std::vector<std::string> names_of(uint64_t bits, const NamedBit (&table)[N]) {
  std::vector<std::string> out;
  for (const auto& nb : table)
    if (bits & nb.bit) out.emplace_back(nb.name);
  return out;
}

// A family gx always wants enforced, and the ABI that enforces it.
struct Family {
  const char* name;
  int min_abi;
  const char* what;
};
constexpr Family kFamilies[] = {
    {"truncate", 3, "truncate(2) and O_TRUNC outside write paths"},
    {"net", 4, "TCP bind/connect restrictions"},
    {"ioctl-dev", 5, "ioctl(2) on device files"},
    {"scope", 6, "signal and abstract-unix-socket scoping"},
};

using Fd = fs::UniqueFd;

}  // namespace

using namespace landlock_paths;

void to_json(nlohmann::json& j, const Expansion& e) {
  j = nlohmann::json{{"field", e.field},       {"grant", e.grant},     {"excluded", e.excluded},
                     {"listable", e.listable}, {"granted", e.granted}, {"skipped_symlinks", e.skipped_symlinks}};
}

void to_json(nlohmann::json& j, const Enforcement& e) {
  j = nlohmann::json{{"landlock_abi", e.abi}, {"fs_handled", e.fs_handled}, {"net_handled", e.net_handled},
                     {"scoped", e.scoped},    {"downgraded", e.downgraded}, {"skipped_paths", e.skipped_paths},
                     {"notes", e.notes}};
  if (!e.expanded.empty()) j["expanded"] = e.expanded;
}

std::vector<std::string> fs_right_names(uint64_t rights) { return names_of(rights, kFsNames); }
std::vector<std::string> net_right_names(uint64_t rights) { return names_of(rights, kNetNames); }
std::vector<std::string> scope_names(uint64_t scopes) { return names_of(scopes, kScopeNames); }

int landlock_abi() {
  int abi = ll::create_ruleset(nullptr, 0, ll::kCreateRulesetVersion);
  return abi < 0 ? -errno : abi;
}

Result<LandlockRights> plan_landlock(int kernel_abi, const SandboxPolicy& policy) {
  for (size_t i = 0; i < policy.allow_downgrade.size(); ++i) {
    const auto& f = policy.allow_downgrade[i];
    if (std::find(kDowngradeFamilies.begin(), kDowngradeFamilies.end(), f) == kDowngradeFamilies.end())
      return Decision::deny(DenyReason::InvalidValue,
                            "unknown right family (known: net, truncate, ioctl-dev, scope, refer)",
                            "sandbox.allow_downgrade[" + std::to_string(i) + "]", f);
  }
  if (policy.network == NetMode::None && (!policy.connect_tcp.empty() || !policy.bind_tcp.empty()))
    return Decision::deny(DenyReason::InvalidValue, "TCP ports are listed but network is \"none\"", "sandbox.network",
                          "none");
  if (policy.min_landlock_abi < 1 || policy.min_landlock_abi > ll::kAbiKnown)
    return Decision::deny(DenyReason::InvalidValue,
                          "min_landlock_abi must be between 1 and " + std::to_string(ll::kAbiKnown),
                          "sandbox.min_landlock_abi", std::to_string(policy.min_landlock_abi));
  if (kernel_abi <= 0)
    return Decision::deny(DenyReason::SandboxUnavailable,
                          "Landlock is not available on this kernel (" +
                              (kernel_abi < 0 ? fs::errno_text(-kernel_abi) : std::string("ABI 0")) +
                              "); enable it with lsm=...,landlock on the kernel command line",
                          "landlock.abi", std::to_string(kernel_abi));
  if (kernel_abi < policy.min_landlock_abi)
    return Decision::deny(DenyReason::SandboxUnavailable,
                          "kernel Landlock ABI " + std::to_string(kernel_abi) +
                              " is older than the artifact's min_landlock_abi " +
                              std::to_string(policy.min_landlock_abi),
                          "sandbox.min_landlock_abi", std::to_string(policy.min_landlock_abi));

  LandlockRights r;
  r.abi = std::min(kernel_abi, ll::kAbiKnown);
  for (const auto& f : kFamilies) {
    if (r.abi >= f.min_abi) continue;
    if (!listed(policy.allow_downgrade, f.name))
      return Decision::deny(DenyReason::SandboxUnavailable,
                            std::string("kernel Landlock ABI ") + std::to_string(r.abi) + " cannot enforce " + f.what +
                                " (needs ABI " + std::to_string(f.min_abi) + "); list \"" + f.name +
                                "\" in allow_downgrade to run without it",
                            "sandbox.allow_downgrade", f.name);
    r.downgraded.emplace_back(f.name);
  }
  if (r.abi < 2)
    r.notes.emplace_back("ABI 1 has no refer right: renaming or linking across directories is always denied");
  if (kernel_abi > ll::kAbiKnown)
    r.notes.push_back("kernel Landlock ABI " + std::to_string(kernel_abi) + " used at ABI " + std::to_string(r.abi) +
                      ", the newest gx knows");

  r.fs_handled = ll::fs_rights_for_abi(r.abi);
  if (r.abi >= 4) r.net_handled = ll::kAccessNetBindTcp | ll::kAccessNetConnectTcp;
  if (r.abi >= 6) r.scoped = ll::kScopeAbstractUnixSocket | ll::kScopeSignal;

  r.read_access = (ll::kAccessFsReadFile | ll::kAccessFsReadDir) & r.fs_handled;
  // Write trees get every right except device creation (needs CAP_MKNOD and
  // is never wanted) and ioctl on devices. refer lets files move between
  // write trees; the kernel still forbids gaining rights by a move.
  r.write_access = (r.read_access | ll::kAccessFsWriteFile | ll::kAccessFsRemoveDir | ll::kAccessFsRemoveFile |
                    ll::kAccessFsMakeDir | ll::kAccessFsMakeReg | ll::kAccessFsMakeSock | ll::kAccessFsMakeFifo |
                    ll::kAccessFsMakeSym | ll::kAccessFsRefer | ll::kAccessFsTruncate) &
                   r.fs_handled;
  r.exec_access = (ll::kAccessFsExecute | ll::kAccessFsReadFile) & r.fs_handled;
  if (r.abi >= 7 && policy.log_denials) r.restrict_flags = ll::kRestrictSelfLogNewExecOn;
  return r;
}

namespace {

// Grants every entry of directory `dir` (fd `dfd`) except the excluded ones
// and the ones leading to them, which are walked into (read_dir only).
// Entries are opened relative to their directory with O_NOFOLLOW, so a
// symlink swapped in cannot move a rule onto a protected path.
Decision expand_grant(int ruleset, int dfd, const std::string& dir, const std::vector<std::string>& excl,
                      uint64_t access, uint64_t handled, Expansion& x) {
  auto io = [&](const std::string& what, const std::string& p, int err) {
    return Decision::deny(DenyReason::IoError,
                          "expanding a grant around gx's files: cannot " + what + " " + p + ": " + fs::errno_text(err));
  };
  // read_dir on the walked directory (only if the grant has it at all).
  if (uint64_t ls = access & ll::kAccessFsReadDir & handled; ls != 0) {
    ll::PathBeneathAttr rule{ls, dfd};
    if (ll::add_rule(ruleset, ll::kRulePathBeneath, &rule, 0) != 0) return io("add a rule for", dir, errno);
    x.listable.push_back(dir);
  }
  Fd list(openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (list.get() < 0) return io("open", dir, errno);
  DIR* d = fdopendir(list.get());
  if (d == nullptr) return io("list", dir, errno);
  list.release();
  std::vector<std::string> names;
  errno = 0;
  while (dirent* ent = readdir(d)) {
    std::string n = ent->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  int err = errno;
  closedir(d);
  if (err != 0) return io("list", dir, err);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    std::string child = dir == "/" ? "/" + n : dir + "/" + n;
    if (std::find(excl.begin(), excl.end(), child) != excl.end()) continue;
    std::vector<std::string> below;
    for (const auto& p : excl)
      if (fs::path_within(p, child)) below.push_back(p);
    if (!below.empty()) {
      // Canonical protected paths run through real directories only.
      Fd sub(openat(dfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub.get() < 0) return io("open", child, errno);
      if (Decision r = expand_grant(ruleset, sub.get(), child, below, access, handled, x); !r) return r;
      continue;
    }
    Fd entry(openat(dfd, n.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (entry.get() < 0) {
      if (errno == ENOENT) continue;  // gone meanwhile: nothing to grant
      return io("open", child, errno);
    }
    struct stat st {};
    if (fstat(entry.get(), &st) != 0) return io("stat", child, errno);
    if (S_ISLNK(st.st_mode)) {
      x.skipped_symlinks.push_back(child);
      continue;
    }
    uint64_t allowed = S_ISDIR(st.st_mode) ? access : access & ll::kAccessFsFileRights;
    if (allowed == 0) continue;
    ll::PathBeneathAttr rule{allowed, entry.get()};
    if (ll::add_rule(ruleset, ll::kRulePathBeneath, &rule, 0) != 0) return io("add a rule for", child, errno);
    x.granted.push_back(child);
  }
  return Decision::allow();
}

// What the checks compare for a grant's descriptor: its path (fs::fd_path),
// or kRemoved for a file or directory removed since it was opened (in-place
// execution keeps the verified file open; it may be renamed over
// meanwhile). No path reaches a removed file, and kRemoved, not being
// absolute, is within nothing and contains nothing. Empty: unnamed.
constexpr std::string_view kRemoved = "(removed)";
bool out_of_fds(int err) { return err == EMFILE || err == ENFILE; }

// errno is 0 when no name is returned for a reason other than a failed
// call (a name that is not a path, or reaches another file): callers tell
// running out of descriptors from those by errno.
std::string name_of(int fd) {
  errno = 0;
  std::string path = fs::fd_path(fd);
  struct stat st {};
  if (path.empty() && fstat(fd, &st) == 0 && st.st_nlink == 0) return std::string(kRemoved);
  return path;
}

// A protected path resolved as canonical_or_planned does (the longest
// existing prefix, named by its descriptor, plus the components not there
// yet) and placed on its mount: the mount id is looked up in the mount
// table once that is read.
struct Located {
  std::string name;  // the existing prefix's canonical path; empty: unresolved
  std::string tail;  // components below it that do not exist ("" or "a/b")
  long mnt = -1;
  bool dir = true;
  std::string canonical;  // name + tail, or the absolute path unresolved
  // For RulesetWitness: the existing prefix as given, the file it reached,
  // and the first component below it that was missing (locate's own tail,
  // before locate_entry adds the entry's name).
  std::string head;
  struct stat st {};
  std::string missing;
};

Located locate(const std::string& path) {
  Located out;
  out.canonical = fs::absolute(path);
  ExistingPrefix p = open_existing_prefix(out.canonical);
  if (!p.fd.ok()) return out;
  out.tail = p.tail;
  out.head = p.head;
  out.missing = out.tail.substr(0, out.tail.find('/'));
  out.name = fs::fd_path(p.fd.get());
  if (out.name.empty()) {  // as canonical_or_planned: realpath's name, but no position
    std::string name = fs::canonical(p.head);
    if (!name.empty()) out.canonical = join_tail(name, out.tail);
    return out;
  }
  out.mnt = mounts::mount_id(p.fd.get());
  // Not there yet, or unknown: taken as a directory (expanded around).
  if (fstat(p.fd.get(), &out.st) != 0) out.mnt = -1;  // unknown: no position, not reusable
  out.dir = !out.tail.empty() || out.mnt < 0 || S_ISDIR(out.st.st_mode);
  out.canonical = join_tail(out.name, out.tail);
  return out;
}

// A directory entry located without following it (ProtectedPaths::no_rename):
// its directory located, its own name one component below.
Located locate_entry(const std::string& path) {
  const std::string abs = fs::absolute(path);
  if (abs == "/") return locate(abs);
  const std::string base = abs.substr(abs.find_last_of('/') + 1);
  Located out = locate(fs::dirname(abs));
  out.canonical = join_tail(out.canonical, base);
  out.tail = out.tail.empty() ? base : out.tail + "/" + base;
  out.dir = true;
  return out;
}

// A located path's file-system position in `table`; nullopt when it was
// not resolved or its mount is not in the table.
std::optional<mounts::FsPosition> place(const Located& l, const mounts::MountTable& table) {
  if (l.name.empty() || l.mnt < 0) return std::nullopt;
  auto pos = table.position(l.mnt, l.name);
  if (pos) pos->path = join_tail(pos->path, l.tail);
  return pos;
}

}  // namespace

PreparedRuleset::PreparedRuleset(PreparedRuleset&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      restrict_flags_(o.restrict_flags_),
      enforcement_(std::move(o.enforcement_)),
      names_(std::move(o.names_)) {}

PreparedRuleset& PreparedRuleset::operator=(PreparedRuleset&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    restrict_flags_ = o.restrict_flags_;
    enforcement_ = std::move(o.enforcement_);
    names_ = std::move(o.names_);
  }
  return *this;
}

PreparedRuleset::~PreparedRuleset() {
  if (fd_ >= 0) close(fd_);
}

Result<PreparedRuleset> prepare_ruleset(const SandboxPolicy& policy, const ProtectedPaths& protect,
                                        const std::vector<std::string>& implicit_exec,
                                        const std::vector<std::string>& implicit_read, RulesetWitness* witness) {
  return prepare_ruleset_at_abi(landlock_abi(), policy, protect, implicit_exec, implicit_read, {}, witness);
}

namespace {
// Through /proc or /dev/fd: names whose meaning depends on the process that
// resolves them (WitnessPart::ThisProcess).
bool process_relative(std::string_view p) {
  for (std::string_view top : {"/proc", "/dev/fd"})
    if (p == top || (p.starts_with(top) && p.size() > top.size() && p[top.size()] == '/')) return true;
  return false;
}
}  // namespace

bool witness_holds(const RulesetWitness& w) {
  // The mount table last (the Rest part ends with it), as the build read it.
  return witness_holds(w, WitnessPart::ThisProcess) && witness_holds(w, WitnessPart::Rest);
}

bool witness_holds(const RulesetWitness& w, WitnessPart part) {
  if (!w.not_reusable.empty()) return false;
  const bool own = part == WitnessPart::ThisProcess;
  for (const RulesetWitness::Reached& r : w.reached) {
    if ((process_relative(r.path) || process_relative(r.canonical)) != own) continue;
    // As open(O_PATH) reaches it: the last link followed, no automount.
    struct statx sx {};
    if (statx(AT_FDCWD, r.path.c_str(), AT_STATX_SYNC_AS_STAT | AT_NO_AUTOMOUNT,
              STATX_TYPE | STATX_INO | STATX_NLINK | STATX_MNT_ID, &sx) != 0 ||
        (sx.stx_mask & STATX_MNT_ID) == 0 || static_cast<long>(sx.stx_mnt_id) != r.mnt ||
        makedev(sx.stx_dev_major, sx.stx_dev_minor) != r.dev || sx.stx_ino != r.ino || (sx.stx_mode & S_IFMT) != r.type)
      return false;
    if (r.type == S_IFDIR || ((sx.stx_mask & STATX_NLINK) != 0 && sx.stx_nlink == 1)) {
      // One name on its mount (a directory, or a file with one link): its
      // canonical name, walked with no symlink, reaching it is that name.
      struct stat want {};
      want.st_dev = r.dev;
      want.st_ino = r.ino;
      if (!fs::reaches_without_links(r.canonical.c_str(), want)) return false;
    } else {
      // A file with other links: named as the build names it, opened (the
      // last link followed) and its descriptor's name read.
      Fd fd(open(r.path.c_str(), O_PATH | O_CLOEXEC));
      struct stat st {};
      if (fd.get() < 0 || fstat(fd.get(), &st) != 0 || st.st_dev != r.dev || st.st_ino != r.ino ||
          mounts::mount_id(fd.get()) != r.mnt || name_of(fd.get()) != r.canonical)
        return false;
    }
    if (!r.missing.empty()) {
      // open_existing_prefix would stop at the same prefix only while the
      // next component is still not there.
      const std::string below = join_tail(r.path, r.missing);
      struct stat st {};
      if (stat(below.c_str(), &st) == 0 || (errno != ENOENT && errno != ENOTDIR)) return false;
    }
  }
  for (const RulesetWitness::Absent& a : w.absent) {
    if ((process_relative(a.path) || process_relative(a.planned)) != own) continue;
    struct stat st {};
    if (stat(a.path.c_str(), &st) == 0 || errno != ENOENT || canonical_or_planned(a.path) != a.planned) return false;
  }
  if (own) return true;
  auto now = fs::read_file("/proc/self/mountinfo", mounts::kMaxMountinfo);
  return now && *now == w.mount_table;
}

Result<PreparedRuleset> prepare_ruleset_at_abi(int abi, const SandboxPolicy& policy, const ProtectedPaths& protect,
                                               const std::vector<std::string>& implicit_exec,
                                               const std::vector<std::string>& implicit_read,
                                               const std::function<void()>& after_checks, RulesetWitness* witness) {
  // Filled by this build only, and reusable only once it has finished.
  if (witness) {
    *witness = RulesetWitness{};
    witness->not_reusable = "the build did not finish";
  }
  auto rights = plan_landlock(abi, policy);
  if (!rights) return rights.error();
  // gx's own paths, each resolved once (a path named twice is resolved and
  // compared once: the trust store's and the revocation list's directory
  // are often one) and located on its mount for the position checks.
  ProtectedPaths resolved;
  std::vector<Located> located_no_write, located_no_access;
  auto resolve = [](const std::vector<std::string>& in, std::vector<std::string>& names, std::vector<Located>& loc) {
    for (size_t i = 0; i < in.size(); ++i)
      if (std::find(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(i), in[i]) ==
          in.begin() + static_cast<std::ptrdiff_t>(i)) {
        loc.push_back(locate(in[i]));
        names.push_back(loc.back().canonical);
      }
  };
  resolve(protect.no_write, resolved.no_write, located_no_write);
  resolve(protect.no_access, resolved.no_access, located_no_access);
  std::vector<Located> located_no_rename;
  for (const std::string& e : protect.no_rename) {
    Located l = locate_entry(e);
    if (listed(resolved.no_rename, l.canonical)) continue;
    resolved.no_rename.push_back(l.canonical);
    located_no_rename.push_back(std::move(l));
  }

  const PathList lists[] = {{&policy.read, "sandbox.read", Kind::Read},
                            {&policy.write, "sandbox.write", Kind::Write},
                            {&policy.exec, "sandbox.exec", Kind::Exec},
                            {&implicit_exec, "implicit_exec", Kind::Implicit},
                            {&implicit_read, "implicit_read", Kind::ImplicitRead}};
  // Each distinct path is opened once, up front: the checks below read the
  // path the kernel reached through that descriptor, and every rule for the
  // path goes on the same descriptor, so a path swapped for a symlink after
  // its check cannot move a rule (resolving twice cost ~30 syscalls a run:
  // issue #14). Holding is bounded (kHeldGrants; an artifact may list
  // thousands of paths) and stops at the fd limit, giving back kFdMargin
  // descriptors for the rule loop (the ruleset, a re-open, an expansion's
  // directory and entry); a grant not held is opened again for its rule
  // and must reach the path that was checked.
  constexpr size_t kHeldGrants = 256;
  constexpr size_t kFdMargin = 8;
  struct Grant {
    Fd fd;                  // held descriptor, or -1
    std::string canonical;  // what the checks saw: the descriptor's path, else canonical_or_planned
    int err = 0;            // open's errno when it failed for the checks (that error stands)
    long mnt = -1;          // the mount it was on when checked (-1: not opened, or removed)
    dev_t dev = 0;          // and the file: a grant opened again for its rule must be this one
    ino_t ino = 0;
    mode_t type = 0;
    std::string path;                     // as written
    std::string field;                    // its first mention, for messages
    std::vector<mounts::Region> regions;  // what a rule on it covers; empty: no position
  };
  std::vector<Grant> grants;
  std::unordered_map<std::string_view, size_t> grant_of;  // path as written -> grants index
  std::vector<std::vector<size_t>> mentions(std::size(lists));
  size_t held = 0;
  bool holding = true;
  // gx's own grants first, so they are the ones held: the executable run in
  // place (/proc/self/fd/N) may have been renamed over since it was
  // verified, and only its held descriptor still reaches it.
  constexpr size_t kOpenOrder[] = {3, 4, 2, 1, 0};
  static_assert(std::size(kOpenOrder) == std::size(lists));
  // The last held grants close first; their canonical stays, checked
  // again when they are re-opened for their rule. Not a removed file's:
  // "(removed)" would match any other removed file.
  auto give_back = [&](size_t n) {
    for (size_t k = grants.size(), given = 0; k-- > 0 && given < n;)
      if (grants[k].fd.get() >= 0 && grants[k].canonical != kRemoved) {  // a removed file cannot be re-checked
        grants[k].fd = Fd();
        --held;
        ++given;
      }
  };
  // Holding ended (kHeldGrants) or done without reaching the fd limit, which
  // may still be close: descriptors are numbered lowest first, so those
  // between the highest held one and the limit are certainly free.
  auto keep_margin = [&] {
    int highest = -1;
    for (const Grant& g : grants) highest = std::max(highest, g.fd.get());
    rlimit lim{};
    if (highest < 0 || getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return;
    const long long above = static_cast<long long>(lim.rlim_cur) - 1 - highest;
    if (above < static_cast<long long>(kFdMargin)) give_back(kFdMargin - static_cast<size_t>(std::max(0LL, above)));
  };
  // The file and mount a grant's descriptor reaches (statx: no descriptor).
  auto identify = [](Grant& g, int fd, const std::string& path) -> Decision {
    struct stat st {};
    g.mnt = mounts::mount_id(fd);
    if (g.mnt < 0 || fstat(fd, &st) != 0)
      return Decision::deny(DenyReason::IoError,
                            "cannot tell which mount sandbox path " + path + " is on: " + fs::errno_text(errno),
                            g.field, path);
    g.dev = st.st_dev;
    g.ino = st.st_ino;
    g.type = st.st_mode & S_IFMT;
    return Decision::allow();
  };
  for (size_t li = 0; li < std::size(lists); ++li) mentions[li].resize(lists[li].paths->size());
  for (size_t li : kOpenOrder) {
    const auto& l = lists[li];
    for (size_t i = 0; i < l.paths->size(); ++i) {
      const std::string& path = (*l.paths)[i];
      if (path.empty() || path[0] != '/')
        return Decision::deny(DenyReason::InvalidValue, "sandbox paths must be absolute",
                              std::string(l.field) + "[" + std::to_string(i) + "]", path);
      auto [it, fresh] = grant_of.emplace(path, grants.size());
      mentions[li][i] = it->second;
      if (!fresh) continue;
      Grant& g = grants.emplace_back();
      g.path = path;
      g.field = std::string(l.field) + "[" + std::to_string(i) + "]";
      if (holding) {
        g.fd = Fd(open(path.c_str(), O_PATH | O_CLOEXEC));
        if (g.fd.get() < 0 && !out_of_fds(errno)) g.err = errno;
        if (g.fd.get() >= 0) {
          g.canonical = name_of(g.fd.get());
          // Naming takes a descriptor too: the open may have taken the last.
          if (g.canonical.empty() && out_of_fds(errno)) g.fd = Fd();
        }
        if (g.fd.get() < 0 && g.err == 0) {
          holding = false;
          give_back(kFdMargin);
        }
      }
      if (g.fd.get() >= 0) {
        ++held;
        if (g.canonical.empty())
          return Decision::deny(DenyReason::IoError, "cannot resolve opened sandbox path " + path, g.field, path);
        if (Decision d = identify(g, g.fd.get(), path); !d) return d;
        // gx's own execute grants (an ELF interpreter) go on one file, never
        // on a tree, whatever the name led to when it was opened.
        if (l.kind == Kind::Implicit) {
          struct stat st {};
          if (fstat(g.fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
            return Decision::deny(DenyReason::InvalidValue,
                                  "implicit execute grant " + path + " (an interpreter) is not a regular file", g.field,
                                  path);
        }
        if (held == kHeldGrants) {
          holding = false;
          keep_margin();
        }
      } else if (g.err != 0) {
        g.canonical = canonical_or_planned(path);
      } else {
        // Not held: opened for the checks and again for its rule, which
        // must reach the same file on the same mount. An error now stands
        // (as for a held grant): a path that appears later was never checked.
        Fd once(open(path.c_str(), O_PATH | O_CLOEXEC));
        if (once.get() < 0) {
          g.err = errno;
          g.canonical = canonical_or_planned(path);
          continue;
        }
        g.canonical = name_of(once.get());
        if (g.canonical.empty())
          return Decision::deny(DenyReason::IoError,
                                "cannot resolve opened sandbox path " + path +
                                    (errno != 0 ? ": " + fs::errno_text(errno) : std::string()),
                                g.field, path);
        if (Decision d = identify(g, once.get(), path); !d) return d;
      }
    }
  }
  if (holding) keep_margin();
  const Canonicalizer canon = [&](const std::string& path) {
    auto it = grant_of.find(path);
    return it != grant_of.end() ? grants[it->second].canonical : canonical_or_planned(path);
  };
  if (auto d = check_protected_resolved(policy, resolved, canon); !d) return d;
  if (auto d = check_exec_not_writable(policy, implicit_exec, canon); !d) return d;

  // The same rules on file-system positions (lib/landlock_paths.h): a bind
  // mount gives one directory several paths, and rules go on inodes. The
  // mount table is read once, after the held descriptors pin their mounts
  // (a mount id in it is theirs, not a reused one).
  std::vector<std::vector<std::vector<std::string>>> around(std::size(lists));
  {
    auto mount_list = mounts::read_self(witness ? &witness->mount_table : nullptr);
    const mounts::MountTable table(mount_list ? mount_list.take() : std::vector<mounts::Mount>{});
    for (Grant& g : grants) {
      if (g.mnt < 0 || g.canonical == kRemoved) continue;  // not there (refused later), or no path reaches it
      if (!mount_list)
        return Decision::deny(
            DenyReason::IoError,
            "cannot read the mount table to place sandbox path " + g.canonical + ": " + mount_list.error().detail,
            g.field, g.canonical);
      auto pos = table.position(g.mnt, g.canonical);
      if (!pos)
        return Decision::deny(DenyReason::IoError,
                              "sandbox path " + g.canonical + " is on mount " + std::to_string(g.mnt) +
                                  ", which /proc/self/mountinfo does not list under that path: cannot place it",
                              g.field, g.canonical);
      auto regions = table.reach(*pos, g.canonical);
      if (!regions)
        return Decision::deny(DenyReason::IoError,
                              "more than " + std::to_string(mounts::MountTable::kMaxRegions) +
                                  " mounts are reachable below sandbox path " + g.canonical + ": cannot check it",
                              g.field, g.canonical);
      g.regions = std::move(*regions);
    }
    PlacedProtected placed;
    for (const Located& l : located_no_write) placed.no_write.push_back({l.canonical, place(l, table), l.dir});
    for (const Located& l : located_no_access) placed.no_access.push_back({l.canonical, place(l, table), l.dir});
    for (const Located& l : located_no_rename) placed.no_rename.push_back({l.canonical, place(l, table), l.dir});
    for (size_t li = 0; li < std::size(lists); ++li) {
      const auto& l = lists[li];
      around[li].resize(l.paths->size());
      for (size_t i = 0; i < l.paths->size(); ++i) {
        const Grant& g = grants[mentions[li][i]];
        if (g.regions.empty()) continue;
        auto r = check_reach(g.regions, g.canonical, (*l.paths)[i],
                             std::string(l.field) + "[" + std::to_string(i) + "]", l.kind, placed);
        if (!r) return r.error();
        around[li][i] = r.take();
      }
    }
    const RegionsOf regions_of = [&](const std::string& path) -> const std::vector<mounts::Region>* {
      auto it = grant_of.find(path);
      if (it == grant_of.end() || grants[it->second].regions.empty()) return nullptr;
      return &grants[it->second].regions;
    };
    if (auto d = check_exec_reach(policy, implicit_exec, canon, regions_of); !d) return d;
  }
  if (after_checks) after_checks();

  ll::RulesetAttr attr{rights->fs_handled, rights->net_handled, rights->scoped};
  Fd ruleset(ll::create_ruleset(&attr, ll::ruleset_attr_size(rights->abi), 0));
  if (ruleset.get() < 0)
    return Decision::deny(
        DenyReason::SandboxUnavailable,
        "landlock_create_ruleset failed at ABI " + std::to_string(rights->abi) + ": " + fs::errno_text(errno),
        "landlock.abi", std::to_string(rights->abi));

  Enforcement e;
  e.abi = rights->abi;
  e.fs_handled = fs_right_names(rights->fs_handled);
  e.net_handled = net_right_names(rights->net_handled);
  e.scoped = scope_names(rights->scoped);
  e.downgraded = rights->downgraded;
  e.notes = rights->notes;

  for (size_t li = 0; li < std::size(lists); ++li) {
    const auto& l = lists[li];
    uint64_t access = l.kind == Kind::Read || l.kind == Kind::ImplicitRead ? rights->read_access
                      : l.kind == Kind::Write                              ? rights->write_access
                                                                           : rights->exec_access;
    for (size_t i = 0; i < l.paths->size(); ++i) {
      const std::string& path = (*l.paths)[i];
      std::string field = std::string(l.field) + "[" + std::to_string(i) + "]";
      const Grant& g = grants[mentions[li][i]];
      Fd reopened;
      int err = g.err;
      if (g.fd.get() < 0 && err == 0) {
        reopened = Fd(open(path.c_str(), O_PATH | O_CLOEXEC));
        if (reopened.get() < 0) {
          err = errno;
        } else if (std::string now = name_of(reopened.get()); now.empty() && out_of_fds(errno)) {
          return Decision::deny(DenyReason::IoError,
                                "cannot resolve sandbox path " + path + ": " + fs::errno_text(errno), field, path);
        } else if (struct stat now_st{}; now != g.canonical || fstat(reopened.get(), &now_st) != 0 ||
                                         now_st.st_dev != g.dev || now_st.st_ino != g.ino ||
                                         mounts::mount_id(reopened.get()) != g.mnt) {
          return Decision::deny(DenyReason::PolicyMismatch,
                                "sandbox path " + path + " moved while its grant was checked (checked " + g.canonical +
                                    ", now " + (now.empty() ? "unresolvable" : now) +
                                    (now == g.canonical ? ", another file or mount" : "") + ")",
                                field, path);
        }
      }
      const int target = g.fd.get() >= 0 ? g.fd.get() : reopened.get();
      if (target < 0) {
        if (err == ENOENT && l.kind == Kind::Read &&
            std::find(kOptionalReadPaths.begin(), kOptionalReadPaths.end(), path) != kOptionalReadPaths.end()) {
          e.skipped_paths.push_back(path);
          continue;
        }
        return Decision::deny(err == ENOENT ? DenyReason::InvalidValue : DenyReason::IoError,
                              "cannot open sandbox path " + path + ": " + fs::errno_text(err), field, path);
      }
      // The implicit grants were checked above only for write overlap.
      const std::string& opened_path = g.canonical;
      if (auto d =
              check_one(opened_path, path, field, l.kind == Kind::Write,
                        l.kind == Kind::Exec || l.kind == Kind::Implicit || l.kind == Kind::ImplicitRead, resolved);
          !d)
        return d;
      struct stat st {};
      if (fstat(target, &st) != 0)
        return Decision::deny(DenyReason::IoError, "cannot stat sandbox path " + path + ": " + fs::errno_text(errno),
                              field, path);
      if (l.kind == Kind::Read || l.kind == Kind::Write) {
        auto excl = expansion_excludes_resolved(opened_path, l.kind == Kind::Write, resolved);
        if (!around[li][i].empty()) {
          excl.insert(excl.end(), around[li][i].begin(), around[li][i].end());
          excl = outermost(std::move(excl));
        }
        if (!excl.empty()) {
          if (!S_ISDIR(st.st_mode))
            return Decision::deny(DenyReason::PolicyMismatch,
                                  "sandbox grant " + path + " is not a directory but contains " + excl[0], field, path);
          Expansion x;
          x.field = field;
          x.grant = opened_path;
          x.excluded = excl;
          if (Decision d = expand_grant(ruleset.get(), target, opened_path, excl, access, rights->fs_handled, x); !d)
            return Decision::deny(d.reason, d.detail, field, path);
          e.expanded.push_back(std::move(x));
          continue;
        }
      }
      // The kernel rejects directory-only rights on other files (EINVAL).
      uint64_t allowed = S_ISDIR(st.st_mode) ? access : access & ll::kAccessFsFileRights;
      if (allowed == 0) continue;
      ll::PathBeneathAttr rule{allowed, target};
      if (ll::add_rule(ruleset.get(), ll::kRulePathBeneath, &rule, 0) != 0)
        return Decision::deny(DenyReason::SandboxUnavailable,
                              "landlock_add_rule failed for " + path + ": " + fs::errno_text(errno), field, path);
    }
  }

  if (rights->net_handled != 0) {
    const std::pair<const std::vector<uint16_t>*, uint64_t> ports[] = {{&policy.connect_tcp, ll::kAccessNetConnectTcp},
                                                                       {&policy.bind_tcp, ll::kAccessNetBindTcp}};
    for (const auto& [list, access] : ports) {
      for (uint16_t port : *list) {
        ll::NetPortAttr rule{access, port};
        if (ll::add_rule(ruleset.get(), ll::kRuleNetPort, &rule, 0) != 0)
          return Decision::deny(
              DenyReason::SandboxUnavailable,
              "landlock_add_rule failed for TCP port " + std::to_string(port) + ": " + fs::errno_text(errno),
              access == ll::kAccessNetBindTcp ? "sandbox.bind_tcp" : "sandbox.connect_tcp", std::to_string(port));
      }
    }
  }
  GrantNames names;
  std::vector<std::string>* named[] = {&names.read, &names.write, &names.exec};
  for (size_t li = 0; li < std::size(named); ++li)
    for (size_t k : mentions[li]) named[li]->push_back(grants[k].canonical);
  for (const auto& w : policy.exec_writable) names.exec_writable.push_back(canon(w));
  for (size_t k : mentions[3]) names.implicit_exec.push_back(grants[k].canonical);
  if (witness) {
    RulesetWitness& w = *witness;
    std::string table = std::move(w.mount_table);  // read_self's, above
    w = RulesetWitness{};
    w.mount_table = std::move(table);
    auto not_reusable = [&](std::string why) {
      if (w.not_reusable.empty()) w.not_reusable = std::move(why);
    };
    if (w.mount_table.empty()) not_reusable("the mount table was not read");
    for (const auto* list : {&located_no_write, &located_no_access, &located_no_rename})
      for (const Located& l : *list) {
        if (l.name.empty() || l.mnt < 0) not_reusable("protected path " + l.canonical + " was not placed");
        else w.reached.push_back({l.head, l.name, l.st.st_dev, l.st.st_ino, l.mnt, l.st.st_mode & S_IFMT, l.missing});
      }
    for (const Grant& g : grants) {
      if (g.fd.get() >= 0 && g.canonical != kRemoved)
        w.reached.push_back({g.path, g.canonical, g.dev, g.ino, g.mnt, g.type, {}});
      else if (g.err == 0) not_reusable("sandbox path " + g.path + " was not held or has no name");
      // else: absent, and skipped (below) or refused above
    }
    for (const std::string& a : e.skipped_paths) w.absent.push_back({a, canon(a)});
    if (!e.expanded.empty()) not_reusable("a grant was expanded around protected paths");
  }
  return PreparedRuleset(ruleset.release(), rights->restrict_flags, std::move(e), std::move(names));
}

}  // namespace gx
