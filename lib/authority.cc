#include "lib/authority.h"

namespace gx {

VerifyOptions Authority::options(int64_t skew_seconds) const {
  VerifyOptions o;
  o.now = now;
  o.skew_seconds = skew_seconds;
  o.trust = &trust;
  o.host = &host;
  o.key_revoked = [this](const std::string& k) { return revocations.key_revoked(k); };
  o.artifact_revoked = [this](const std::string& d) { return revocations.artifact_revoked(d); };
  return o;
}

Result<Authority> load_authority(const std::string& trust_path, const std::string& revocations_path,
                                 const std::string& state_dir, UnixTime now) {
  auto trust = TrustStore::load(trust_path);
  if (!trust) return trust.error();
  auto revocations = RevocationList::load(revocations_path, *trust, state_dir, now);
  if (!revocations) return revocations.error();
  Authority a;
  a.trust = trust.take();
  a.revocations = revocations.take();
  a.host = HostIdentity::current();
  a.now = now;
  return a;
}

}  // namespace gx
