#include "lib/revocation.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "lib/fsutil.h"
#include "lib/toml_reader.h"
#include "lib/use_store.h"

namespace gx {
namespace {

Decision invalid(const std::string& origin, const Decision& cause) {
  Decision d = cause;
  d.reason = DenyReason::RevocationListInvalid;
  d.detail = "revocation list " + origin + ": " + cause.detail;
  return d;
}

Decision invalid(const std::string& origin, const std::string& detail) {
  return Decision::deny(DenyReason::RevocationListInvalid, "revocation list " + origin + ": " + detail,
                        "revocations", origin);
}

bool is_sha256_ref(std::string_view s) {
  return s.size() == 7 + 64 && s.substr(0, 7) == "sha256:" && crypto::is_hex_sha256(s.substr(7));
}

Result<UnixTime> read_time(TableReader& r, std::string_view key) {
  auto s = r.string(key, true);
  if (!s) return r.finish();
  auto t = parse_utc(*s);
  if (!t) {
    r.invalid(key, *s, "must be an RFC 3339 UTC time like 2026-01-31T23:59:00Z");
    return r.finish();
  }
  return *t;
}

// Keys in the trust store that may sign a list at `now` (revocation by the
// list itself is applied separately, once the body is parsed).
bool key_usable(const TrustedKey& k, UnixTime now) {
  if (k.revoked) return false;
  if (k.not_before && now < *k.not_before) return false;
  if (k.not_after && now > *k.not_after) return false;
  return true;
}

// Distinct trusted, usable keys whose signature verifies over the body.
// A trusted key's signature that fails is an error, not merely "uncounted":
// it means the body was altered after that key signed it.
Result<std::set<std::string>> verified_signers(std::string_view body, const std::vector<Signature>& sigs,
                                               const TrustStore& trust, UnixTime now, const std::string& origin) {
  std::set<std::string> ok;
  for (const auto& s : sigs) {
    const TrustedKey* k = trust.find(s.key_id);
    if (!k || !key_usable(*k, now)) continue;
    if (!k->key.verify(crypto::kRevocationsType, body, s.value))
      return invalid(origin, "signature by " + s.key_id + " (" + k->name + ") does not verify");
    ok.insert(k->key_id);
  }
  return ok;
}

}  // namespace

// ---- construction ----

RevocationList::RevocationList(const RevocationList& o)
    : version_(o.version_), serial_(o.serial_), issued_at_(o.issued_at_), entries_(o.entries_), body_(o.body_),
      signatures_(o.signatures_) {
  (void)index();  // o was indexed already, so this cannot find duplicates
}

RevocationList& RevocationList::operator=(const RevocationList& o) {
  if (this != &o) {
    RevocationList copy(o);
    *this = std::move(copy);
  }
  return *this;
}

Decision RevocationList::index() {
  artifacts_.clear();
  keys_.clear();
  artifacts_.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    auto& set = e.kind == RevocationKind::Artifact ? artifacts_ : keys_;
    if (!set.insert(std::string_view(e.target)).second)
      return Decision::deny(DenyReason::DuplicateField, e.target + " is revoked twice",
                            "entry[" + std::to_string(i) + "]", e.target);
  }
  return Decision::allow();
}

Result<RevocationList> RevocationList::parse_unverified(std::string_view bytes, const std::string& origin) {
  if (bytes.size() > kRevocationsMaxBytes)
    return invalid(origin, "larger than the limit of " + std::to_string(kRevocationsMaxBytes) + " bytes");
  auto parts = split_artifact(bytes);
  if (!parts) return invalid(origin, parts.error());
  auto sigs = parse_signatures(parts->signature_block);
  if (!sigs) return invalid(origin, sigs.error());
  return from_parts(std::move(parts->body), sigs.take(), origin);
}

