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
constexpr std::string_view kDomain = "gx filter cache v1";
constexpr size_t kMaxFilterBytes = 256 * 1024;
constexpr int kFormat = 1;

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

json summary_json(const seccomp::FilterSummary& s) {
  return json{{"architectures", s.architectures},
              {"killed_abis", s.killed_abis},
              {"default_action", s.default_action},
              {"groups", s.groups},
              {"allowed", s.allowed},
              {"allowed_dangerous", s.allowed_dangerous},
              {"denied", s.denied},
              {"enosys", s.enosys},
              {"argument_checks", s.argument_checks},
              {"ioctl_groups", s.ioctl_groups},
              {"ioctls", s.ioctls},
              {"unix_sockets", s.unix_sockets},
              {"network", s.network},
              {"log_denials", s.log_denials},
              {"instructions", s.instructions}};
}

}  // namespace

std::string filter_cache_name(const SandboxPolicy& policy) {
  const std::string& env = binary_and_kernel();
  if (env.empty()) return {};
  std::string key(kDomain);
  key += "\n" + env + policy_json(policy).dump();
  return std::string(kFilterBlobPrefix) + crypto::sha256_hex(key);
}

std::string encode_compiled_filter(const seccomp::CompiledFilter& f) {
  json program = json::array();
  for (const auto& i : f.program) program.push_back({i.code, i.jt, i.jf, i.k});
  return json{{"format", kFormat}, {"flags", f.flags}, {"program", program}, {"summary", summary_json(f.summary)}}
      .dump();
}

std::optional<seccomp::CompiledFilter> decode_compiled_filter(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    if (j.size() != 4 || j.at("format").get<int>() != kFormat) return std::nullopt;
    seccomp::CompiledFilter f;
    if (!j.at("flags").is_number_unsigned() || j.at("flags").get<uint64_t>() > UINT32_MAX) return std::nullopt;
    f.flags = j.at("flags").get<unsigned int>();
    const json& program = j.at("program");
    if (!program.is_array() || program.empty() || program.size() > BPF_MAXINSNS) return std::nullopt;
    // Each field within its width: nlohmann would truncate silently.
    auto field = [](const json& v, uint64_t max, uint64_t& out) {
      if (!v.is_number_unsigned() || v.get<uint64_t>() > max) return false;
      out = v.get<uint64_t>();
      return true;
    };
    for (const auto& i : program) {
      if (!i.is_array() || i.size() != 4) return std::nullopt;
      uint64_t code = 0, jt = 0, jf = 0, k = 0;
      if (!field(i[0], UINT16_MAX, code) || !field(i[1], UINT8_MAX, jt) || !field(i[2], UINT8_MAX, jf) ||
          !field(i[3], UINT32_MAX, k))
        return std::nullopt;
      f.program.push_back(sock_filter{static_cast<uint16_t>(code), static_cast<uint8_t>(jt), static_cast<uint8_t>(jf),
                                      static_cast<uint32_t>(k)});
    }
    const json& s = j.at("summary");
    if (s.size() != summary_json(seccomp::FilterSummary{}).size()) return std::nullopt;
    auto& out = f.summary;
    s.at("architectures").get_to(out.architectures);
    s.at("killed_abis").get_to(out.killed_abis);
    s.at("default_action").get_to(out.default_action);
    s.at("groups").get_to(out.groups);
    s.at("allowed").get_to(out.allowed);
    s.at("allowed_dangerous").get_to(out.allowed_dangerous);
    s.at("denied").get_to(out.denied);
    s.at("enosys").get_to(out.enosys);
    s.at("argument_checks").get_to(out.argument_checks);
    s.at("ioctl_groups").get_to(out.ioctl_groups);
    s.at("ioctls").get_to(out.ioctls);
    s.at("unix_sockets").get_to(out.unix_sockets);
    s.at("network").get_to(out.network);
    s.at("log_denials").get_to(out.log_denials);
    s.at("instructions").get_to(out.instructions);
    if (out.instructions != f.program.size()) return std::nullopt;
    return f;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

Result<seccomp::CompiledFilter> build_filter_cached(const SandboxPolicy& policy, const SignatureCache* tags,
                                                    bool* hit) {
  if (hit) *hit = false;
  const bool usable = tags != nullptr && tags->enabled();
  const std::string name = usable ? filter_cache_name(policy) : std::string();
  if (!name.empty())
    if (auto blob = tags->read_blob(kFilterCacheFile, kDomain, name, kMaxFilterBytes))
      if (auto f = decode_compiled_filter(*blob)) {
        if (hit) *hit = true;
        return std::move(*f);
      }
  auto built = seccomp::FilterBuilder::from_policy(policy).build();
  if (built && !name.empty())
    tags->write_blob(kFilterCacheFile, kDomain, kFilterBlobPrefix, name, encode_compiled_filter(*built));
  return built;
}

}  // namespace gx
