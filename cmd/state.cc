// gx state prune|show: maintain the spent-use store (<state>/uses.db).
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "cmd/common.h"
#include "lib/clock.h"
#include "lib/paths.h"
#include "lib/use_store.h"

namespace gx::cli {
namespace {

struct StateOptions {
  std::string state;
  std::string now;  // RFC 3339 UTC; default: the clock
  bool json = false;
};

std::string state_dir(const StateOptions& o) { return paths::with_defaults("", "", o.state).state; }

int state_prune(const StateOptions& o) {
  UnixTime now = now_unix();
  if (!o.now.empty()) {
    auto t = parse_utc(o.now);
    if (!t) return report_error("--now: not an RFC 3339 UTC time (like 2027-01-31T00:00:00Z): " + o.now);
    // --now may only move the clock back (reproducible runs, tests): a
    // future --now would forget uses of artifacts that are still valid
    // today, and an artifact whose uses are forgotten can run again.
    if (*t > now) {
      std::fprintf(stderr, "gx: warning: --now %s is in the future; using the clock (%s)\n", o.now.c_str(),
                   format_utc(now).c_str());
    } else {
      now = *t;
    }
  }
  // The margin is fixed, not a flag: a smaller one could forget uses of an
  // artifact that a clock-skew-tolerant verifier would still accept.
  const int64_t margin = kUseStorePruneMarginSeconds;
  auto store = UseStore::open(state_dir(o));
  if (!store) return report_denial(store.error());
  auto pruned = store->prune(now, margin);
  if (!pruned) return report_denial(pruned.error());
  std::printf("pruned %llu entr%s (artifacts expired before %s)\n", static_cast<unsigned long long>(*pruned),
              *pruned == 1 ? "y" : "ies", format_utc(now - margin).c_str());
  return kExitOk;
}

int state_show(const StateOptions& o) {
  auto store = UseStore::open(state_dir(o));
  if (!store) return report_denial(store.error());
  auto stats = store->stats();
  if (!stats) return report_denial(stats.error());
  std::string db = UseStore::db_path(state_dir(o));
  if (o.json) {
    nlohmann::json j{
        {"state_dir", state_dir(o)}, {"use_store", db}, {"entries", stats->entries}, {"exhausted", stats->exhausted}};
    std::printf("%s\n", json_text(j).c_str());
  } else {
    std::printf("use store: %s\nentries:   %llu (artifacts with at least one use spent)\nexhausted: %llu\n", db.c_str(),
                static_cast<unsigned long long>(stats->entries), static_cast<unsigned long long>(stats->exhausted));
  }
  return kExitOk;
}

}  // namespace

void setup_state(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<StateOptions>();
  auto* sub = app.add_subcommand("state", "Maintain gx's state directory (the spent-use store)");
  sub->require_subcommand(1);
  auto state_flag = [&](CLI::App* s) {
    s->add_option("--state", o->state, "State directory (default: $XDG_STATE_HOME/gx; root: /var/lib/gx)");
  };
  auto* prune = sub->add_subcommand("prune", "Forget spent uses of artifacts that have expired");
  prune->add_option("--now", o->now, "Prune as of this earlier time (RFC 3339 UTC); a time after the clock is ignored");
  state_flag(prune);
  prune->callback([o, &exit_code] { exit_code = state_prune(*o); });
  auto* show = sub->add_subcommand("show", "Count the entries of the spent-use store");
  show->add_flag("--json", o->json, "Machine-readable output");
  state_flag(show);
  show->callback([o, &exit_code] { exit_code = state_show(*o); });
}

}  // namespace gx::cli
