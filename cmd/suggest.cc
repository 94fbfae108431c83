#include "cmd/suggest.h"

#include <algorithm>
#include <functional>
#include <limits>

namespace gx::cli {
namespace {

std::string_view without_dashes(std::string_view s) {
  while (!s.empty() && s.front() == '-') s.remove_prefix(1);
  return s;
}

std::vector<const CLI::App*> subcommands_of(const CLI::App& app) {
  return app.get_subcommands(std::function<bool(const CLI::App*)>{});
}

bool has_positionals(const CLI::App& app) {
  return !app.get_options([](const CLI::Option* o) { return !o->nonpositional(); }).empty();
}

std::vector<std::string> long_options_of(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* o : app.get_options())
    for (const auto& l : o->get_lnames()) out.push_back("--" + l);
  return out;
}

// An option that takes a value swallows the next word (unless written --opt=value).
bool takes_value(const CLI::Option* o) { return o->get_items_expected_max() > 0; }

}  // namespace

size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows of the optimal-string-alignment table are enough.
  std::vector<size_t> two(b.size() + 1), one(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) one[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({one[j] + 1, row[j - 1] + 1, one[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) row[j] = std::min(row[j], two[j - 2] + 1);
    }
    std::swap(two, one);
    std::swap(one, row);
  }
  return one[b.size()];
}

std::optional<std::string> nearest(std::string_view typed, const std::vector<std::string>& candidates) {
  std::string_view word = without_dashes(typed);
  if (word.empty()) return std::nullopt;
  const size_t limit = word.size() <= 4 ? 1 : word.size() <= 8 ? 2 : 3;
  size_t best = std::numeric_limits<size_t>::max();
  std::optional<std::string> pick;
  bool tie = false;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, without_dashes(c));
    if (d < best) {
      best = d;
      pick = c;
      tie = false;
    } else if (d == best && c != *pick) {
      tie = true;
    }
  }
  // Distance 0 is not a typo; a tie or a far match is a guess, not a suggestion.
  if (!pick || best == 0 || best > limit || best >= word.size() || tie) return std::nullopt;
  return pick;
}

std::optional<std::string> diagnose_unknown(const CLI::App& app, int argc, const char* const* argv) {
  const CLI::App* cur = &app;
  std::string where = app.get_name();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;  // the governed command's own words are never ours
    if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
      const std::string name = arg.substr(0, arg.find('='));
      const CLI::Option* opt = cur->get_option_no_throw(name);
      if (!opt) {
        auto s = nearest(name, long_options_of(*cur));
        if (!s) return std::nullopt;
        return "unknown option '" + name + "' for '" + where + "'; did you mean '" + *s + "'?";
      }
      if (arg.find('=') == std::string::npos && takes_value(opt)) ++i;
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-') {
      const CLI::Option* opt = cur->get_option_no_throw(arg.substr(0, 2));
      if (opt && arg.size() == 2 && takes_value(opt)) ++i;
      continue;
    }
    const auto subs = subcommands_of(*cur);
    if (subs.empty()) continue;  // a positional argument
    auto it = std::find_if(subs.begin(), subs.end(), [&](const CLI::App* s) { return s->check_name(arg); });
    if (it != subs.end()) {
      cur = *it;
      where += " " + cur->get_name();
      continue;
    }
    if (has_positionals(*cur)) continue;
    std::vector<std::string> names;
    for (const CLI::App* s : subs) names.push_back(s->get_name());
    auto s = nearest(arg, names);
    if (!s) return std::nullopt;
    return "unknown command '" + arg + "'" + (cur == &app ? "" : " for '" + where + "'") + "; did you mean '" + *s +
           "'?";
  }
  return std::nullopt;
}

}  // namespace gx::cli
