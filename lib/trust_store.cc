#include "lib/trust_store.h"

#include <set>

#include "lib/fsutil.h"
#include "lib/toml_reader.h"

namespace gx {

const TrustedKey* TrustStore::find(std::string_view key_id) const {
  for (const auto& k : keys)
    if (k.key_id == key_id) return &k;
  return nullptr;
}

Decision TrustedKey::usable_at(UnixTime now, int64_t skew_seconds) const {
  if (revoked)
    return Decision::deny(DenyReason::KeyRevoked, "key of " + name + " (" + key_id + ") is revoked in the trust store",
                          "signature.key_id", key_id);
  if (not_before && now + skew_seconds < *not_before)
    return Decision::deny(DenyReason::KeyExpired,
                          "key of " + name + " (" + key_id + ") is outside its validity window (not before " +
                              format_utc(*not_before) + ")",
                          "signature.key_id", key_id);
  if (not_after && now - skew_seconds > *not_after)
    return Decision::deny(DenyReason::KeyExpired,
                          "key of " + name + " (" + key_id + ") is outside its validity window (not after " +
                              format_utc(*not_after) + ")",
                          "signature.key_id", key_id);
  return Decision::allow();
}

Result<TrustStore> TrustStore::parse(std::string_view text, const std::string& origin) {
  auto fail = [&](Decision d) {
    // Every trust-store problem is reported under one reason, naming the field.
    d.detail = origin + ": " + d.detail;
    d.reason = DenyReason::TrustStoreInvalid;
    return d;
  };
  auto doc = parse_toml(text, origin);
  if (!doc) return fail(doc.error());
  TrustStore store;
  TableReader r(*doc, "");
  auto version = r.integer("version", true, kTrustStoreVersionOldest, kTrustStoreVersionCurrent);
  if (auto t = r.integer("threshold", false, 1, 1000)) store.threshold = static_cast<int>(*t);
  if (auto s = r.integer("skew_seconds", false, 0, 3600)) store.skew_seconds = *s;
  const toml::array* keys = r.array("key", false);
  if (Decision d = r.finish(); !d) return fail(d);
  (void)version;
  if (keys && !keys->empty() && !keys->is_array_of_tables())
    return fail(Decision::deny(DenyReason::WrongType, "key must be an array of tables", "key"));
  std::set<std::string> seen;
  for (size_t i = 0; keys && i < keys->size(); ++i) {
    TableReader k(*keys->get(i)->as_table(), "key[" + std::to_string(i) + "]");
    TrustedKey tk;
    auto name = k.string("name", true);
    auto id = k.string("id", true);
    auto pem = k.string("public_key", true);
    auto nb = k.string("not_before", false);
    auto na = k.string("not_after", false);
    auto revoked = k.boolean("revoked", false);
    if (Decision d = k.finish(); !d) return fail(d);
    auto key = crypto::PublicKey::from_pem(*pem);
    if (!key) return fail(Decision::deny(key.error().reason, key.error().detail, k.path("public_key")));
    tk.key = key.take();
    tk.key_id = tk.key.key_id();
    // The id is derived, never trusted: a mismatch means a hand-edited store.
    if (tk.key_id != *id)
      return fail(Decision::deny(DenyReason::InvalidValue, "id does not match public_key (expected " + tk.key_id + ")",
                                 k.path("id"), *id));
    if (!seen.insert(tk.key_id).second)
      return fail(
          Decision::deny(DenyReason::DuplicateField, "key " + tk.key_id + " is listed twice", k.path("id"), *id));
    tk.name = *name;
    if (nb) {
      tk.not_before = parse_utc(*nb);
      if (!tk.not_before)
        return fail(Decision::deny(DenyReason::InvalidValue, "not an RFC 3339 UTC time", k.path("not_before"), *nb));
    }
    if (na) {
      tk.not_after = parse_utc(*na);
      if (!tk.not_after)
        return fail(Decision::deny(DenyReason::InvalidValue, "not an RFC 3339 UTC time", k.path("not_after"), *na));
    }
    tk.revoked = revoked.value_or(false);
    store.keys.push_back(std::move(tk));
  }
  return store;
}

Result<TrustStore> TrustStore::load(const std::string& path) {
  auto fail = [](Decision d) {
    d.reason = DenyReason::TrustStoreInvalid;
    d.detail = "trust store: " + d.detail;
    return d;
  };
  // Only an existing file is checked here: a missing one is reported by the read.
  if (fs::exists(path))
    if (Decision d = fs::check_strict_modes(path, false); !d) return fail(d);
  auto text = fs::read_file(path, kTrustStoreMaxBytes);
  if (!text) return fail(text.error());
  return parse(*text, path);
}

Result<TrustStore> TrustStore::load_or_empty(const std::string& path) {
  if (!fs::exists(path)) return TrustStore{};
  return load(path);
}

std::string TrustStore::render() const {
  std::string o = "# gx trust store (format: gx-trust(5)). Manage with `gx trust`.\n";
  o += "version = " + std::to_string(kTrustStoreVersionCurrent) + "\n";
  o += "# distinct trusted signatures an artifact needs\n";
  o += "threshold = " + std::to_string(threshold) + "\n";
  o += "# clock-skew tolerance (seconds) on both ends of every validity window\n";
  o += "skew_seconds = " + std::to_string(skew_seconds) + "\n";
  for (const auto& k : keys) {
    o += "\n[[key]]\n";
    o += "name = " + toml_quote(k.name) + "\n";
    o += "id = " + toml_quote(k.key_id) + "\n";
    o += "public_key = \"\"\"\n" + k.key.pem() + "\"\"\"\n";
    if (k.not_before) o += "not_before = " + toml_quote(format_utc(*k.not_before)) + "\n";
    if (k.not_after) o += "not_after = " + toml_quote(format_utc(*k.not_after)) + "\n";
    if (k.revoked) o += "revoked = true\n";
  }
  return o;
}

Decision TrustStore::save(const std::string& path) const {
  if (Decision d = fs::make_dirs(fs::dirname(fs::absolute(path)), 0755); !d) return d;
  return fs::write_file_atomic(path, render(), 0644, fs::Overwrite::Yes);
}

}  // namespace gx
