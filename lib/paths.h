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

}  // namespace gx::paths
