// gx trust add|list|remove|threshold: manage the trust store.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cmd/common.h"
#include "lib/crypto.h"
#include "lib/paths.h"
#include "lib/trust_store.h"

namespace gx::cli {
namespace {

struct TrustOptions {
  std::string trust;
  std::string pubkey, name, not_before, not_after;  // add
  std::string key_id;                               // remove
  int threshold = 0;                                // threshold
  bool json = false;
};

std::string store_path(const TrustOptions& o) { return paths::with_defaults(o.trust, "", "").trust; }

int trust_add(const TrustOptions& o) {
  auto store = TrustStore::load_or_empty(store_path(o));
  if (!store) return report_denial(store.error());
  auto key = crypto::load_public_key(o.pubkey);
  if (!key) return report_denial(key.error());
  TrustedKey tk;
  tk.name = o.name;
  tk.key = key.take();
  tk.key_id = tk.key.key_id();
  if (store->find(tk.key_id)) return report_error("key " + tk.key_id + " is already trusted");
  for (auto [text, slot] : {std::pair{&o.not_before, &tk.not_before}, std::pair{&o.not_after, &tk.not_after}}) {
    if (text->empty()) continue;
    *slot = parse_utc(*text);
    if (!*slot) return report_error("not an RFC 3339 UTC time (like 2027-01-31T00:00:00Z): " + *text);
  }
  store->keys.push_back(tk);
  if (Decision d = store->save(store_path(o)); !d) return report_denial(d);
  std::printf("%s\n", tk.key_id.c_str());
  std::fprintf(stderr, "gx: trusted %s as '%s' in %s\n", tk.key_id.c_str(), tk.name.c_str(), store_path(o).c_str());
  return kExitOk;
}

int trust_list(const TrustOptions& o) {
  auto store = TrustStore::load_or_empty(store_path(o));
  if (!store) return report_denial(store.error());
  if (o.json) {
    nlohmann::json j;
    j["threshold"] = store->threshold;
    j["keys"] = nlohmann::json::array();
    for (const auto& k : store->keys)
      j["keys"].push_back({{"name", k.name},
                           {"key_id", k.key_id},
                           {"not_before", k.not_before ? format_utc(*k.not_before) : ""},
                           {"not_after", k.not_after ? format_utc(*k.not_after) : ""},
                           {"revoked", k.revoked}});
    std::printf("%s\n", json_text(j).c_str());
    return kExitOk;
  }
  std::printf("threshold: %d\n", store->threshold);
  for (const auto& k : store->keys)
    std::printf("%-16s %s%s%s%s\n", k.name.c_str(), k.key_id.c_str(),
                k.not_before ? ("  from " + format_utc(*k.not_before)).c_str() : "",
                k.not_after ? ("  until " + format_utc(*k.not_after)).c_str() : "", k.revoked ? "  REVOKED" : "");
  return kExitOk;
}

int trust_remove(const TrustOptions& o) {
  auto store = TrustStore::load(store_path(o));
  if (!store) return report_denial(store.error());
  auto it =
      std::find_if(store->keys.begin(), store->keys.end(), [&](const TrustedKey& k) { return k.key_id == o.key_id; });
  if (it == store->keys.end()) return report_error("key " + o.key_id + " is not in " + store_path(o));
  store->keys.erase(it);
  if (Decision d = store->save(store_path(o)); !d) return report_denial(d);
  std::fprintf(stderr, "gx: removed %s\n", o.key_id.c_str());
  return kExitOk;
}

int trust_threshold(const TrustOptions& o) {
  auto store = TrustStore::load_or_empty(store_path(o));
  if (!store) return report_denial(store.error());
  if (o.threshold < 1) return report_error("threshold must be at least 1");
  store->threshold = o.threshold;
  if (Decision d = store->save(store_path(o)); !d) return report_denial(d);
  if (static_cast<size_t>(o.threshold) > store->keys.size())
    std::fprintf(stderr, "gx: warning: threshold %d exceeds the %zu trusted keys: nothing will verify\n", o.threshold,
                 store->keys.size());
  return kExitOk;
}

}  // namespace

void setup_trust(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<TrustOptions>();
  auto* sub = app.add_subcommand("trust", "Manage the trust store of approver keys");
  sub->require_subcommand(1);
  auto trust_flag = [&](CLI::App* s) {
    s->add_option("--trust", o->trust,
                  "Trust store file (default: $XDG_CONFIG_HOME/gx/trust.toml; root: /etc/gx/trust.toml)");
  };
  auto* add = sub->add_subcommand("add", "Trust a public key");
  add->add_option("pubkey", o->pubkey, "Public key file (PEM)")->required()->check(CLI::ExistingFile);
  add->add_option("-n,--name", o->name, "Principal name of the key's owner")->required();
  add->add_option("--not-before", o->not_before, "Key is valid from (RFC 3339 UTC)");
  add->add_option("--not-after", o->not_after, "Key is valid until (RFC 3339 UTC)");
  trust_flag(add);
  add->callback([o, &exit_code] { exit_code = trust_add(*o); });
  auto* list = sub->add_subcommand("list", "List trusted keys and the threshold");
  list->add_flag("--json", o->json, "Machine-readable output");
  trust_flag(list);
  list->callback([o, &exit_code] { exit_code = trust_list(*o); });
  auto* rm = sub->add_subcommand("remove", "Stop trusting a key");
  rm->add_option("key_id", o->key_id, "Key id (sha256:...)")->required();
  trust_flag(rm);
  rm->callback([o, &exit_code] { exit_code = trust_remove(*o); });
  auto* th = sub->add_subcommand("threshold", "Set how many distinct trusted signatures an artifact needs");
  th->add_option("n", o->threshold, "Threshold (>= 1)")->required();
  trust_flag(th);
  th->callback([o, &exit_code] { exit_code = trust_threshold(*o); });
}

}  // namespace gx::cli
