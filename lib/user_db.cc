#include "lib/user_db.h"

#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "lib/fd.h"
#include "lib/fsutil.h"
#include "lib/supervise.h"

namespace gx::userdb {
namespace {

constexpr size_t kMaxAnswer = 64 * 1024;
constexpr int kDeadlineMs = 5000;

Decision unavailable(const std::string& detail, const std::string& value) {
  return Decision::deny(DenyReason::RunAsUnavailable, detail, "user", value);
}

// Restricts this process's passwd and group lookups to glibc's built-in
// "files" source, once: nothing may make a static glibc dlopen a module.
void files_only() {
  static std::once_flag once;
  std::call_once(once, [] {
    __nss_configure_lookup("passwd", "files");
    __nss_configure_lookup("group", "files");
  });
}

// isspace(3) in the C locale, as glibc reads nsswitch.conf.
bool space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

bool plain_key(const std::string& key) {
  if (key.empty() || key.size() > 256) return false;
  for (unsigned char c : key)
    if (c == ':' || c < 0x20 || c == 0x7f) return false;
  return true;
}

// (uid_t)-1: the "no change" value of setresuid(2), never an account's id.
constexpr uint32_t kNoId = UINT32_MAX;

// A decimal id other than kNoId.
std::optional<uint32_t> number(std::string_view s) {
  uint32_t v = 0;
  if (s.empty() || s.size() > 10) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == kNoId) return std::nullopt;
  return v;
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t colon = line.find(':', start);
    out.push_back(line.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    if (colon == std::string_view::npos) return out;
    start = colon + 1;
  }
}

// getent by absolute path, root-owned and writable by no one else.
Result<std::string> trusted_getent() {
  for (const char* path : {"/usr/bin/getent", "/bin/getent"}) {
    struct stat st {};
    if (stat(path, &st) != 0) continue;
    if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
      return unavailable(std::string(path) + " is not a root-owned file writable only by root: not asked", path);
    return std::string(path);
  }
  return unavailable("the name is not in /etc/passwd or /etc/group and getent(1) is not installed to ask NSS",
                     "getent");
}

struct Answer {
  std::string text;
  bool truncated = false;  // more than kMaxAnswer: the rest was read and dropped
};

// Whether `pid` ended by `deadline`: reaps it into `status`; false when it is
// still running then. An error (ECHILD: its status is lost) is an error.
Result<bool> reap_by(pid_t pid, int& status, std::chrono::steady_clock::time_point deadline, const std::string& key) {
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return unavailable("waitpid(getent): " + fs::errno_text(errno), key);
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::microseconds(50000));
  }
}

