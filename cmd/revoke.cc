// gx revoke: add an artifact or a key to the signed revocation list, or list it.
#include "lib/revoke.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "cmd/common.h"
#include "lib/artifact.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/paths.h"
#include "lib/revocation.h"
#include "lib/trust_store.h"

namespace gx::cli {
namespace {

struct RevokeOptions {
  std::vector<std::string> keys;
  std::string artifact, id, key_id, reason;
  std::string revocations, trust, state;
  bool list = false;
  bool json = false;
};

paths::AuthorityPaths resolve(const RevokeOptions& o) { return paths::with_defaults(o.trust, o.revocations, o.state); }

const char* kind_name(RevocationKind k) { return k == RevocationKind::Artifact ? "artifact" : "key_id"; }

int revoke_list(const RevokeOptions& o) {
  const auto p = resolve(o);
  auto trust = TrustStore::load(p.trust);
  if (!trust) return report_denial(trust.error());
  auto list = RevocationList::load(p.revocations, *trust, p.state, now_unix());
  if (!list) return report_denial(list.error());
  std::vector<std::string> signers;
  for (const auto& s : list->signatures()) signers.push_back(s.key_id);
  const std::vector<RevocationEntry> entries = list->entries();  // from the index: one full scan
  if (o.json) {
    nlohmann::json j{{"path", p.revocations},
                     {"serial", list->serial()},
                     {"entries", nlohmann::json::array()},
                     {"signers", signers}};
    j["issued_at"] = list->serial() ? format_utc(list->issued_at()) : "";
    for (const auto& e : entries)
      j["entries"].push_back(
          {{kind_name(e.kind), e.target}, {"reason", e.reason}, {"revoked_at", format_utc(e.revoked_at)}});
    std::printf("%s\n", json_text(j).c_str());
    return kExitOk;
  }
  if (list->serial() == 0) {
    std::printf("no revocation list at %s: nothing is revoked\n", p.revocations.c_str());
    return kExitOk;
  }
  std::printf("revocation list %s: serial %llu, issued %s, %zu entr%s\n", p.revocations.c_str(),
              static_cast<unsigned long long>(list->serial()), format_utc(list->issued_at()).c_str(), entries.size(),
              entries.size() == 1 ? "y" : "ies");
  for (const auto& s : signers) {
    const TrustedKey* k = trust->find(s);
    std::printf("signed by %s%s\n", s.c_str(), k ? (" (" + k->name + ")").c_str() : " (unknown key)");
  }
  for (const auto& e : entries)
    std::printf("%-8s %s  %s%s%s\n", kind_name(e.kind), e.target.c_str(), format_utc(e.revoked_at).c_str(),
                e.reason.empty() ? "" : "  ", e.reason.c_str());
  return kExitOk;
}

int revoke_add(const RevokeOptions& o) {
  const auto p = resolve(o);
  UnixTime now = now_unix();
  auto trust = TrustStore::load(p.trust);
  if (!trust) return report_denial(trust.error());

  std::vector<crypto::PrivateKey> keys;
  for (const auto& path : o.keys) {
    auto key = crypto::load_private_key(path);
    if (!key) return report_denial(key.error());
    keys.push_back(key.take());
  }

  RevocationEntry entry;
  entry.reason = o.reason;
  entry.revoked_at = now;
  if (!o.artifact.empty()) {
    auto art = load_artifact_unverified(o.artifact);
    if (!art) return report_denial(art.error());
    entry.target = art->digest();
  } else {
    entry.kind = o.id.empty() ? RevocationKind::Key : RevocationKind::Artifact;
    entry.target = crypto::normalize_sha256_ref(o.id.empty() ? o.key_id : o.id);
    if (entry.target.empty())
      return report_error(std::string(o.id.empty() ? "--key-id" : "--id") + " must be sha256:<64 hex digits>");
  }
  // The whole transaction (lock, load, bump, sign, verify, write, record) is the library's.
  auto done = add_revocation(p.revocations, *trust, p.state, keys, entry, now);
  if (!done) return report_denial(done.error());
  if (done->already_revoked) {
    std::fprintf(stderr, "gx: %s %s is already revoked (revocation list serial %llu)\n", kind_name(entry.kind),
                 entry.target.c_str(), static_cast<unsigned long long>(done->list.serial()));
    return kExitOk;
  }
  const RevocationList* next = &done->list;
  std::printf("%s\n", entry.target.c_str());
  std::fprintf(stderr, "gx: revoked %s %s in %s (serial %llu)\n", kind_name(entry.kind), entry.target.c_str(),
               p.revocations.c_str(), static_cast<unsigned long long>(next->serial()));
  return kExitOk;
}

int revoke(const RevokeOptions& o) {
  int targets = !o.artifact.empty() + !o.id.empty() + !o.key_id.empty();
  if (o.list) {
    if (targets || !o.keys.empty() || !o.reason.empty())
      return report_error("--list takes no artifact, --id, --key-id, -k or --reason");
    return revoke_list(o);
  }
  if (o.json) return report_error("--json goes with --list");
  if (targets != 1) return report_error("give exactly one of ART, --id DIGEST or --key-id KEYID (or --list)");
  if (o.keys.empty()) return report_error("-k KEY is required: the new list must be signed by a trusted key");
  return revoke_add(o);
}

}  // namespace

void setup_revoke(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<RevokeOptions>();
  auto* sub = app.add_subcommand("revoke", "Revoke an artifact or a key in the signed revocation list, or list it");
  sub->add_option("artifact", o->artifact, "Artifact file to revoke")->check(CLI::ExistingFile);
  sub->add_option("--id", o->id, "Artifact digest to revoke (sha256:...)");
  sub->add_option("--key-id", o->key_id, "Revoke every artifact signed by this key (sha256:...)");
  sub->add_option("-k,--key", o->keys, "Private key to sign the new list (repeat to meet the trust threshold)")
      ->allow_extra_args(false);  // one file per -k: never swallow the ART positional
  sub->add_option("--reason", o->reason, "Why (recorded in the list)");
  add_authority_options(sub, o->trust, o->revocations, o->state, "State directory");
  sub->add_flag("--list", o->list, "Print the verified list instead of changing it");
  sub->add_flag("--json", o->json, "With --list: machine-readable output");
  sub->callback([o, &exit_code] { exit_code = revoke(*o); });
}

}  // namespace gx::cli
