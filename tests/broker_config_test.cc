#include "lib/broker_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

using namespace gx;
using namespace gx::broker;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/gx-broker-config-test-XXXXXX";
    path = mkdtemp(tmpl);
    chmod(path.c_str(), 0755);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text, mode_t mode = 0644) const {
    std::string p = path + "/" + name;
    std::ofstream(p) << text;
    chmod(p.c_str(), mode);
    return p;
  }
};

}  // namespace

TEST_CASE("a broker config file is read strictly over the defaults") {
  TempDir t;
  BrokerConfig base;
  base.socket_path = "/run/default.sock";
  auto c = load_config_file(
      t.write("b.toml",
              "trust = \"/etc/gx/trust.toml\"\nstate = \"/var/lib/gx\"\n"
              "allow_users = [\"deploy\", \"1001\"]\nallow_groups = [\"adm\"]\n"
              "max_concurrent = 4\nmax_per_user = 3\nrequest_timeout_ms = 500\nsocket_mode = \"0660\"\n"
              "syslog = true\n"),
      base);
  REQUIRE(c);
  CHECK(c->socket_path == "/run/default.sock");  // kept: not in the file
  CHECK(c->trust_path == "/etc/gx/trust.toml");
  CHECK(c->state_dir == "/var/lib/gx");
  CHECK(c->allow_users == std::vector<std::string>{"deploy", "1001"});
  CHECK(c->allow_groups == std::vector<std::string>{"adm"});
  CHECK(c->max_concurrent == 4);
  CHECK(c->max_per_user == 3);
  CHECK(per_user_limit(*c) == 3);
  CHECK(c->request_timeout_ms == 500);
  CHECK(c->socket_mode == 0660);
  CHECK(c->syslog);
}

TEST_CASE("a broker config file refuses what it does not know, naming the key") {
  TempDir t;
  auto unknown = load_config_file(t.write("u.toml", "trust = \"/t\"\nstate_dir = \"/s\"\n"), {});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().reason == DenyReason::UnknownField);
  CHECK(unknown.error().field == "state_dir");
  auto type = load_config_file(t.write("t.toml", "max_concurrent = \"many\"\n"), {});
  CHECK(type.error().reason == DenyReason::WrongType);
  auto range = load_config_file(t.write("r.toml", "max_concurrent = 0\n"), {});
  CHECK(range.error().field == "max_concurrent");
  auto per_user = load_config_file(t.write("p.toml", "max_per_user = 0\n"), {});
  CHECK(per_user.error().field == "max_per_user");
  auto mode = load_config_file(t.write("m.toml", "socket_mode = \"rw-rw----\"\n"), {});
  CHECK(mode.error().field == "socket_mode");
  auto dup = load_config_file(t.write("d.toml", "trust = \"/a\"\ntrust = \"/b\"\n"), {});
  CHECK(dup.error().reason == DenyReason::DuplicateField);
}

TEST_CASE("a broker config file others can write is refused (StrictModes)") {
  TempDir t;
  auto c = load_config_file(t.write("w.toml", "trust = \"/t\"\n", 0666), {});
  REQUIRE_FALSE(c);
  CHECK(c.error().reason == DenyReason::IoError);
}

TEST_CASE("check_config wants absolute trust and state paths") {
  BrokerConfig c;
  CHECK(check_config(c).reason == DenyReason::MissingField);
  c.trust_path = "relative.toml";
  c.state_dir = "/var/lib/gx";
  CHECK(check_config(c).field == "trust");
}

TEST_CASE("max_per_user: half of max_concurrent once an allow list names anyone, never above it") {
  BrokerConfig c;
  CHECK(per_user_limit(c) == 32);  // only the broker's own uid may connect
  c.allow_groups = {"adm"};
  CHECK(per_user_limit(c) == 16);
  c.max_concurrent = 1;
  CHECK(per_user_limit(c) == 1);
  c.max_concurrent = 5;
  CHECK(per_user_limit(c) == 3);
  TempDir t;
  c.trust_path = t.write("trust.toml", "");
  c.state_dir = t.path + "/state";
  c.max_per_user = 6;
  Decision d = check_config(c);
  CHECK(d.reason == DenyReason::InvalidValue);
  CHECK(d.field == "max_per_user");
  CHECK(d.value == "6");
  c.max_per_user = 5;
  CHECK(check_config(c).field != "max_per_user");
  CHECK(per_user_limit(c) == 5);
}

