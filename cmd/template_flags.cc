#include "cmd/template_flags.h"

#include <unistd.h>

#include <ctime>

#include "cmd/common.h"
#include "lib/clock.h"
#include "lib/run_as.h"

namespace gx::cli {

void add_template_flags(CLI::App* sub, TemplateFlags& f, const std::string& env_help) {
  sub->add_option("--ttl", f.ttl, "Validity from now: 90s, 15m, 2h, 1d, 1w (default 15m)");
  sub->add_option("--not-before", f.not_before, "Start of validity (RFC 3339 UTC); alone: valid from then for --ttl");
  sub->add_option("--not-after", f.not_after, "End of validity (RFC 3339 UTC); alone: valid from now until then");
  sub->add_option("--max-uses", f.max_uses, "How many runs it authorizes (default 1)")->check(CLI::Range(1u, 1000000u));
  sub->add_option("--issuer", f.issuer, "Who requests it (default USER@HOST)");
  sub->add_option("--reason", f.reason, "Why it is needed (governance record)");
  sub->add_option("--ticket", f.ticket, "Ticket or change reference");
  sub->add_option("--env", f.env, env_help);
  sub->add_option("--pin", f.pin,
                  "Pin the SHA-256 of a file the command depends on; only root may be able to change it (repeatable)");
  sub->add_option("--parent", f.parent,
                  "Lineage: the parent artifact (a file: its digest is named and, for gx init, the child is "
                  "pre-filled within its bounds; or its digest sha256:...)");
  sub->add_option(
      "--run-as", f.run_as,
      "Run the command as USER[:GROUP] (name or id; [run] in gx-artifact(5)); honoured by a root gx or gx broker");
  sub->add_flag("--no-bind-user", f.no_bind_user, "Do not bind the artifact to the current uid");
  sub->add_flag("--no-bind-host", f.no_bind_host, "Do not bind the artifact to this host's name and machine-id");
  sub->add_option("command", f.command, "The command and its arguments, after --");
}

Result<TemplateRequest> template_request(const TemplateFlags& f) {
  auto usage = [](const std::string& flag, const std::string& value, const std::string& what) {
    return Decision::deny(DenyReason::Usage, what, flag, value);
  };
  TemplateRequest t;
  auto cmd = governed_command(f.command);
  if (!cmd) return cmd.error();
  t.argv = cmd.take();
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return Decision::deny(DenyReason::IoError, "cannot read the current directory");
  t.cwd = cwd;
  if (const char* p = getenv("PATH")) t.path_env = p;
  t.now = now_unix();
  if (!f.ttl.empty()) {
    // --ttl and --not-after both fix the end: refuse rather than pick one silently.
    if (!f.not_after.empty())
      return usage("--ttl", f.ttl, "--ttl and --not-after both set the end of validity; give one");
    auto ttl = parse_duration(f.ttl);
    if (!ttl || *ttl <= 0) return usage("--ttl", f.ttl, "--ttl takes a duration like 90s, 15m, 2h, 1d, 1w");
    t.ttl_seconds = *ttl;
  }
  auto time_flag = [&](const char* flag, const std::string& value, std::optional<UnixTime>& out) {
    if (value.empty()) return Decision::allow();
    out = parse_utc(value);
    if (!out) return usage(flag, value, "times must be RFC 3339 UTC like 2026-12-01T02:00:00Z");
    return Decision::allow();
  };
  if (Decision d = time_flag("--not-before", f.not_before, t.not_before); !d) return d;
  if (Decision d = time_flag("--not-after", f.not_after, t.not_after); !d) return d;
  // Alone, --not-after means "from now until then"; --not-before alone, "from then for --ttl".
  if (t.not_after && *t.not_after <= t.not_before.value_or(t.now))
    return usage("--not-after", f.not_after,
                 t.not_before ? "--not-after must be later than --not-before" : "--not-after must be in the future");
  t.max_uses = f.max_uses;
  t.issuer = f.issuer;
  if (t.issuer.empty()) {
    const char* u = getenv("USER");
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    t.issuer = std::string(u ? u : std::to_string(getuid())) + "@" + host;
  }
  t.reason = f.reason;
  t.ticket = f.ticket;
  t.env = f.env;
  t.pin_files = f.pin;
  if (!f.parent.empty() && f.parent.rfind("sha256:", 0) != 0) {
    auto parent = load_artifact_unverified(f.parent);
    if (!parent)
      return Decision::deny(parent.error().reason, "--parent " + f.parent + ": " + parent.error().detail, "--parent",
                            f.parent);
    t.parent = parent->digest();
  } else {
    t.parent = f.parent;
  }
  if (!f.run_as.empty()) {
    auto colon = f.run_as.find(':');
    t.run_as.user = f.run_as.substr(0, colon);
    if (colon != std::string::npos) t.run_as.group = f.run_as.substr(colon + 1);
    if (!valid_account_name(t.run_as.user) || (colon != std::string::npos && !valid_account_name(t.run_as.group)))
      return usage("--run-as", f.run_as, "--run-as takes USER or USER:GROUP, each a name or a decimal id");
  }
  t.bind_user = !f.no_bind_user;
  t.bind_host = !f.no_bind_host;
  return t;
}

}  // namespace gx::cli
