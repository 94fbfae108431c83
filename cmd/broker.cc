// gx broker: serve `gx run --broker` requests with a fixed configuration.
// Only wiring: config file + flags -> BrokerConfig; the accept loop is
// lib/broker.
#include "lib/broker.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "cmd/common.h"
#include "lib/fsutil.h"
#include "lib/paths.h"

namespace gx::cli {
namespace {

struct BrokerOptions {
  std::string config, socket, trust, revocations, state, receipt_key, socket_mode, socket_group;
  std::vector<std::string> allow_users, allow_groups;
  size_t max_concurrent = 0;
  size_t max_per_user = 0;
  uint32_t request_timeout_ms = 0;
  bool syslog = false;
};

// One line per event on stderr (the journal under systemd).
void log_line(const std::string& line) {
  std::fprintf(stderr, "gx broker[%d]: %s\n", static_cast<int>(getpid()), line.c_str());
  std::fflush(stderr);
}

int run_broker(const BrokerOptions& o) {
  broker::BrokerConfig c;
  c.socket_path = std::string(broker::kDefaultSocketPath);
  // The config file: the one named, else /etc/gx/broker.toml when it exists.
  std::string config = o.config;
  if (config.empty() && fs::exists(std::string(broker::kDefaultConfigPath))) config = broker::kDefaultConfigPath;
  if (!config.empty()) {
    auto loaded = broker::load_config_file(config, c);
    if (!loaded) return report_denial(loaded.error());
    c = loaded.take();
  }
  // Flags override the file.
  if (!o.socket.empty()) c.socket_path = o.socket;
  if (!o.trust.empty()) c.trust_path = o.trust;
  if (!o.revocations.empty()) c.revocations_path = o.revocations;
  if (!o.state.empty()) c.state_dir = o.state;
  if (!o.receipt_key.empty()) c.receipt_key = o.receipt_key;
  if (!o.allow_users.empty()) c.allow_users = o.allow_users;
  if (!o.allow_groups.empty()) c.allow_groups = o.allow_groups;
  if (o.max_concurrent > 0) c.max_concurrent = o.max_concurrent;
  if (o.max_per_user > 0) c.max_per_user = o.max_per_user;
  if (o.request_timeout_ms > 0) c.request_timeout_ms = o.request_timeout_ms;
  if (!o.socket_group.empty()) c.socket_group = o.socket_group;
  if (!o.socket_mode.empty()) {
    char* end = nullptr;
    unsigned long mode = std::strtoul(o.socket_mode.c_str(), &end, 8);
    if (*end != '\0' || mode > 0777) return report_error("--socket-mode: not an octal mode: " + o.socket_mode);
    c.socket_mode = static_cast<mode_t>(mode);
  }
  c.syslog = c.syslog || o.syslog;
  // The same defaults as every other command (lib/paths.h); the
  // revocation list's, beside the trust store, is then checked at start-up
  // like a configured one.
  const auto where = paths::with_defaults(c.trust_path, c.revocations_path, c.state_dir);
  // The names the broker opens are the names it protects (fs::absolute_physical).
  if (!c.receipt_key.empty()) c.receipt_key = fs::absolute_physical(c.receipt_key);
  if (!c.socket_path.empty()) c.socket_path = fs::absolute_physical(c.socket_path);
  c.trust_path = where.trust;
  c.revocations_path = where.revocations;
  c.state_dir = where.state;
  if (Decision d = broker::check_config(c); !d) return report_denial(d);
  if (auto allow = broker::resolve_allow_list(c); !allow) return report_denial(allow.error());
  auto listener = broker::open_listener(c);
  if (!listener) return report_denial(listener.error());
  Decision d = broker::serve(c, *listener, log_line);
  close(listener->fd);
  if (!listener->activated) unlink(listener->path.c_str());
  if (!d) return report_denial(d);
  return kExitOk;
}

}  // namespace

void setup_broker(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<BrokerOptions>();
  auto* sub = app.add_subcommand(
      "broker", "Serve gx run --broker requests on a Unix socket with a fixed trust store, state and receipt key");
  sub->add_option("--config", o->config,
                  "Configuration file (default /etc/gx/broker.toml when it exists; flags override it)");
  sub->add_option("--socket", o->socket,
                  "Socket to listen on (default /run/gx/broker.sock; ignored under systemd socket activation)");
  add_authority_options(sub, o->trust, o->revocations, o->state, "State directory: receipts, use store");
  sub->add_option("--receipt-key", o->receipt_key, "Receipt signing key (default: STATE/receipt.key)");
  sub->add_option("--allow-user", o->allow_users,
                  "A user (name or uid) allowed to connect; repeatable (the broker's own user always is)");
  sub->add_option("--allow-group", o->allow_groups, "A group (name or gid) whose members may connect; repeatable");
  sub->add_option("--max-concurrent", o->max_concurrent,
                  "Requests served at once; more are refused as busy (default 32)");
  sub->add_option("--max-per-user", o->max_per_user,
                  "Requests one user may have running at once (a subordinate uid counts as its owner); more "
                  "are refused as busy (default: half of --max-concurrent, rounded up, once an allow list names "
                  "anyone; else all of it)");
  sub->add_option("--request-timeout-ms", o->request_timeout_ms,
                  "Time a client has to send its request (default 10000)");
  sub->add_option("--socket-mode", o->socket_mode, "Octal mode of the socket (default 0666: the allow lists decide)");
  sub->add_option("--socket-group", o->socket_group, "Group of the socket");
  sub->add_flag("--syslog", o->syslog, "Also send every receipt to syslog");
  sub->callback([o, &exit_code] { exit_code = run_broker(*o); });
}

}  // namespace gx::cli