TEST_CASE("allow lists: the broker's own uid, listed users, primary and supplementary groups") {
  BrokerConfig c;
  c.allow_users = {"1001", "root"};
  c.allow_groups = {"2000"};
  auto a = resolve_allow_list(c);
  REQUIRE(a);
  CHECK(a->uids == std::vector<uid_t>{1001, 0});
  const uid_t self = 500;
  CHECK(a->allows(self, 500, 500, {}));
  CHECK(a->allows(self, 1001, 9, {}));
  CHECK(a->allows(self, 0, 0, {}));
  CHECK(a->allows(self, 7, 2000, {}));
  CHECK(a->allows(self, 7, 7, {3, 2000}));
  CHECK_FALSE(a->allows(self, 7, 7, {3, 4}));
  c.allow_users = {"gx-no-such-user-4711"};
  auto missing = resolve_allow_list(c);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().value == "gx-no-such-user-4711");
}

TEST_CASE("the broker's own paths name its config file and socket wherever their links lead") {
  TempDir t;
  const std::string real = t.write("real.toml", "");
  REQUIRE(symlink(real.c_str(), (t.path + "/broker.toml").c_str()) == 0);
  REQUIRE(symlink((t.path + "/run/gx.sock").c_str(), (t.path + "/sock-link").c_str()) == 0);  // not there yet
  BrokerConfig c;
  c.config_path = t.path + "/broker.toml";
  c.socket_path = t.path + "/sock-link";
  const auto own = broker_own_paths(c);
  const auto& paths = own.no_write;
  auto has = [&](const std::string& p) { return std::find(paths.begin(), paths.end(), p) != paths.end(); };
  // The links themselves are entries no child may replace.
  CHECK(own.no_rename == std::vector<std::string>{t.path + "/broker.toml", t.path + "/sock-link"});
  CHECK(has(t.path + "/broker.toml"));
  CHECK(has(real));
  CHECK(has(t.path + "/sock-link"));
  CHECK(has(t.path + "/run/gx.sock"));
}

TEST_CASE("subordinate uid ranges: a caller counts as the owner of the range its uid lies in") {
  auto ranges = parse_subordinate_ranges(
      "root:100000:65536\n"
      "0:300000:10\n"                   // a numeric owner
      "no-such-user-gx:200000:65536\n"  // names nobody (yet): grouped all the same
      "root:400000\n"                   // malformed: skipped
      "root:500000:0\n"                 // empty: skipped
      "root:x:5\n"
      "root:600000:5:extra\n"
      "no-such-user-gx:700000:10\n");  // its second range goes with its first
  REQUIRE(ranges.size() == 4);
  AllowList a;
  a.subordinate = ranges;
  CHECK(a.principal(100000) == 0);
  CHECK(a.principal(165535) == 0);
  CHECK(a.principal(165536) == 165536);
  CHECK(a.principal(99999) == 99999);
  CHECK(a.principal(300009) == 0);
  CHECK(a.principal(300010) == 300010);
  // An owner nobody resolves: its range still counts as one (its first uid).
  CHECK(a.principal(200001) == 200000);
  CHECK(a.principal(265535) == 200000);
  CHECK(a.principal(700009) == 200000);
  CHECK(a.principal(700010) == 700010);
  CHECK(a.principal(1000) == 1000);
}

TEST_CASE("resolve_allow_list reads the subuid file: missing is none, unreadable is an error") {
  TempDir t;
  BrokerConfig c;
  auto none = resolve_allow_list(c, t.path + "/missing");
  REQUIRE(none);
  CHECK(none->subordinate.empty());
  auto some = resolve_allow_list(c, t.write("subuid", "root:100000:65536\n"));
  REQUIRE(some);
  CHECK(some->principal(100001) == 0);
  REQUIRE(mkdir((t.path + "/dir").c_str(), 0755) == 0);
  CHECK_FALSE(resolve_allow_list(c, t.path + "/dir"));
}
