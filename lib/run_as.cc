#include "lib/run_as.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "lib/fsutil.h"
#include "lib/user_db.h"

namespace gx {
namespace {

constexpr std::array<std::string_view, 41> kCapNames = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

std::optional<uint32_t> decimal_id(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v >= 0xFFFFFFFFull) return std::nullopt;  // (uid_t)-1 means "unchanged" to set*id
  return static_cast<uint32_t>(v);
}

Decision unavailable(std::string detail, std::string field, std::string value) {
  return Decision::deny(DenyReason::RunAsUnavailable, std::move(detail), std::move(field), std::move(value));
}

struct Passwd {
  uid_t uid;
  gid_t gid;
};

// nullopt: no such entry; an answer that cannot be had denies (lib/user_db.h).
Result<std::optional<Passwd>> lookup_user(const std::string& name, std::optional<uint32_t> id,
                                          const std::string& field) {
  auto u = id ? userdb::user_by_id(*id) : userdb::user_by_name(name);
  if (!u) return unavailable(u.error().explain(), field, name);
  if (!*u) return std::optional<Passwd>();
  return std::optional<Passwd>(Passwd{(*u)->uid, (*u)->gid});
}

Result<gid_t> lookup_group(const std::string& name, const std::string& field) {
  auto gid = resolve_group_id(name, field);
  if (!gid) return gid.error();
  if (!*gid) return unavailable("group '" + name + "' does not exist on this host", field, name);
  return **gid;
}

bool has_cap(uint64_t set, int cap) { return ((set >> cap) & 1U) != 0; }

}  // namespace

Result<std::optional<uid_t>> resolve_user_id(const std::string& name_or_id, const std::string& field) {
  if (auto id = decimal_id(name_or_id)) return std::optional<uid_t>(static_cast<uid_t>(*id));
  auto pw = lookup_user(name_or_id, std::nullopt, field);
  if (!pw) return pw.error();
  if (!*pw) return std::optional<uid_t>();
  return std::optional<uid_t>((*pw)->uid);
}

Result<std::optional<gid_t>> resolve_group_id(const std::string& name_or_id, const std::string& field) {
  if (auto id = decimal_id(name_or_id)) return std::optional<gid_t>(static_cast<gid_t>(*id));
  auto g = userdb::group_by_name(name_or_id);
  if (!g) return unavailable(g.error().explain(), field, name_or_id);
  return *g;
}

std::optional<int> capability_number(std::string_view name) {
  for (size_t i = 0; i < kCapNames.size(); ++i)
    if (kCapNames[i] == name) return static_cast<int>(i);
  return std::nullopt;
}

std::string_view capability_name(int cap) {
  if (cap < 0 || static_cast<size_t>(cap) >= kCapNames.size()) return {};
  return kCapNames[static_cast<size_t>(cap)];
}

int kernel_last_cap() {
  // Fixed for the running kernel's lifetime: read once a process (~18 us a
  // brokered request when read every time); an unreadable value is asked
  // again next time.
  static std::atomic<int> known{-1};
  if (int v = known.load(std::memory_order_relaxed); v >= 0) return v;
  auto text = fs::read_file("/proc/sys/kernel/cap_last_cap", 64);
  if (!text) return -1;
  auto v = decimal_id(std::string_view(*text).substr(0, text->find('\n')));
  if (!v || *v > 63) return -1;
  known.store(static_cast<int>(*v), std::memory_order_relaxed);
  return static_cast<int>(*v);
}

bool valid_account_name(std::string_view s) {
  if (decimal_id(s)) return true;
  if (s.empty() || s.size() > 64 || s[0] == '-') return false;
  // All digits but not a valid id (too large): neither a name nor an id.
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || (c == '$' && i + 1 == s.size());
    if (!ok) return false;
  }
  return s != "." && s != "..";
}

Result<std::optional<RunIdentity>> resolve_run_identity(const RunAs& run, const PeerIdentity* peer) {
  if (run.user.empty()) {
    if (peer == nullptr) return std::optional<RunIdentity>();
    RunIdentity id;
    id.uid = peer->uid;
    id.gid = peer->gid;
    for (gid_t g : peer->groups)
      if (std::find(id.groups.begin(), id.groups.end(), g) == id.groups.end()) id.groups.push_back(g);
    id.source = "peer";
    id.field = "peer";
    id.user = std::to_string(peer->uid);
    if (id.groups.size() > kMaxChildGroups)
      return unavailable("the caller is in more than " + std::to_string(kMaxChildGroups) + " groups", "peer", id.user);
    return std::optional<RunIdentity>(std::move(id));
  }
  RunIdentity id;
  id.source = "artifact";
  id.field = "run.user";
  id.user = run.user;
  auto numeric = decimal_id(run.user);
  auto pw = lookup_user(run.user, numeric, "run.user");
  if (!pw) return pw.error();
  if (!*pw && !numeric) return unavailable("user '" + run.user + "' does not exist on this host", "run.user", run.user);
  id.uid = *pw ? (*pw)->uid : static_cast<uid_t>(*numeric);
  if (!run.group.empty()) {
    auto g = lookup_group(run.group, "run.group");
    if (!g) return g.error();
    id.gid = *g;
  } else if (*pw) {
    id.gid = (*pw)->gid;
  } else {
    return unavailable("uid " + run.user + " has no passwd entry, so it has no primary group: name run.group",
                       "run.group", "");
  }
  for (size_t i = 0; i < run.groups.size(); ++i) {
    auto g = lookup_group(run.groups[i], "run.groups[" + std::to_string(i) + "]");
    if (!g) return g.error();
    if (std::find(id.groups.begin(), id.groups.end(), *g) == id.groups.end()) id.groups.push_back(*g);
  }
  if (id.groups.size() > kMaxChildGroups)
    return unavailable("more than " + std::to_string(kMaxChildGroups) + " groups", "run.groups",
                       std::to_string(id.groups.size()));
  for (const auto& name : run.capabilities) {
    auto cap = capability_number(name);
    if (!cap) return Decision::deny(DenyReason::InvalidValue, "unknown capability", "run.capabilities", name);
    id.capabilities |= uint64_t{1} << *cap;
  }
  return std::optional<RunIdentity>(std::move(id));
}

