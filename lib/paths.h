// Default locations of gx's files. Root uses system paths; everyone else
// the XDG base directories. Every command that reads one takes a flag.
#pragma once

#include <string>

namespace gx::paths {

// $XDG_CONFIG_HOME/gx/trust.toml (~/.config/gx/trust.toml); root: /etc/gx/trust.toml
std::string default_trust_store();
// Beside the trust store: <dir of trust store>/revocations.toml
std::string default_revocations(const std::string& trust_store);
// $XDG_STATE_HOME/gx (~/.local/state/gx); root: /var/lib/gx
std::string default_state_dir();

// The files that define authority and hold state, as the flags --trust,
// --revocations and --state gave them ("" = default), with every default
// applied — the one place the subcommands do it: trust =
// default_trust_store(), revocations = default_revocations(the resulting
// trust store), state = default_state_dir(). (--receipt-key has no default
// here: the receipt log's own, <state>/receipt.key.) Each is made absolute
// with ".." taken as the kernel takes it (fs::absolute_physical): gx opens
// and protects these very names.
struct AuthorityPaths {
  std::string trust, revocations, state;
};
AuthorityPaths with_defaults(const std::string& trust, const std::string& revocations, const std::string& state);

}  // namespace gx::paths