// Runs `getent DB -- KEY`: its answer, nullopt when getent says "not found"
// (exit 2), an error for anything else.
Result<std::optional<Answer>> ask_getent(const char* db, const std::string& key) {
  auto getent = trusted_getent();
  if (!getent) return getent.error();
  // An inherited SIG_IGN would have the kernel reap getent (waitpid: ECHILD).
  reset_ignored_sigchld();
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return unavailable("pipe2: " + fs::errno_text(errno), key);
  fs::UniqueFd read_end(out[0]), write_end(out[1]);
  // Every set-up step is checked: a silently dropped action would hand
  // getent gx's stdin or descriptors.
  posix_spawn_file_actions_t fa;
  if (int e = posix_spawn_file_actions_init(&fa); e != 0)
    return unavailable("posix_spawn_file_actions_init: " + fs::errno_text(e), key);
  posix_spawnattr_t attr;
  if (int e = posix_spawnattr_init(&attr); e != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return unavailable("posix_spawnattr_init: " + fs::errno_text(e), key);
  }
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  int err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (err == 0) err = posix_spawn_file_actions_adddup2(&fa, write_end.get(), 1);
  if (err == 0) err = posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  // Nothing of gx's reaches getent, close-on-exec or not (a broker worker holds sockets, the use store, the log).
  if (err == 0) err = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  if (err == 0) err = posix_spawnattr_setsigmask(&attr, &none);
  if (err == 0) err = posix_spawnattr_setsigdefault(&attr, &all);
  // Its own process group, so a deadline kills whatever it started too.
  if (err == 0) err = posix_spawnattr_setpgroup(&attr, 0);
  if (err == 0)
    err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::string db_arg(db), end_arg("--"), key_arg(key);
  char* argv[] = {getent->data(), db_arg.data(), end_arg.data(), key_arg.data(), nullptr};
  char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char lc_env[] = "LC_ALL=C";
  char* envp[] = {path_env, lc_env, nullptr};
  pid_t pid = -1;
  bool spawned = false;
  if (err == 0) {
    err = posix_spawn(&pid, getent->c_str(), &fa, &attr, argv, envp);
    spawned = err == 0;
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  write_end = fs::UniqueFd();  // only getent holds it now: its exit ends the answer
  if (!spawned) return unavailable("cannot run " + *getent + ": " + fs::errno_text(err), key);

  // One deadline for the answer and the exit: getent may close its stdout and go on.
  Answer answer;
  std::optional<std::string> failure;  // why the answer was not read to its end
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDeadlineMs);
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      failure = *getent + " " + db + " did not answer and exit within 5 s";
      break;
    }
    pollfd p{read_end.get(), POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) continue;  // the deadline is checked above
    if (n < 0) {
      failure = "poll on getent's output: " + fs::errno_text(errno);
      break;
    }
    char buf[4096];
    ssize_t got = read(read_end.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      failure = "reading getent's output: " + fs::errno_text(errno);
      break;
    }
    if (got == 0) break;
    size_t room = kMaxAnswer - answer.text.size();
    if (static_cast<size_t>(got) > room) answer.truncated = true;
    answer.text.append(buf, std::min(room, static_cast<size_t>(got)));
  }
  int status = 0;
  if (!failure) {
    auto ended = reap_by(pid, status, deadline, key);
    if (!ended) return ended.error();  // not ours to kill: someone reaped it, its group may be gone
    if (!*ended) failure = *getent + " " + db + " did not answer and exit within 5 s";
  }
  if (failure) {
    kill(-pid, SIGKILL);
    // Bounded: a getent stuck in the kernel (an NFS home, say) is left a
    // zombie rather than holding gx; the lookup fails either way.
    (void)reap_by(pid, status, std::chrono::steady_clock::now() + std::chrono::seconds(1), key);
    return unavailable(*failure, key);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2) return std::optional<Answer>();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return unavailable(*getent + " " + db + " failed (" +
                           (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                              : "signal " + std::to_string(WTERMSIG(status))) +
                           ")",
                       key);
  return std::optional<Answer>(std::move(answer));
}

Result<NssOrder> order_of(const char* db) {
  static const char* const kPath = "/etc/nsswitch.conf";
  struct stat st {};
  // No nsswitch.conf: glibc's built-in default reads the files first.
  if (stat(kPath, &st) != 0 && errno == ENOENT) return NssOrder::FilesFirst;
  // Any other failure (EIO, EMFILE, too large, not a file) may hide a line
  // that puts another source first: deny rather than guess.
  auto text = fs::read_file(kPath, 1 << 20);
  if (!text) return unavailable(text.error().detail + ", so who answers is unknown", kPath);
  return nss_order(*text, db);
}

// What getent says of `key` in `db`: its first line, nullopt for "not
// found". A group's line beyond kMaxAnswer keeps only "name:passwd:gid:".
Result<std::optional<std::string>> getent_line(const char* db, const std::string& key) {
  auto answer = ask_getent(db, key);
  if (!answer) return answer.error();
  if (!*answer) return std::optional<std::string>();
  std::string line((*answer)->text.substr(0, (*answer)->text.find('\n')));
  if ((*answer)->truncated && line.size() == (*answer)->text.size()) {
    auto f = fields(line);
    if (std::string_view(db) != "group" || f.size() < 4)
      return unavailable(std::string("getent ") + db + " answered more than 64 KiB", key);
    line = std::string(f[0]) + ":" + std::string(f[1]) + ":" + std::string(f[2]) + ":";
  }
  return std::optional<std::string>(std::move(line));
}