Result<RevocationList> RevocationList::from_parts(std::string body, std::vector<Signature> sigs,
                                                  const std::string& origin) {
  auto doc = parse_toml(body, origin);
  if (!doc) return invalid(origin, doc.error());
  RevocationList list;
  TableReader top(*doc, "");
  auto version = top.integer("version", true, kRevocationsVersionCurrent, kRevocationsVersionCurrent);
  auto serial = top.integer("serial", true, 1, INT64_MAX);
  auto issued = read_time(top, "issued_at");
  const toml::array* entries = top.array("entry", false);
  if (Decision d = top.finish(); !d) {
    if (!version && d.reason == DenyReason::InvalidValue) d.reason = DenyReason::UnsupportedVersion;
    return invalid(origin, d);
  }
  list.version_ = static_cast<int>(*version);
  list.serial_ = static_cast<uint64_t>(*serial);
  list.issued_at_ = *issued;
  if (entries) {
    if (!entries->empty() && !entries->is_array_of_tables())
      return invalid(origin, Decision::deny(DenyReason::WrongType, "entry must be an array of tables", "entry"));
    if (entries->size() > kRevocationsMaxEntries)
      return invalid(origin, "more than " + std::to_string(kRevocationsMaxEntries) + " entries");
    list.entries_.reserve(entries->size());
    for (size_t i = 0; i < entries->size(); ++i) {
      TableReader r(*entries->get(i)->as_table(), "entry[" + std::to_string(i) + "]");
      auto artifact = r.string("artifact", false);
      auto key_id = r.string("key_id", false);
      auto reason = r.string("reason", false);
      auto when = read_time(r, "revoked_at");
      if (Decision d = r.finish(); !d) return invalid(origin, d);
      if (artifact.has_value() == key_id.has_value())
        return invalid(origin, Decision::deny(DenyReason::InvalidValue,
                                              r.path("") + " needs exactly one of artifact or key_id", r.path("")));
      const std::string& target = artifact ? *artifact : *key_id;
      if (!is_sha256_ref(target))
        return invalid(origin, Decision::deny(DenyReason::InvalidValue, "target must be sha256:<64 hex digits>",
                                              r.path(artifact ? "artifact" : "key_id"), target));
      list.entries_.push_back(RevocationEntry{artifact ? RevocationKind::Artifact : RevocationKind::Key, target,
                                              reason.value_or(""), *when});
    }
  }
  if (Decision d = list.index(); !d) return invalid(origin, d);
  list.body_ = std::move(body);
  list.signatures_ = std::move(sigs);
  return list;
}

Decision RevocationList::verify(const TrustStore& trust, UnixTime now) const {
  return verify_as(trust, now, "(serial " + std::to_string(serial_) + ")");
}

Decision RevocationList::verify_as(const TrustStore& trust, UnixTime now, const std::string& origin) const {
  auto signers = verified_signers(body_, signatures_, trust, now, origin);
  if (!signers) return signers.error();
  size_t counted = 0;
  for (const auto& id : *signers)
    if (!key_revoked(id)) ++counted;
  size_t needed = static_cast<size_t>(std::max(trust.threshold, 1));
  if (counted < needed)
    return invalid(origin, "signed by " + std::to_string(counted) + " usable trusted key(s), " +
                               std::to_string(needed) + " required (trust store threshold; keys revoked by this "
                               "list, unknown, expired or revoked keys do not count)");
  return Decision::allow();
}

Result<RevocationList> RevocationList::load(const std::string& path, const TrustStore& trust,
                                            const std::string& state_dir, UnixTime now) {
  if (Decision d = ensure_state_dir(state_dir); !d) return d;
  auto seen = read_seen_revocations(state_dir);
  if (!seen) return seen.error();
  if (!fs::exists(path)) {
    if (*seen)
      return invalid(path, "missing, but serial " + std::to_string((*seen)->serial) +
                               " was already seen (deleted or rolled back)");
    return RevocationList{};
  }
  auto bytes = fs::read_file(path, kRevocationsMaxBytes);
  if (!bytes) return invalid(path, bytes.error());

  // Check signatures on the exact bytes before parsing the body: a body
  // nobody trusted signed never reaches the TOML parser.
  auto parts = split_artifact(*bytes);
  if (!parts) return invalid(path, parts.error());
  auto sigs = parse_signatures(parts->signature_block);
  if (!sigs) return invalid(path, sigs.error());
  if (sigs->empty()) return invalid(path, "not signed");
  auto pre = verified_signers(parts->body, *sigs, trust, now, path);
  if (!pre) return pre.error();
  if (pre->empty()) return invalid(path, "no signature by a trusted, usable key");

  bytes = std::string();  // the body now lives in parts: do not hold the file twice
  auto list = from_parts(std::move(parts->body), sigs.take(), path);
  if (!list) return list;
  if (Decision d = list->verify_as(trust, now, path); !d) return d;
  if (Decision d = record_revocations_serial(state_dir, list->serial(), list->digest()); !d) {
    if (d.reason == DenyReason::RevocationListInvalid) return invalid(path, d.detail);
    return d;
  }
  return list;
}

