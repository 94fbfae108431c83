// gx keygen -o PREFIX [--force]: a new ECDSA P-256 key pair.
#include <cstdio>

#include "cmd/common.h"
#include "lib/crypto.h"
#include "lib/fsutil.h"

namespace gx::cli {
namespace {

struct KeygenOptions {
  std::string prefix;
  bool force = false;
};

int run_keygen(const KeygenOptions& o) {
  auto key = crypto::PrivateKey::generate();
  if (!key) return report_denial(key.error());
  const auto overwrite = o.force ? fs::Overwrite::Yes : fs::Overwrite::No;
  const std::string priv = o.prefix + ".key", pub = o.prefix + ".pub";
  if (!o.force)
    for (const auto& p : {priv, pub})
      if (fs::exists(p)) return report_error(p + " already exists (use --force to replace it)");
  // Public half first: a failure then never leaves a private key without its public key.
  if (Decision d = fs::write_file_atomic(pub, key->public_key().pem(), 0644, overwrite); !d) return report_denial(d);
  std::string pem = key->pem();
  Decision d = fs::write_file_atomic(priv, pem, 0600, overwrite);
  std::fill(pem.begin(), pem.end(), '\0');
  if (!d) return report_denial(d);
  // Read the private key back: what is on disk must be the key we announce.
  auto back = crypto::load_private_key(priv);
  if (!back || !(back->public_key() == key->public_key()))
    return report_error("private key written to " + priv + " does not read back correctly");
  std::printf("%s\n", key->public_key().key_id().c_str());
  std::fprintf(stderr, "gx: wrote %s (private, 0600) and %s\n", priv.c_str(), pub.c_str());
  return kExitOk;
}

}  // namespace

void setup_keygen(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<KeygenOptions>();
  auto* sub =
      app.add_subcommand("keygen", "Create an ECDSA P-256 key pair (PREFIX.key 0600, PREFIX.pub) and print its key id");
  sub->add_option("-o,--output", o->prefix, "Path prefix of the key files")->required();
  sub->add_flag("-f,--force", o->force, "Replace existing key files");
  sub->callback([o, &exit_code] { exit_code = run_keygen(*o); });
}

}  // namespace gx::cli
