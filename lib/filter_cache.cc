#include "lib/filter_cache.h"

#include <elf.h>
#include <link.h>
#include <sys/utsname.h>

#include <cstdint>
#include <nlohmann/json.hpp>

#include "lib/crypto.h"

namespace gx {
namespace {

using json = nlohmann::json;
constexpr std::string_view kDomain = "gx filter cache v2";
constexpr size_t kMaxFilterBytes = 256 * 1024;
// The stored form's first bytes (and its version): "gxf" 2.
constexpr std::string_view kMagic{"gxf\x02", 4};

// The running executable's NT_GNU_BUILD_ID, hex; empty when there is none.
std::string own_build_id() {
  std::string id;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) -> int {
        // The first object is the executable itself.
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE) continue;
          auto p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
          const char* end = p + ph.p_memsz;
          while (p + sizeof(ElfW(Nhdr)) <= end) {
            auto nh = reinterpret_cast<const ElfW(Nhdr)*>(p);
            const char* name = p + sizeof(ElfW(Nhdr));
            const char* desc = name + ((nh->n_namesz + 3) & ~3U);
            const char* next = desc + ((nh->n_descsz + 3) & ~3U);
            if (next > end) break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && std::string_view(name, 3) == "GNU") {
              static const char* hex = "0123456789abcdef";
              auto& s = *static_cast<std::string*>(out);
              for (size_t k = 0; k < nh->n_descsz; ++k) {
                auto b = static_cast<unsigned char>(desc[k]);
                s += hex[b >> 4];
                s += hex[b & 15];
              }
              return 1;
            }
            p = next;
          }
        }
        return 1;  // only the executable
      },
      &id);
  return id;
}

const std::string& binary_and_kernel() {
  static const std::string id = [] {
    std::string build = own_build_id();
    if (build.empty()) return std::string();
    utsname u{};
    if (uname(&u) != 0) return std::string();
    return "build-id " + build + "\nkernel " + u.release + " " + u.version + " " + u.machine + "\n";
  }();
  return id;
}

json policy_json(const SandboxPolicy& p) {
  return json{{"groups", p.groups},
              {"allow_syscalls", p.allow_syscalls},
              {"deny_syscalls", p.deny_syscalls},
              {"default_action", static_cast<int>(p.default_action)},
              {"log_denials", p.log_denials},
              {"ioctl_groups", p.ioctl_groups},
              {"ioctls", p.ioctls},
              {"network", static_cast<int>(p.network)},
              {"connect_tcp", p.connect_tcp},
              {"bind_tcp", p.bind_tcp},
              {"unix_sockets", p.unix_sockets},
              {"read", p.read},
              {"write", p.write},
              {"exec", p.exec},
              {"exec_writable", p.exec_writable},
              {"min_landlock_abi", p.min_landlock_abi},
              {"allow_downgrade", p.allow_downgrade}};
}

// The stored form, little-endian, nothing implicit: read back by Reader,
// which accepts exactly what Writer writes and nothing else.
class Writer {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) { bytes(v, 2); }
  void u32(uint32_t v) { bytes(v, 4); }
  void u64(uint64_t v) { bytes(v, 8); }
  void str(const std::string& v) {
    u32(static_cast<uint32_t>(v.size()));
    out_ += v;
  }
  void list(const std::vector<std::string>& v) {
    u32(static_cast<uint32_t>(v.size()));
    for (const auto& e : v) str(e);
  }
  std::string take() { return std::move(out_); }

 private:
  void bytes(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool at_end() const { return ok_ && in_.empty(); }
  uint64_t uint(int n) {
    if (!take(static_cast<size_t>(n))) return 0;
    uint64_t v = 0;
    for (int i = n; i-- > 0;) v = (v << 8) | static_cast<uint8_t>(taken_[static_cast<size_t>(i)]);
    return v;
  }
  bool flag() {
    uint64_t v = uint(1);
    if (v > 1) ok_ = false;
    return v == 1;
  }
  std::string str() {
    const uint64_t n = uint(4);
    return take(n) ? std::string(taken_) : std::string();
  }
  std::vector<std::string> list() {
    const uint64_t n = uint(4);
    std::vector<std::string> v;
    // Every entry takes at least its 4-byte length: a count beyond what is
    // left is a lie, refused before anything is reserved.
    if (!ok_ || n > in_.size() / 4) {
      ok_ = false;
      return v;
    }
    v.reserve(n);
    for (uint64_t i = 0; i < n && ok_; ++i) v.push_back(str());
    return v;
  }

 private:
  bool take(uint64_t n) {
    if (!ok_ || n > in_.size()) return ok_ = false;
    taken_ = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  std::string_view in_, taken_;
  bool ok_ = true;
};

}  // namespace