ProcessRights ProcessRights::current() {
  ProcessRights r;
  getresuid(&r.ruid, &r.euid, &r.suid);
  getresgid(&r.rgid, &r.egid, &r.sgid);
  int n = getgroups(0, nullptr);
  if (n > 0) {
    r.groups.resize(static_cast<size_t>(n));
    n = getgroups(n, r.groups.data());
    r.groups.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  __user_cap_header_struct head{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &head, data) == 0)
    r.effective_caps = uint64_t{data[0].effective} | (uint64_t{data[1].effective} << 32);
  return r;
}

ChildCredentials PreparedCredentials::child() const {
  ChildCredentials c;
  c.drop_caps = drop_caps_;
  if (!apply_ || !target_) return c;
  c.apply = true;
  c.uid = target_->uid;
  c.gid = target_->gid;
  c.groups = target_->groups.data();
  c.group_count = target_->groups.size();
  c.keep_caps = target_->capabilities;
  c.last_cap = last_cap_;
  return c;
}

nlohmann::json PreparedCredentials::summary() const {
  if (!target_) return nullptr;
  std::vector<std::string> caps;
  for (int cap = 0; cap < 64; ++cap)
    if (has_cap(target_->capabilities, cap)) caps.emplace_back(capability_name(cap));
  return {{"uid", target_->uid},  {"gid", target_->gid},       {"groups", target_->groups},
          {"capabilities", caps}, {"source", target_->source}, {"switched", apply_}};
}

Result<PreparedCredentials> prepare_credentials(const std::optional<RunIdentity>& target, const ProcessRights& self,
                                                int last_cap) {
  PreparedCredentials out;
  // Dropping from the bounding set needs CAP_SETPCAP; without it gx has
  // none of these to pass on either.
  if (has_cap(self.effective_caps, CAP_SETPCAP)) out.drop_caps_ = self.effective_caps & kNeverKeptUnswitched;
  if (!target) return out;
  const RunIdentity& t = *target;
  for (int cap = 0; cap < 64; ++cap)
    if (has_cap(t.capabilities, cap) && cap > last_cap)
      return unavailable("this kernel does not know capability " + std::string(capability_name(cap)),
                         "run.capabilities", std::string(capability_name(cap)));
  const bool can_switch = has_cap(self.effective_caps, CAP_SETUID) && has_cap(self.effective_caps, CAP_SETGID) &&
                          has_cap(self.effective_caps, CAP_SETPCAP);
  // Whether the primary gid also appears among the supplementary groups
  // changes no access: compare without it.
  auto sorted = [&t](std::vector<gid_t> v) {
    v.erase(std::remove(v.begin(), v.end(), t.gid), v.end());
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  };
  const bool same_ids = self.ruid == t.uid && self.euid == t.uid && self.suid == t.uid && self.rgid == t.gid &&
                        self.egid == t.gid && self.sgid == t.gid && sorted(self.groups) == sorted(t.groups);
  out.target_ = t;
  out.last_cap_ = last_cap;
  if (can_switch) {
    if (last_cap < 0) return unavailable("cannot read /proc/sys/kernel/cap_last_cap", t.field, t.user);
    // Between its setresuid and exec the child shares gx's memory; with
    // fs.suid_dumpable = 1 the uid change makes that memory traceable by
    // the target user for a moment (lib/confine.cc, apply_credentials).
    if (self.euid != t.uid) {
      auto dumpable = fs::read_file("/proc/sys/fs/suid_dumpable", 64);
      if (!dumpable || std::atoi(dumpable->c_str()) == 1)
        return unavailable(dumpable ? "fs.suid_dumpable is 1: a command switched to another user could be traced "
                                      "by that user while it still shares gx's memory; set it to 0 or 2"
                                    : "cannot read /proc/sys/fs/suid_dumpable",
                           "fs.suid_dumpable", dumpable ? "1" : "");
    }
    out.apply_ = true;
    return out;
  }
  if (same_ids && t.capabilities == 0) return out;  // already the target: nothing to switch
  std::string who = t.source == "peer" ? "the caller (uid " + t.user + ")" : "user '" + t.user + "'";
  std::string detail = "gx lacks CAP_SETUID, CAP_SETGID and CAP_SETPCAP, so it cannot run the command as " + who;
  if (same_ids) detail = "gx lacks CAP_SETPCAP, so it cannot give the command the capabilities [run] names";
  detail += "; run gx as root or through gx broker";
  return unavailable(detail, same_ids ? "run.capabilities" : t.field, t.user);
}

}  // namespace gx