// ---- lookups ----

bool RevocationList::artifact_revoked(std::string_view digest) const { return artifacts_.contains(digest); }
bool RevocationList::key_revoked(std::string_view key_id) const { return keys_.contains(key_id); }

const RevocationEntry* RevocationList::find(std::string_view target) const {
  if (!artifacts_.contains(target) && !keys_.contains(target)) return nullptr;
  for (const auto& e : entries_)  // rare (display only): a linear scan is fine
    if (e.target == target) return &e;
  return nullptr;
}

Decision RevocationList::check(const std::string& artifact_digest,
                               const std::vector<std::string>& signer_key_ids) const {
  auto describe = [&](std::string_view target) {
    const RevocationEntry* e = find(target);
    std::string s = "revoked at " + format_utc(e ? e->revoked_at : 0);
    if (e && !e->reason.empty()) s += " (" + e->reason + ")";
    return s + ", revocation list serial " + std::to_string(serial_);
  };
  if (artifact_revoked(artifact_digest))
    return Decision::deny(DenyReason::Revoked, "artifact " + artifact_digest + " was " + describe(artifact_digest),
                          "artifact", artifact_digest);
  if (signer_key_ids.empty()) return Decision::allow();
  for (const auto& id : signer_key_ids)
    if (!key_revoked(id)) return Decision::allow();
  return Decision::deny(DenyReason::Revoked,
                        "every trusted signature on artifact " + artifact_digest +
                            " is by a revoked key; key " + signer_key_ids.front() + " was " +
                            describe(signer_key_ids.front()),
                        "signature.key_id", signer_key_ids.front());
}

std::string RevocationList::digest() const { return "sha256:" + crypto::sha256_hex(body_); }

// ---- building ----

std::string RevocationList::render_body(uint64_t serial, UnixTime issued_at,
                                        const std::vector<RevocationEntry>& entries) {
  std::string out =
      "# gx revocation list (format: gx-revocations(5)). Signed: change it only with gx revoke.\n"
      "version = " + std::to_string(kRevocationsVersionCurrent) + "\nserial = " + std::to_string(serial) +
      "\nissued_at = " + toml_quote(format_utc(issued_at)) + "\n";
  out.reserve(out.size() + entries.size() * 160);
  for (const auto& e : entries) {
    out += "\n[[entry]]\n";
    out += e.kind == RevocationKind::Artifact ? "artifact = " : "key_id = ";
    out += toml_quote(e.target);
    if (!e.reason.empty()) {
      out += "\nreason = ";
      out += toml_quote(e.reason);
    }
    out += "\nrevoked_at = ";
    out += toml_quote(format_utc(e.revoked_at));
    out += "\n";
  }
  out += "\n";  // a blank line before the signatures
  return out;
}

Result<RevocationList> RevocationList::successor(const std::vector<RevocationEntry>& added, UnixTime now) const {
  RevocationList next;
  next.serial_ = serial_ + 1;
  next.issued_at_ = now;
  next.entries_.reserve(entries_.size() + added.size());
  next.entries_ = entries_;
  for (const auto& e : added) {
    if (!is_sha256_ref(e.target))
      return Decision::deny(DenyReason::Usage, "revocation target must be sha256:<64 hex digits>", "target",
                            e.target);
    next.entries_.push_back(e);
  }
  if (Decision d = next.index(); !d) {
    d.reason = DenyReason::Usage;
    d.detail += " (already revoked)";
    return d;
  }
  next.body_ = render_body(next.serial_, now, next.entries_);
  return next;
}