Decision malformed(const char* db, const std::string& key) {
  return unavailable(std::string("getent ") + db + " answered a malformed line for '" + key + "'", key);
}

Decision another_entry(const char* db, const std::string& key) {
  return unavailable(std::string("getent ") + db + " answered another entry than '" + key + "'", key);
}

bool names(const std::string& line, const std::string& key) { return line.compare(0, key.size() + 1, key + ":") == 0; }

Result<std::optional<User>> user_from_getent(const std::string& key, std::optional<uid_t> id) {
  auto line = getent_line("passwd", key);
  if (!line) return line.error();
  if (!*line) return std::optional<User>();
  auto user = parse_passwd_line(**line);
  if (!user) return malformed("passwd", key);
  if (id ? user->uid != *id : !names(**line, key)) return another_entry("passwd", key);
  return std::optional<User>(std::move(*user));
}

Result<std::optional<gid_t>> group_from_getent(const std::string& key) {
  auto line = getent_line("group", key);
  if (!line) return line.error();
  if (!*line) return std::optional<gid_t>();
  auto gid = parse_group_line(**line);
  if (!gid) return malformed("group", key);
  if (!names(**line, key)) return another_entry("group", key);
  return std::optional<gid_t>(*gid);
}

// One reentrant lookup in "files" (getpwnam_r and kin) with a buffer that
// grows on ERANGE. nullopt: not found (getpwnam_r(3): 0, ENOENT, ESRCH,
// EBADF and EPERM all mean that); any other error denies.
template <typename Entry, typename Out, typename Call>
Result<std::optional<Out>> files_lookup(const std::string& what, const std::string& key, Call call) {
  files_only();
  std::vector<char> buf(4096);
  for (;;) {
    Entry entry{};
    Entry* found = nullptr;
    int err = call(&entry, buf.data(), buf.size(), &found);
    if (err == ERANGE && buf.size() < (1U << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (found != nullptr) {
      // (uid_t)-1 is no account's id (as in number()); such a line is refused.
      if constexpr (std::is_same_v<Entry, passwd>) {
        if (entry.pw_uid == kNoId || entry.pw_gid == kNoId)
          return unavailable(what + " has id 4294967295 in /etc/passwd, which no account may have", key);
        return std::optional<Out>(User{entry.pw_uid, entry.pw_gid, entry.pw_dir ? entry.pw_dir : ""});
      } else {
        if (entry.gr_gid == kNoId)
          return unavailable(what + " has id 4294967295 in /etc/group, which no account may have", key);
        return std::optional<Out>(entry.gr_gid);
      }
    }
    if (err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM) return std::optional<Out>();
    return unavailable("cannot look up " + what + ": " + fs::errno_text(err), key);
  }
}

// One lookup as nsswitch.conf orders it (the header's rule 2).
template <typename Out, typename Files, typename Getent>
Result<std::optional<Out>> ordered(const char* db, Files files, Getent getent) {
  auto read = order_of(db);
  if (!read) return read.error();
  NssOrder order = *read;
  if (order == NssOrder::OthersFirst) return getent();
  auto found = files();
  if (!found || *found || order == NssOrder::FilesOnly) return found;
  return getent();
}

}  // namespace

std::optional<User> parse_passwd_line(const std::string& line) {
  auto f = fields(line);
  if (f.size() != 7 || f[0].empty()) return std::nullopt;
  auto uid = number(f[2]);
  auto gid = number(f[3]);
  if (!uid || !gid) return std::nullopt;
  return User{*uid, *gid, std::string(f[5])};
}

std::optional<gid_t> parse_group_line(const std::string& line) {
  auto f = fields(line);
  if (f.size() != 4 || f[0].empty()) return std::nullopt;
  auto gid = number(f[2]);
  if (!gid) return std::nullopt;
  return *gid;
}

NssOrder nss_order(const std::string& text, const std::string& db) {
  // Each line for `db` replaces the one before (glibc keeps the last).
  std::optional<std::string_view> services;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line(text.data() + pos, (eol == std::string::npos ? text.size() : eol) - pos);
    pos = eol == std::string::npos ? text.size() : eol + 1;
    // As glibc 2.36's process_line reads it: leading space skipped; the
    // name ends at a space or ':'; spaces and colons after it skipped; no
    // comment after the start of a line ("files#x" is a source, not files).
    size_t at = 0;
    while (at < line.size() && space(line[at])) ++at;
    size_t end = at;
    while (end < line.size() && !space(line[end]) && line[end] != ':') ++end;
    if (line.substr(at, end - at) != db) continue;
    while (end < line.size() && (space(line[end]) || line[end] == ':')) ++end;
    services = line.substr(end);
  }
  // No line: glibc's built-in default, "files" in Debian's 2.36 ("compat
  // [NOTFOUND=return] files" in older builds), reads the files first.
  if (!services) return NssOrder::FilesFirst;
  // Sources and [STATUS=action] items, in order.
  std::vector<std::string_view> items;
  std::string_view rest = *services;
  size_t i = 0;
  while (i < rest.size()) {
    if (space(rest[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    if (rest[i] == '[') {
      end = rest.find(']', i);
      end = end == std::string_view::npos ? rest.size() : end + 1;
    } else {
      while (end < rest.size() && !space(rest[end]) && rest[end] != '[') ++end;
    }
    items.push_back(rest.substr(i, end - i));
    i = end;
  }
  bool files_only = true;
  for (auto item : items)
    if (item.front() != '[' && item != "files") files_only = false;
  if (items.empty() || items.front() != "files") return NssOrder::OthersFirst;
  if (files_only) return NssOrder::FilesOnly;
  // An action after files that lets a found entry go on to the next source
  // (SUCCESS=continue or merge, or a negated status that covers SUCCESS).
  // glibc reads status names case-insensitively.
  if (items.size() > 1 && items[1].front() == '[') {
    std::string action(items[1]);
    std::transform(action.begin(), action.end(), action.begin(), [](unsigned char c) { return std::toupper(c); });
    if (action.find("SUCCESS") != std::string::npos || action.find('!') != std::string::npos)
      return NssOrder::OthersFirst;
  }
  return NssOrder::FilesFirst;
}

Result<std::optional<User>> user_by_name(const std::string& name) {
  if (!plain_key(name)) return std::optional<User>();
  return ordered<User>(
      "passwd",
      [&] {
        return files_lookup<passwd, User>("user '" + name + "'", name, [&](passwd* e, char* b, size_t n, passwd** f) {
          return getpwnam_r(name.c_str(), e, b, n, f);
        });
      },
      [&] { return user_from_getent(name, std::nullopt); });
}

Result<std::optional<User>> user_by_id(uid_t uid) {
  const std::string key = std::to_string(uid);
  return ordered<User>(
      "passwd",
      [&] {
        return files_lookup<passwd, User>("user id " + key, key, [&](passwd* e, char* b, size_t n, passwd** f) {
          return getpwuid_r(uid, e, b, n, f);
        });
      },
      [&] { return user_from_getent(key, uid); });
}

Result<std::optional<gid_t>> group_by_name(const std::string& name) {
  if (!plain_key(name)) return std::optional<gid_t>();
  return ordered<gid_t>(
      "group",
      [&] {
        return files_lookup<group, gid_t>("group '" + name + "'", name, [&](group* e, char* b, size_t n, group** f) {
          return getgrnam_r(name.c_str(), e, b, n, f);
        });
      },
      [&] { return group_from_getent(name); });
}

}  // namespace gx::userdb
