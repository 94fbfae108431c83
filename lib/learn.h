// gx learn: derive the minimal sandbox a command needed from ONE observed run.
//
// learn() builds the same template `gx init` would (make_template), matches
// the invocation exactly as `gx run` would (match_invocation: sealed memfd,
// filtered environment, canonical cwd), then RUNS THE COMMAND FOR REAL under
// observation (lib/learn_observe.h: seccomp user notification, no denial, no
// Landlock) and narrows/widens the template's sandbox to what the run did:
//
//   groups          "default" always; a further named group when the run used
//                   at least kGroupMinUsed of its syscalls outside "default"
//                   (greedy cover); "network" whenever TCP was used
//   allow_syscalls  every other used syscall by name, except dangerous ones
//                   (seccomp/syscall_groups.h), which are added only with
//                   allow_dangerous (and a warning + a comment in the body),
//                   and probed ones (clone3, io_uring_*), which are left to
//                   their ENOSYS fallback unless allow_dangerous
//   read            the template's system trees, plus files/directories read
//                   outside them (kCollapseFiles or more files read in one
//                   directory collapse to that directory)
//   write           /dev/null, plus files opened for writing, plus the
//                   directory of every file/dir created, removed or renamed
//   exec            binaries executed by the command's children, their ELF
//                   loaders and #! interpreters (the main executable runs from
//                   gx's memfd and needs none)
//   network         tcp with the observed connect/bind ports when an
//                   AF_INET/AF_INET6 stream socket was created, else none
//
// Learning observes one run: branches the run did not take (other inputs,
// errors, a first-run cache) are denied later. The command is NOT confined
// while it is learned; learning is no security boundary, the artifact must
// be reviewed before it is signed. gx's own files (ProtectedPaths) and PEM
// private keys are never turned into grants; each skip is a warning. A
// learned read/write directory that merely contains them is kept (gx run
// expands it around them, lib/landlock.h), with a warning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "lib/artifact.h"
#include "lib/artifact_template.h"
#include "lib/confine.h"
#include "lib/decision.h"
#include "lib/landlock.h"

namespace gx {

// ---- pure parts (unit-tested) ------------------------------------------

enum class Grant { Read, Write, Exec };

// One access the run made, already turned into the grant it needs: `path`
// is canonical and absolute; `directory` says whether it names a directory
// (a grant on it covers everything beneath).
struct PathAccess {
  std::string path;
  Grant grant = Grant::Read;
  bool directory = false;
  auto operator<=>(const PathAccess&) const = default;
};

// What an open(2)/openat(2)/openat2(2) with these flags needs, given whether
// the path exists (following symlinks) and is a directory at syscall entry.
enum class OpenNeed {
  None,         // O_PATH, or the open is bound to fail (ENOENT, EISDIR, EEXIST)
  Read,         // read_file on the file
  ReadDir,      // read_dir on the directory
  WriteFile,    // write_file (and truncate) on the file
  WriteDir,     // O_TMPFILE: make_reg on the directory itself
  CreateInDir,  // O_CREAT of a new file: make_reg on its parent directory
};
OpenNeed classify_open(uint64_t flags, bool exists, bool is_dir);

inline constexpr size_t kCollapseFiles = 3;

struct PathGrants {
  std::vector<std::string> read, write, exec;  // sorted, without the base entries
};
// Turns observed accesses into compact grants: drops what `base` (the
// template's read/write/exec) already covers and what another grant covers
// (write covers read; a directory covers what lies beneath; an exec grant
// covers reading that file), and collapses kCollapseFiles or more files with
// the same grant in one directory into that directory.
PathGrants compact_paths(const std::vector<PathAccess>& seen, const SandboxPolicy& base);

inline constexpr size_t kGroupMinUsed = 2;

struct SyscallChoice {
  std::vector<std::string> groups;          // "default" first
  std::vector<std::string> allow_syscalls;  // sorted
  std::vector<std::string> dangerous;       // used and dangerous (added only if allowed)
  std::vector<std::string> probed;          // used and probed (clone3, io_uring_*)
  std::vector<std::string> unknown;         // names no x86-64 table knows (never added)
  std::vector<std::string> never;           // used, and never allowed (openat2: ENOSYS)
};
// `used` are x86-64 syscall names. exact: no group beyond "default" (and
// "network" when tcp), every other syscall by name.
SyscallChoice choose_syscalls(const std::set<std::string>& used, bool tcp, bool exact, bool allow_dangerous);

// The ioctl allowlist entries for the requests a run used: requests in the
// always-allowed "default" set need nothing; a request in an ioctl group
// adds the group; any other is named (or written as 0x..). TIOCSTI and
// TIOCLINUX are never allowed: they go to `refused`.
struct IoctlChoice {
  std::vector<std::string> groups;  // sorted
  std::vector<std::string> ioctls;  // sorted
  std::vector<std::string> refused;
};
IoctlChoice choose_ioctls(const std::set<uint32_t>& used);

// The "[sandbox]" table of a rendered artifact body, up to the next table.
std::string sandbox_table(const std::string& body);

// ---- one observed run (filled by lib/learn_observe.h) -------------------

struct Observation {
  std::set<std::string> syscalls;  // x86-64 names, after the command started
  std::vector<PathAccess> paths;   // deduplicated, in first-seen order
  bool tcp = false;                // an AF_INET/AF_INET6 TCP socket was created
  std::set<uint16_t> connect_tcp, bind_tcp;
  std::set<uint32_t> ioctls;           // ioctl request numbers (low 32 bits)
  std::set<std::string> unix_sockets;  // named AF_UNIX sockets connected to or bound
  bool unix_socket_created = false;    // socket(AF_UNIX, ...) was called
  std::vector<std::string> notes;      // things the learned sandbox will still deny
  int wait_status = 0;                 // of the command (waitpid)
  uint64_t notifications = 0;          // syscalls seen
};

// ---- the whole operation ------------------------------------------------

struct LearnRequest {
  TemplateRequest tmpl;          // as for gx init (argv, cwd, PATH, validity...)
  std::vector<std::string> env;  // the caller's NAME=VALUE; filtered like gx run
  ProtectedPaths protect;        // gx's state, trust store, keys: never granted
  bool allow_dangerous = false;
  bool exact_syscalls = false;
  bool stdout_to_stderr = false;  // the command's stdout goes to gx's stderr
  InheritedSignals signals;       // the caller's ignored and blocked signals (lib/confine.h)
};

struct LearnResult {
  Artifact artifact;  // unsigned; body rendered and re-parsed
  Observation observed;
  std::vector<std::string> warnings;  // one line each, for stderr
  int exit_status = 0;                // the command's, shell convention (128+N: signal N)
};

// Runs the command once, for real. Denies (nothing learned) when the
// template or match fails, observation is unavailable (no seccomp user
// notification), or the learned sandbox would reach gx's protected paths.
Result<LearnResult> learn(const LearnRequest& req);

}  // namespace gx
