// The authorization artifact, format v1 (documented in man/gx-artifact.5).
//
// On disk an artifact is a signed envelope (lib/envelope.h): a TOML body,
// then [[signature]] tables
// (base64 DER ECDSA: strict DER, low S — crypto.h).
//
// The body is never re-serialised for signing: a signature covers the exact
// bytes PAE(crypto::kArtifactType, body), so verification happens on bytes
// before anything parsed from them is trusted, and no two parsers can
// disagree about what was signed. The artifact's identity (for replay,
// revocation and lineage) is digest() = "sha256:" + SHA-256(body), never a
// function of signature bytes.
//
// Parsing is strict and fails closed: unknown keys, duplicate keys or
// tables, wrong types, missing required fields, unknown versions, values out
// of range, paths not absolute and normalised (one spelling: no ".", "..",
// repeated or trailing slash) and inputs above kArtifactMaxBytes are each a
// Decision naming the field.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/clock.h"
#include "lib/decision.h"
#include "lib/envelope.h"

namespace gx {

inline constexpr int kArtifactVersionOldest = 1;
inline constexpr int kArtifactVersionCurrent = 1;
inline constexpr size_t kArtifactMaxBytes = 256 * 1024;
inline constexpr size_t kArtifactMaxSignatures = kMaxSignatures;

// Times are UnixTime, written "2026-11-29T21:16:50Z" (lib/clock.h).
// "15m", "2h", "1d", "90s", "1w" -> seconds.
std::optional<int64_t> parse_duration(std::string_view text);

// One argv element: an exact string (the default) or an explicit glob
// (fnmatch(3) without FNM_PATHNAME), written in TOML as { glob = "*.txt" }.
struct ArgPattern {
  std::string text;
  bool glob = false;
  bool matches(std::string_view arg) const;
};

// A file the command depends on, pinned by digest (environmental integrity).
// What a pin guarantees, and which files can be pinned: lib/invocation.h.
struct FilePin {
  std::string path;    // the file's real path
  std::string sha256;  // 64 lowercase hex digits
};

struct EnvPolicy {
  std::vector<std::string> allow;          // names that may pass, any value
  std::map<std::string, std::string> pin;  // names that must have exactly this value
  std::vector<std::string> require;        // names that must be present (any allowed value)
};

enum class SeccompDefault { Errno, Kill };
enum class NetMode { None, Tcp };

struct SandboxPolicy {
  // Syscall profile: named groups (seccomp/syscall_groups.h) plus extras.
  // Dangerous syscalls (ptrace, bpf, io_uring_*, ...) are in no group: they
  // are allowed only when listed by name in allow_syscalls.
  std::vector<std::string> groups = {"default"};
  std::vector<std::string> allow_syscalls;
  std::vector<std::string> deny_syscalls;
  SeccompDefault default_action = SeccompDefault::Errno;
  bool log_denials = false;  // SECCOMP_FILTER_FLAG_LOG, and Landlock audit logging on ABI >= 7
  // ioctl allowlist (seccomp/ioctls.h): the "default" set is always in
  // force; these add named sets and single requests (names or "0x..").
  std::vector<std::string> ioctl_groups;
  std::vector<std::string> ioctls;

  NetMode network = NetMode::None;
  std::vector<uint16_t> connect_tcp;  // with NetMode::Tcp
  std::vector<uint16_t> bind_tcp;
  // socket(AF_UNIX) is refused unless true (socketpair always works).
  // All or nothing: Landlock (ABI 7) cannot restrict connect() to named
  // sockets, so with true the child reaches every socket its uid can.
  bool unix_sockets = false;

  std::vector<std::string> read;   // read-only trees (Landlock)
  std::vector<std::string> write;  // read-write trees
  std::vector<std::string> exec;   // trees whose files may be executed
  // Exec paths (each also in `exec`) the artifact accepts to overlap a write
  // path; any other overlap is policy-mismatch (lib/landlock.h).
  std::vector<std::string> exec_writable;

