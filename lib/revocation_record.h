// The revocation rollback record, <state_dir>/revocations.serial: per list,
// the highest serial seen and its body digest (lib/revocation.h, "rollback").
//
// Format version 2:
//   gx-revocation-serials 2
//   <list key> <serial> sha256:<body digest>      one line per list
// A version-1 file ("<serial> sha256:<hex>", one serial for every list) is
// refused (StateUnavailable) with a message saying to remove it: it cannot
// be attributed to one list, and silently dropping it would silently drop
// rollback protection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lib/decision.h"
#include "lib/fd.h"

namespace gx {

// What <state>/revocations.serial remembers.
struct SeenRevocations {
  uint64_t serial = 0;
  std::string body_digest;  // "sha256:<hex>"
};

std::string revocations_serial_path(const std::string& state_dir);
// "sha256:" + SHA-256 of the list's absolute path with its DIRECTORY
// resolved (realpath) and its file name as given: stable whether the list
// exists, is missing, or is itself a symlink.
std::string revocation_list_key(const std::string& list_path);
// nullopt when nothing has been recorded for this list yet; StateUnavailable
// if the record is unreadable or malformed.
Result<std::optional<SeenRevocations>> read_seen_revocations(const std::string& state_dir,
                                                             const std::string& list_path);
// Under an exclusive lock: denies RevocationListInvalid when `serial` is
// lower than the one recorded for this list, or equal with another digest;
// otherwise records it (atomically, only ever raising it). Call only after
// the list was fully validated.
Decision record_revocations_serial(const std::string& state_dir, const std::string& list_path, uint64_t serial,
                                   const std::string& body_digest);
// The record's lock (a separate file, <state>/revocations.lock: the record
// itself is replaced by rename). Held while the record is raised and while
// the index is rebuilt, so neither can be moved back to an older list.
// StateUnavailable when it cannot be taken.
Result<fs::FileLock> lock_revocations_record(const std::string& state_dir);

}  // namespace gx
