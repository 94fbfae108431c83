// lib/user_db: getent(1) lines and nsswitch.conf lines as gx reads them, and
// lookups of what /etc/passwd and /etc/group hold (the getent path itself:
// tests/cli/run_as_nss.sh, which needs root to put a fake getent in place).
#include "lib/user_db.h"

#include <unistd.h>

#include <catch2/catch.hpp>

using namespace gx;
using namespace gx::userdb;

TEST_CASE("a passwd line: uid, gid, home", "[user_db]") {
  auto u = parse_passwd_line("alice:x:1000:1001:Alice A,,,:/home/alice:/bin/bash");
  REQUIRE(u);
  CHECK(u->uid == 1000);
  CHECK(u->gid == 1001);
  CHECK(u->home == "/home/alice");
  CHECK(parse_passwd_line("svc:*:4294967294:0::/:")->uid == 4294967294U);
}

TEST_CASE("malformed passwd lines are refused", "[user_db]") {
  for (const char* bad :
       {"", "alice", "alice:x:1000:1000::/home/alice", "alice:x:1000:1000::/h:/bin/sh:extra",
        ":x:1000:1000::/h:/bin/sh", "alice:x:-1:1000::/h:/bin/sh", "alice:x:1000:abc::/h:/bin/sh",
        "alice:x:4294967296:0::/h:/bin/sh", "alice:x: 1000:0::/h:/bin/sh", "alice:x::0::/h:/bin/sh"}) {
    INFO(bad);
    CHECK_FALSE(parse_passwd_line(bad));
  }
}

TEST_CASE("a group line: its gid; malformed ones refused", "[user_db]") {
  CHECK(parse_group_line("staff:x:50:alice,bob") == std::optional<gid_t>(50));
  CHECK(parse_group_line("empty:x:7:") == std::optional<gid_t>(7));
  for (const char* bad : {"", "staff:x:50", "staff:x:50:a:b", ":x:50:", "staff:x:fifty:", "staff:x:+50:"}) {
    INFO(bad);
    CHECK_FALSE(parse_group_line(bad));
  }
}

TEST_CASE("nsswitch.conf: does a database name a source other than files", "[user_db]") {
  struct Case {
    const char* text;
    const char* db;
    bool other;
  };
  const Case cases[] = {
      {"passwd: files\ngroup: files sss\n", "passwd", false},
      {"passwd: files\ngroup: files sss\n", "group", true},
      {"passwd:         files systemd\n", "passwd", true},
      {"passwd: sss files\n", "passwd", true},
      {"passwd: compat\n", "passwd", true},
      // Status actions are not sources; comments are not either.
      {"passwd: files [NOTFOUND=return] # ldap later\n", "passwd", false},
      {"passwd: files [NOTFOUND=continue] ldap\n", "passwd", true},
      // The first line for a database is the one glibc uses.
      {"passwd: files\npasswd: ldap\n", "passwd", false},
      // Other databases whose names start alike do not count.
      {"passwdx: ldap\npasswd: files\n", "passwd", false},
      {"  passwd\t:\tfiles\r\n", "passwd", false},
      // No line at all: glibc's default, whatever it is, is asked of getent.
      {"hosts: files dns\n", "passwd", true},
      {"", "group", true},
  };
  for (const auto& c : cases) {
    INFO(c.db << " in: " << c.text);
    CHECK(has_other_sources(c.text, c.db) == c.other);
  }
}

TEST_CASE("users and groups in /etc/passwd and /etc/group resolve", "[user_db]") {
  auto root = user_by_name("root");
  REQUIRE(root);
  REQUIRE(*root);
  CHECK((*root)->uid == 0);
  auto by_id = user_by_id(0);
  REQUIRE(by_id);
  REQUIRE(*by_id);
  CHECK((*by_id)->home == (*root)->home);
  auto g = group_by_name("root");
  REQUIRE(g);
  REQUIRE(*g);
  CHECK(**g == 0);
}

TEST_CASE("names no passwd line can hold are not found, and nothing is asked", "[user_db]") {
  for (const char* bad : {"", "a:b", "a\nb", "tab\there"}) {
    INFO(bad);
    auto u = user_by_name(bad);
    REQUIRE(u);
    CHECK_FALSE(*u);
    auto g = group_by_name(bad);
    REQUIRE(g);
    CHECK_FALSE(*g);
  }
}
