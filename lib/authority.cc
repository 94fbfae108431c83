#include "lib/authority.h"

#include <algorithm>

#include "lib/fsutil.h"
#include "lib/receipt_key.h"
#include "lib/signature_cache.h"

namespace gx {

VerifyOptions Authority::options() const { return verify_options(trust, revocations, host, now); }

VerifyOptions verify_options(const TrustStore& trust, const RevocationList& revocations, const HostIdentity& host,
                             UnixTime now) {
  VerifyOptions o;
  o.now = now;
  o.trust = &trust;
  o.host = &host;
  o.key_revoked = [&revocations](const std::string& k) { return revocations.key_revoked(k); };
  o.artifact_revoked = [&revocations](const std::string& d) { return revocations.artifact_revoked(d); };
  return o;
}

void add_links(ProtectedPaths& p, const std::string& path) {
  for (std::string& link : fs::links_on_path(path))
    if (std::find(p.no_rename.begin(), p.no_rename.end(), link) == p.no_rename.end())
      p.no_rename.push_back(std::move(link));
}

ProtectedPaths own_files(const std::string& state_dir, const std::string& trust_path,
                         const std::string& revocations_path, const std::string& receipt_key) {
  ProtectedPaths p;
  const std::string state = fs::absolute(state_dir);
  p.no_write = {state};
  // The directories of the files themselves, not only of the names given:
  // a trust store reached through a symlink lives where the link points.
  for (const std::string* file : {&trust_path, &revocations_path})
    for (const std::string& hop : fs::symlink_hops(*file)) p.no_write.push_back(fs::dirname(hop));
  std::string self = fs::canonical("/proc/self/exe");
  if (!self.empty()) p.no_write.push_back(self);
  p.no_access = {state + "/" + std::string(kReceiptKeyFile), state + "/" + std::string(kSignatureCacheKeyFile)};
  if (!receipt_key.empty()) p.no_access.push_back(fs::absolute(receipt_key));
  // A link anywhere on the way re-points all of it, not only a link at the end.
  for (const std::string* path : {&state, &trust_path, &revocations_path, &receipt_key})
    if (!path->empty()) add_links(p, *path);
  return p;
}

Result<Authority> load_authority(const std::string& trust_path, const std::string& revocations_path,
                                 const std::string& state_dir, UnixTime now, std::optional<HostIdentity> host) {
  auto trust = TrustStore::load(trust_path);
  if (!trust) return trust.error();
  auto revocations = RevocationList::load(revocations_path, *trust, state_dir, now);
  if (!revocations) return revocations.error();
  Authority a;
  a.trust = trust.take();
  a.revocations = revocations.take();
  a.host = host ? std::move(*host) : HostIdentity::current();
  a.now = now;
  return a;
}

}  // namespace gx
