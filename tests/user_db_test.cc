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
        "alice:x:4294967296:0::/h:/bin/sh", "alice:x:4294967295:0::/h:/bin/sh", "alice:x:0:4294967295::/h:/bin/sh",
        "alice:x: 1000:0::/h:/bin/sh", "alice:x::0::/h:/bin/sh"}) {
    INFO(bad);
    CHECK_FALSE(parse_passwd_line(bad));
  }
}

TEST_CASE("a group line: its gid; malformed ones refused", "[user_db]") {
  CHECK(parse_group_line("staff:x:50:alice,bob") == std::optional<gid_t>(50));
  CHECK(parse_group_line("empty:x:7:") == std::optional<gid_t>(7));
  for (const char* bad :
       {"", "staff:x:50", "staff:x:50:a:b", ":x:50:", "staff:x:fifty:", "staff:x:+50:", "staff:x:4294967295:"}) {
    INFO(bad);
    CHECK_FALSE(parse_group_line(bad));
  }
}

TEST_CASE("nsswitch.conf: who answers for a database", "[user_db]") {
  using O = NssOrder;
  struct Case {
    const char* text;
    const char* db;
    O order;
  };
  const Case cases[] = {
      {"passwd: files\ngroup: files sss\n", "passwd", O::FilesOnly},
      {"passwd: files\ngroup: files sss\n", "group", O::FilesFirst},
      {"passwd:         files systemd\n", "passwd", O::FilesFirst},
      // Another source first may hold a name /etc/passwd also holds, with another id.
      {"passwd: sss files\n", "passwd", O::OthersFirst},
      {"passwd: compat\n", "passwd", O::OthersFirst},
      {"passwd:\n", "passwd", O::OthersFirst},
      // Status actions are not sources.
      {"passwd: files [NOTFOUND=return]\n", "passwd", O::FilesOnly},
      // As glibc 2.36 reads a line (review helper-52): '#' after its start is
      // a source name, the colon is optional, any isspace separates.
      {"passwd: files # ldap later\n", "passwd", O::FilesFirst},
      {"passwd: files#local systemd\n", "passwd", O::OthersFirst},
      {"passwd: files\npasswd systemd files\n", "passwd", O::OthersFirst},
      {"passwd: files\n\fpasswd:\vsystemd files\n", "passwd", O::OthersFirst},
      {"#passwd: ldap\npasswd: files\n", "passwd", O::FilesOnly},
      {"passwd: files [NOTFOUND=continue] ldap\n", "passwd", O::FilesFirst},
      // An action that lets a found entry go on: the other source has a say.
      {"passwd: files [SUCCESS=continue] ldap\n", "passwd", O::OthersFirst},
      {"group: files [SUCCESS=merge] sss\n", "group", O::OthersFirst},
      {"group: files [success=merge] sss\n", "group", O::OthersFirst},
      {"passwd: files [!NOTFOUND=continue] ldap\n", "passwd", O::OthersFirst},
      // The last line for a database is the one glibc uses.
      {"passwd: files\npasswd: ldap\n", "passwd", O::OthersFirst},
      {"passwd: ldap\npasswd: files\n", "passwd", O::FilesOnly},
      // Other databases whose names start alike do not count.
      {"passwdx: ldap\npasswd: files\n", "passwd", O::FilesOnly},
      {"passwd: files\npasswdx: ldap\n", "passwd", O::FilesOnly},
      {"  passwd\t:\tfiles\r\n", "passwd", O::FilesOnly},
      // No line at all: glibc's default reads the files first.
      {"hosts: files dns\n", "passwd", O::FilesFirst},
      {"", "group", O::FilesFirst},
  };
  for (const auto& c : cases) {
    INFO(c.db << " in: " << c.text);
    CHECK(nss_order(c.text, c.db) == c.order);
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