  int min_landlock_abi = 1;  // deny (sandbox-unavailable) on an older kernel
  // Rights the artifact explicitly accepts as unenforced when the kernel's
  // Landlock ABI lacks them ("net", "truncate", "ioctl-dev", "scope", "refer").
  // Anything not listed here that cannot be enforced denies the run.
  std::vector<std::string> allow_downgrade;
};

struct Scope {
  std::string path;    // absolute path of the executable, as execvp resolves it
  std::string sha256;  // of the executable's content
  // Scripts ("#!"): the interpreter the kernel would run, pinned too.
  std::string interpreter;
  std::string interpreter_sha256;
  std::vector<ArgPattern> argv;  // argv[0] included
  std::string cwd;
  EnvPolicy env;
  SandboxPolicy sandbox;
  std::vector<FilePin> files;  // environmental integrity
};

// [run]: whose rights the child gets (lib/run_as.h). Empty user: no [run]
// table, the child runs as the caller (a brokered run: as the peer).
// Names are kept as written and resolved on the host at run time.
struct RunAs {
  std::string user;                       // user name or decimal uid
  std::string group;                      // group name or decimal gid; empty: the user's primary group
  std::vector<std::string> groups;        // supplementary groups; default none
  std::vector<std::string> capabilities;  // "CAP_NET_BIND_SERVICE", ...; default none
};

struct Bindings {
  std::optional<std::string> hostname;
  std::optional<std::string> machine_id;
  std::optional<uid_t> uid;
};

// [delegation]: what a parent lets its children be (lib/lineage.h has the
// rules). Without this table an artifact can have no children at all.
inline constexpr int kMaxDelegationDepth = 16;

struct DelegatedKey {
  std::string name;        // principal, for display
  std::string key_id;      // "sha256:..." == digest of public_key (checked when parsed)
  std::string public_key;  // SubjectPublicKeyInfo PEM of a P-256 key
};

// A program children may run beyond the parent's own executable and exec
// trees: exact path and digest; argv, when given, bounds the children's argv
// (same rules as for the parent's own argv), otherwise any argv.
struct DelegatedExecutable {
  std::string path;
  std::string sha256;
  std::optional<std::vector<ArgPattern>> argv;
};

struct Delegation {
  bool present = false;                          // the [delegation] table is there
  int max_depth = 1;                             // levels of descendants below this artifact, 1..kMaxDelegationDepth
  std::vector<DelegatedKey> keys;                // may sign children (besides this artifact's own signers)
  std::vector<DelegatedExecutable> executables;  // bounds for children's executables
  // Its command may ask the supervising gx for nested runs of its children
  // over a private channel (GX_CHANNEL, lib/nested_channel.h). A child may
  // set it only when its parent does.
  bool nested_runs = false;
};

struct Artifact {
  int version = kArtifactVersionCurrent;
  std::string id;  // unique, chosen by gx init (random hex)
  std::string issuer;
  std::string reason;
  std::string ticket;
  UnixTime issued_at = 0;
  UnixTime not_before = 0;
  UnixTime not_after = 0;
  Scope scope;
  std::string nonce;
  uint32_t max_uses = 1;
  Bindings bindings;
  RunAs run;
  std::string parent;  // lineage: digest of the parent artifact, or empty
  Delegation delegation;

  // Not part of the parsed body:
  std::string body;  // the exact signed bytes
  std::vector<Signature> signatures;

  std::string digest() const;  // "sha256:<hex of SHA-256(body)>"
};

// Strictly parses a body (no signatures may appear inside it).
Result<Artifact> parse_artifact_body(std::string_view body);

// The bodies a process parsed last and what they parsed to, for one that
// parses the same artifact again and again (a broker worker: toml++ takes
// ~0.13 ms a parse there, docs/performance.md). parse_artifact_body is a
// pure function of the bytes, so a hit -- the whole body compared, never a
// hash of it -- returns a copy of what parsing would. Only successful
// parses are kept, at most kEntries of them. The same for the signature
// block (parse_signatures, lib/envelope.h; ~12 us a request): the last one
// parsed. Not thread-safe.
class ArtifactParseMemo {
 public:
  static constexpr size_t kEntries = 2;
  Result<Artifact> parse(std::string_view body);
  Result<std::vector<Signature>> signatures(std::string_view block);
  size_t hits() const { return hits_; }

 private:
  std::vector<Artifact> kept_;  // most recent first; Artifact::body is the key
  std::optional<std::pair<std::string, std::vector<Signature>>> kept_signatures_;  // block, its parse
  size_t hits_ = 0;
};
// Renders a body for `gx init` / `gx learn`, with explanatory comments.
std::string render_artifact_body(const Artifact& a);

// Reads, bounds, splits and parses an artifact file without verifying it.
// For display and signing only: authorization goes through verify.h.
Result<Artifact> load_artifact_unverified(const std::string& path);

}  // namespace gx
