// Users and groups by name or id: the one place gx asks the system who a
// name is (run-as users and groups, the broker's allow-lists, socket group
// and subuid owners, the home directory behind the default paths).
//
// gx is linked as a static PIE (CMakeLists.txt, GX_STATIC_LIBC; start-up cost,
// docs/performance.md). A static glibc answers from its built-in "files"
// source (/etc/passwd, /etc/group) but cannot load NSS modules (systemd, sss,
// ldap, compat): glibc's dlopen from a static program crashes when the module
// needs the shared libc (`passwd: files systemd` and an unknown name was a
// segfault). So, in every build alike:
//   1. the process's passwd and group lookups use "files" only
//      (__nss_configure_lookup, the first time this module is used);
//   2. the database's line in /etc/nsswitch.conf (the LAST one, read as
//      glibc 2.36 reads it: optional colon, any isspace, no comment after a
//      line's start) decides who answers, so the answer is the one the dynamic
//      glibc would give:
//        - "files" only: /etc/passwd or /etc/group, in process;
//        - "files" first (and no action after it that lets a found entry
//          go on: SUCCESS=..., a negated status), or no line at all (glibc's
//          default, "files" in Debian's 2.36, reads the same files):
//          the files, and getent(1) only for a key they do not hold;
//        - any other source first (e.g. "sss files"), or an empty line:
//          getent(1) alone, since an earlier source may hold the same
//          name with another id;
//      an nsswitch.conf that exists but cannot be read (EIO, EMFILE, over
//      1 MiB, not a regular file) is an error: it may put another source
//      first. Only a missing one (ENOENT) means glibc's default;
//   3. getent is run by absolute path (/usr/bin/getent or /bin/getent,
//      root-owned and writable by no one else, else the lookup is refused)
//      as `getent DB -- KEY`, with an environment of its own (PATH and
//      LC_ALL only: nothing of the caller's, no LD_PRELOAD), stdin and
//      stderr on /dev/null and no other descriptor of gx's. It has 5 s in
//      all (answer and exit) per lookup, then its process group (its own) is
//      killed; an answer over 64 KiB is refused (a group's member list
//      beyond that is dropped: only the name and gid are read). Its first line is parsed strictly and
//      must name the key asked (by name: exactly, case-sensitively; by id:
//      that id).
// An answer that cannot be had (getent missing or unsafe, killed, timed
// out, malformed, an exit status other than 0 and 2, its status lost, a
// failed spawn set-up, a poll or read error on its output) is an error, never
// "no such user": callers deny. After a kill gx waits at most 1 s more for
// getent's exit (one stuck in the kernel is left a zombie). Not found is nullopt. Caveat:
// getent exits 2 both for "no such key" and when a backend (LDAP, sssd) is
// down, so nullopt can mean "unavailable"; every caller treats a name it
// cannot resolve as a denial (run-as, allow-lists) or skips it (a subuid
// owner counts as its first uid, lib/broker_config.h), never as permission.
// Thread-safe, but getent is a child of this process: a thread that reaps
// any child (waitpid(-1)) meanwhile could take its status, and the lookup
// then fails (closed). gx resolves names before it starts the governed
// child. Names are looked up as given (no case folding, no trimming); a
// name with ':' or a control character is not found without asking. An
// inherited SIG_IGN for SIGCHLD is reset to SIG_DFL (reset_ignored_sigchld,
// lib/supervise.h): it would let the kernel reap getent and lose its status.
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
// (passwd) or "staff:x:50:alice,bob" (group). nullopt when malformed, or when
// an id is 4294967295 ((uid_t)-1, which no account may have).
std::optional<User> parse_passwd_line(const std::string& line);
std::optional<gid_t> parse_group_line(const std::string& line);

// Who answers for `db` ("passwd", "group") given an nsswitch.conf text (rule 2 above).
enum class NssOrder { FilesOnly, FilesFirst, OthersFirst };
NssOrder nss_order(const std::string& nsswitch_text, const std::string& db);

}  // namespace gx::userdb
