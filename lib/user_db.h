// Users and groups by name or id: the one place gx asks the system who a
// name is (run-as users and groups, the broker's allow-lists and socket
// group, the home directory behind the default paths).
//
// gx is linked as a static PIE (CMakeLists.txt, GX_STATIC_LIBC; start-up cost,
// docs/performance.md). A static glibc answers from its built-in "files"
// source (/etc/passwd, /etc/group) but cannot load NSS modules (systemd, sss,
// ldap, compat): glibc's dlopen from a static program crashes when the module
// needs the shared libc (`passwd: files systemd` and an unknown name was a
// segfault). So, in every build alike:
//   1. the process's passwd and group lookups use "files" only
//      (__nss_configure_lookup, the first time this module is used);
//   2. a name or id that "files" does not know, when nsswitch.conf names any
//      other source for the database, is asked of getent(1) -- a dynamically
//      linked program with the full NSS -- run by absolute path
//      (/usr/bin/getent or /bin/getent, root-owned and writable by no one
//      else, else the lookup is refused), with an environment of its own
//      (PATH and LC_ALL only: nothing of the caller's, no LD_PRELOAD), stdin
//      and stderr on /dev/null, no other descriptor of gx's, a 5 s deadline and a 64 KiB answer limit. Its
//      one line is parsed strictly and must name the key that was asked.
// An answer that cannot be had (getent missing or unsafe, killed, malformed)
// is an error, never "no such user": callers deny. Not found is nullopt.
// Thread-safe. Names are looked up as given (no case folding, no trimming);
// a name with ':' or a control character is not found without asking.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "lib/decision.h"

namespace gx::userdb {

struct User {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

Result<std::optional<User>> user_by_name(const std::string& name);
Result<std::optional<User>> user_by_id(uid_t uid);
Result<std::optional<gid_t>> group_by_name(const std::string& name);

// Exposed for tests: one getent(1) line, e.g. "alice:x:1000:1000::/home/alice:/bin/sh"
// (passwd) or "staff:x:50:alice,bob" (group). nullopt when malformed.
std::optional<User> parse_passwd_line(const std::string& line);
std::optional<gid_t> parse_group_line(const std::string& line);
// Whether an nsswitch.conf text names a source other than "files" for `db`
// ("passwd", "group"). A database with no line counts as having others
// (getent then answers with glibc's default, whatever it is).
bool has_other_sources(const std::string& nsswitch_text, const std::string& db);

}  // namespace gx::userdb
