#include "lib/revocation_record.h"

#include <map>
#include <string_view>

#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/use_store.h"

namespace gx {
namespace {

constexpr std::string_view kSeenHeader = "gx-revocation-serials 2\n";
constexpr size_t kSeenMaxBytes = 1024 * 1024;

using SeenMap = std::map<std::string, SeenRevocations>;  // by revocation_list_key()

Decision bad_record(const std::string& path, const std::string& why) {
  return Decision::deny(DenyReason::StateUnavailable, "rollback record " + path + " " + why, "state", path);
}

bool parse_serial(std::string_view t, uint64_t& out) {
  if (t.empty() || t.size() > 19) return false;
  out = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return out != 0;
}

// The whole record: "gx-revocation-serials 2\n" then one line per list,
// "<list key> <serial> <body digest>\n", every field sha256:<hex> or digits.
Result<SeenMap> read_all_seen(const std::string& state_dir) {
  std::string path = revocations_serial_path(state_dir);
  SeenMap out;
  if (!fs::exists(path)) return out;
  auto text = fs::read_file_nofollow(path, kSeenMaxBytes);  // no symlink, no FIFO: a regular file only
  if (!text) return bad_record(path, "cannot be read: " + text.error().detail);
  std::string_view t = *text;
  if (t.substr(0, kSeenHeader.size()) != kSeenHeader) {
    uint64_t ignored = 0;
    if (t.find(' ') != std::string_view::npos && parse_serial(t.substr(0, t.find(' ')), ignored))
      return bad_record(path,
                        "has the old format (one serial for every list): remove it once you have checked "
                        "the revocation lists; gx records each list again on its next load");
    return bad_record(path, "is malformed");
  }
  t.remove_prefix(kSeenHeader.size());
  while (!t.empty()) {
    size_t eol = t.find('\n');
    if (eol == std::string_view::npos) return bad_record(path, "is malformed (unterminated line)");
    std::string_view line = t.substr(0, eol);
    t.remove_prefix(eol + 1);
    size_t s1 = line.find(' ');
    size_t s2 = s1 == std::string_view::npos ? s1 : line.find(' ', s1 + 1);
    if (s2 == std::string_view::npos) return bad_record(path, "is malformed");
    std::string key(line.substr(0, s1));
    std::string digest(line.substr(s2 + 1));
    SeenRevocations seen;
    if (!crypto::is_sha256_ref(key) || !crypto::is_sha256_ref(digest) ||
        !parse_serial(line.substr(s1 + 1, s2 - s1 - 1), seen.serial))
      return bad_record(path, "is malformed");
    seen.body_digest = digest;
    if (!out.emplace(key, seen).second) return bad_record(path, "names list " + key + " twice");
  }
  return out;
}

}  // namespace

std::string revocations_serial_path(const std::string& state_dir) { return state_dir + "/revocations.serial"; }

std::string revocation_list_key(const std::string& list_path) {
  // The directory is resolved, the file name is not: the key is the same
  // whether the list exists, is missing, or is a symlink.
  std::string abs = fs::absolute(list_path);
  std::string dir = fs::canonical(fs::dirname(abs));
  std::string name = abs.substr(abs.find_last_of('/') + 1);
  std::string where = dir.empty() ? abs : (dir == "/" ? "/" + name : dir + "/" + name);
  return "sha256:" + crypto::sha256_hex(where);
}

Result<std::optional<SeenRevocations>> read_seen_revocations(const std::string& state_dir,
                                                             const std::string& list_path) {
  auto all = read_all_seen(state_dir);
  if (!all) return all.error();
  auto it = all->find(revocation_list_key(list_path));
  if (it == all->end()) return std::optional<SeenRevocations>{};
  return std::optional<SeenRevocations>{it->second};
}

Decision record_revocations_serial(const std::string& state_dir, const std::string& list_path, uint64_t serial,
                                   const std::string& body_digest) {
  if (Decision d = ensure_state_dir(state_dir); !d) return d;
  // Two gx processes that loaded different lists must not lower the record.
  auto lock = lock_revocations_record(state_dir);
  if (!lock) return lock.error();
  auto all = read_all_seen(state_dir);
  if (!all) return all.error();
  const std::string key = revocation_list_key(list_path);
  auto it = all->find(key);
  if (it != all->end() && serial < it->second.serial)
    return Decision::deny(
        DenyReason::RevocationListInvalid,
        "rollback: serial " + std::to_string(serial) + " < " + std::to_string(it->second.serial) + " already seen",
        "serial", std::to_string(serial));
  if (it != all->end() && serial == it->second.serial) {
    if (body_digest != it->second.body_digest)
      return Decision::deny(DenyReason::RevocationListInvalid,
                            "serial " + std::to_string(serial) + " was already seen with a different body (" +
                                it->second.body_digest + ", now " + body_digest + ")",
                            "serial", std::to_string(serial));
    return Decision::allow();
  }
  (*all)[key] = SeenRevocations{serial, body_digest};
  std::string text(kSeenHeader);
  for (const auto& [k, v] : *all) text += k + " " + std::to_string(v.serial) + " " + v.body_digest + "\n";
  if (text.size() > kSeenMaxBytes)
    return bad_record(revocations_serial_path(state_dir), "would exceed " + std::to_string(kSeenMaxBytes) + " bytes");
  Decision d = fs::write_file_atomic(revocations_serial_path(state_dir), text, 0600, fs::Overwrite::Yes);
  if (!d) d.reason = DenyReason::StateUnavailable;
  return d;
}

Result<fs::FileLock> lock_revocations_record(const std::string& state_dir) {
  return fs::FileLock::lock_file(state_dir + "/revocations.lock", DenyReason::StateUnavailable, "state");
}

}  // namespace gx