Decision RevocationList::add_signature(const crypto::PrivateKey& key) {
  auto sig = key.sign(crypto::kRevocationsType, body_);
  if (!sig) return sig.error();
  signatures_.push_back(Signature{key.public_key().key_id(), std::string(crypto::kAlgorithm), sig.take()});
  return Decision::allow();
}

std::string RevocationList::file_text() const {
  // Nothing may come between the body and the first "[[signature]]" line:
  // it would become part of the body.
  std::string out = body_;
  for (size_t i = 0; i < signatures_.size(); ++i) {
    if (i > 0) out += "\n";
    out += render_signature(signatures_[i]);
  }
  return out;
}

// ---- rollback record ----

std::string revocations_serial_path(const std::string& state_dir) { return state_dir + "/revocations.serial"; }

Result<std::optional<SeenRevocations>> read_seen_revocations(const std::string& state_dir) {
  std::string path = revocations_serial_path(state_dir);
  if (!fs::exists(path)) return std::optional<SeenRevocations>{};
  auto text = fs::read_file(path, 256);
  auto bad = [&](const std::string& why) {
    return Decision::deny(DenyReason::StateUnavailable, "rollback record " + path + " " + why, "state", path);
  };
  if (!text) return bad("cannot be read: " + text.error().detail);
  // Exactly "<serial> sha256:<hex>\n": one spelling, nothing to interpret.
  const std::string& t = *text;
  size_t sp = t.find(' ');
  if (sp == std::string::npos || sp == 0 || sp > 19 || t.empty() || t.back() != '\n') return bad("is malformed");
  std::string digest = t.substr(sp + 1, t.size() - sp - 2);
  uint64_t serial = 0;
  for (size_t i = 0; i < sp; ++i) {
    if (t[i] < '0' || t[i] > '9') return bad("is malformed");
    serial = serial * 10 + static_cast<uint64_t>(t[i] - '0');
  }
  if (!is_sha256_ref(digest) || serial == 0) return bad("is malformed");
  return std::optional<SeenRevocations>{SeenRevocations{serial, digest}};
}

Decision record_revocations_serial(const std::string& state_dir, uint64_t serial, const std::string& body_digest) {
  if (Decision d = ensure_state_dir(state_dir); !d) return d;
  // A separate lock file (the record itself is replaced by rename): two gx
  // processes that loaded different lists must not lower the record.
  std::string lock_path = state_dir + "/revocations.lock";
  int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return Decision::deny(DenyReason::StateUnavailable, "cannot open " + lock_path + ": " + fs::errno_text(errno),
                          "state", lock_path);
  int rc;
  while ((rc = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
  }
  if (rc != 0) {
    int err = errno;
    close(fd);
    return Decision::deny(DenyReason::StateUnavailable, "cannot lock " + lock_path + ": " + fs::errno_text(err),
                          "state", lock_path);
  }
  Decision result = Decision::allow();
  auto seen = read_seen_revocations(state_dir);
  if (!seen) {
    result = seen.error();
  } else if (*seen && serial < (*seen)->serial) {
    result = Decision::deny(DenyReason::RevocationListInvalid,
                            "rollback: serial " + std::to_string(serial) + " < " + std::to_string((*seen)->serial) +
                                " already seen",
                            "serial", std::to_string(serial));
  } else if (*seen && serial == (*seen)->serial) {
    if (body_digest != (*seen)->body_digest)
      result = Decision::deny(DenyReason::RevocationListInvalid,
                              "serial " + std::to_string(serial) + " was already seen with a different body (" +
                                  (*seen)->body_digest + ", now " + body_digest + ")",
                              "serial", std::to_string(serial));
  } else {
    result = fs::write_file_atomic(revocations_serial_path(state_dir),
                                   std::to_string(serial) + " " + body_digest + "\n", 0600, fs::Overwrite::Yes);
    if (!result) result.reason = DenyReason::StateUnavailable;
  }
  close(fd);  // releases the lock
  return result;
}

}  // namespace gx