std::string sandbox_policy_key(const SandboxPolicy& policy) { return policy_json(policy).dump(); }

std::string filter_cache_name(const SandboxPolicy& policy) {
  const std::string& env = binary_and_kernel();
  if (env.empty()) return {};
  std::string key(kDomain);
  key += "\n" + env + sandbox_policy_key(policy);
  return std::string(kFilterBlobPrefix) + crypto::sha256_hex(key);
}

std::string encode_compiled_filter(const seccomp::CompiledFilter& f) {
  Writer w;
  for (char c : kMagic) w.u8(static_cast<uint8_t>(c));
  w.u32(f.flags);
  w.u32(static_cast<uint32_t>(f.program.size()));
  for (const auto& i : f.program) {
    w.u16(i.code);
    w.u8(i.jt);
    w.u8(i.jf);
    w.u32(i.k);
  }
  const auto& m = f.summary;
  w.list(m.architectures);
  w.list(m.killed_abis);
  w.str(m.default_action);
  w.list(m.groups);
  w.list(m.allowed);
  w.list(m.allowed_dangerous);
  w.list(m.denied);
  w.list(m.enosys);
  w.list(m.argument_checks);
  w.list(m.ioctl_groups);
  w.list(m.ioctls);
  w.u8(m.unix_sockets ? 1 : 0);
  w.str(m.network);
  w.u8(m.log_denials ? 1 : 0);
  w.u64(m.instructions);
  return w.take();
}

// Binary rather than JSON since format 2: parsing the JSON program (~300
// instructions, each a nested array) was ~150 us of every run.
std::optional<seccomp::CompiledFilter> decode_compiled_filter(std::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) return std::nullopt;
  Reader r(bytes.substr(kMagic.size()));
  seccomp::CompiledFilter f;
  f.flags = static_cast<unsigned int>(r.uint(4));
  const uint64_t n = r.uint(4);
  if (!r.ok() || n == 0 || n > BPF_MAXINSNS) return std::nullopt;
  f.program.reserve(n);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    sock_filter insn{};
    insn.code = static_cast<uint16_t>(r.uint(2));
    insn.jt = static_cast<uint8_t>(r.uint(1));
    insn.jf = static_cast<uint8_t>(r.uint(1));
    insn.k = static_cast<uint32_t>(r.uint(4));
    f.program.push_back(insn);
  }
  auto& m = f.summary;
  m.architectures = r.list();
  m.killed_abis = r.list();
  m.default_action = r.str();
  m.groups = r.list();
  m.allowed = r.list();
  m.allowed_dangerous = r.list();
  m.denied = r.list();
  m.enosys = r.list();
  m.argument_checks = r.list();
  m.ioctl_groups = r.list();
  m.ioctls = r.list();
  m.unix_sockets = r.flag();
  m.network = r.str();
  m.log_denials = r.flag();
  m.instructions = r.uint(8);
  if (!r.at_end() || m.instructions != f.program.size()) return std::nullopt;
  return f;
}

Result<seccomp::CompiledFilter> build_filter_cached(const SandboxPolicy& policy, const SignatureCache* tags, bool* hit,
                                                    FilterMemo* memo) {
  if (hit) *hit = false;
  std::string key = memo ? sandbox_policy_key(policy) : std::string();
  if (memo && memo->filter && memo->policy_key == key) {
    if (hit) *hit = true;
    return *memo->filter;
  }
  auto remember = [&](const seccomp::CompiledFilter& f) {
    if (!memo) return;
    memo->policy_key = std::move(key);
    memo->filter = f;
  };
  const bool usable = tags != nullptr && tags->enabled();
  const std::string name = usable ? filter_cache_name(policy) : std::string();
  if (!name.empty())
    if (auto blob = tags->read_blob(kFilterCacheFile, kDomain, name, kMaxFilterBytes))
      if (auto f = decode_compiled_filter(*blob)) {
        if (hit) *hit = true;
        remember(*f);
        return std::move(*f);
      }
  auto built = seccomp::FilterBuilder::from_policy(policy).build();
  if (built) remember(*built);
  if (built && !name.empty())
    tags->write_blob(kFilterCacheFile, kDomain, kFilterBlobPrefix, name, encode_compiled_filter(*built));
  return built;
}

}  // namespace gx
