// Receipt: one record of gx's receipt log (format documented in docs/receipts.md).
//
// On disk a receipt is one line of JSON, written by ReceiptLog::append
// (lib/receipt_log.h). Every field below is always present (format v1 has no
// optional fields), keys are sorted, and the line is exactly
// nlohmann::json::dump() of the object (compact, UTF-8, control characters
// escaped), so a line never contains a raw newline and one record has one
// spelling. Exactly which bytes are hashed and signed:
//
//   signed body  = dump() of the record with the "sig" key removed
//   "sig"        = base64(DER ECDSA P-256 over PAE(crypto::kReceiptType, body))
//   leaf hash    = SHA-256(0x00 || line), line = the record's bytes without "\n"
//   "prev"       = hex leaf hash of the previous line; 64 "0"s for line 1
//
// Strings that are not valid UTF-8 (an argv element can be any bytes) are
// written with U+FFFD replacing each invalid byte: the receipt records what
// was run as text, the executable digest records it exactly.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Receipt times (Receipt::time) are lib/clock.h's format_receipt_time.
#include "lib/clock.h"
#include "lib/decision.h"
#include "lib/host.h"

namespace gx {

inline constexpr int kReceiptVersionOldest = 1;
// v2 adds the "not-started" decision and the "descendants_killed" field;
// v3 adds "brokered", "peer_uid", "peer_gid", "peer_pid" (who asked a
// broker, as the kernel reported it) and "lineage" (the verified artifact
// chain above this one). v1 and v2 lines stay valid (and keep their spelling).
inline constexpr int kReceiptVersionCurrent = 3;
// A line longer than this is refused by append (LogUnavailable) and is a bad
// record for verify: argv is bounded by the kernel well below it.
inline constexpr size_t kReceiptMaxLineBytes = 4 * 1024 * 1024;
// Field bounds (bound_fields): a string field longer than kReceiptMaxFieldBytes
// keeps its start and ends in "...[gx: cut: N bytes, sha256 H]" (N and H of
// the whole original value); argv keeps whole elements up to
// kReceiptMaxArgvBytes and replaces the rest by one element
// "[gx: cut: K more arguments, N bytes, sha256 H]" (H over the cut elements,
// each followed by a NUL byte); a sandbox summary longer than
// kReceiptMaxSandboxBytes becomes {"cut":{"length":N,"sha256":H}}. JSON
// escaping can grow a byte to 6, so a bounded receipt stays far below
// kReceiptMaxLineBytes.
inline constexpr size_t kReceiptMaxFieldBytes = 4096;
inline constexpr size_t kReceiptMaxArgvBytes = 64 * 1024;
inline constexpr size_t kReceiptMaxSandboxBytes = 256 * 1024;
// "prev" of the first record.
inline constexpr std::string_view kGenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";
// Formerly set by gx for its child and trusted by a nested gx as its parent
// receipt. Forgeable, so no longer set, read or passed on: gx strips it
// (and GX_PARENT_ARTIFACT) from every child's environment.
inline constexpr std::string_view kParentReceiptEnv = "GX_PARENT_RECEIPT";

enum class ReceiptKind {
  Authorized,  // written and fsynced before the child is executed
  Finished,    // after the child ended: exit status and resource use
  Denied,      // every denial, with its reason code
  Recovered,   // written by the log itself after moving a torn tail away
  NotStarted,  // v2: authorized, but the program never started (confinement or
               // exec failed, or the child died before its exec completed)
};
std::string_view kind_name(ReceiptKind k);  // "authorized", "finished", ...
// The kind a name spells (kind_name's inverse); nullopt for any other string.
std::optional<ReceiptKind> kind_from_name(std::string_view name);

struct Receipt {
  int version = kReceiptVersionCurrent;
  // Filled by ReceiptLog::append (values set by the caller are replaced):
  uint64_t seq = 0;    // 1-based position in the log == its line number
  std::string id;      // 32 random lowercase hex digits
  std::string time;    // UTC, RFC 3339 with microseconds: "2026-11-29T21:16:50.123456Z"
  std::string prev;    // leaf hash of the previous line (kGenesisHash for the first)
  std::string key_id;  // "sha256:<hex>" of the receipt public key
  std::string sig;     // base64 DER signature (see above)

  // Filled by the caller (the make_* helpers set decision/reason/detail):
  ReceiptKind decision = ReceiptKind::Denied;
  std::string reason = "allow";  // reason code (decision.h); "allow" unless denied
  std::string detail;            // Decision::explain() of a denial, or a note
  std::string authorized_id;     // finished: id of its authorized receipt; else ""
  // Receipt id of the enclosing governed run, set only by a supervisor that
  // owns that run (never from the environment); "" otherwise, including a
  // local run whose artifact chain was verified from --parent files.
  std::string parent;
  std::string artifact_id;
  std::string artifact_digest;       // "sha256:<hex>" of the artifact body
  std::vector<std::string> signers;  // key ids whose signatures counted
  std::string issuer;
  std::string host;
  int64_t uid = -1;
  int64_t pid = 0;  // the gx process that decided
  std::vector<std::string> argv;
  std::string exe_path;
  std::string exe_digest;
  std::string cwd;
  nlohmann::json sandbox = nlohmann::json::object();  // summary of what was applied
  // finished only (defaults elsewhere):
  int64_t child_pid = 0;
  int64_t exit_code = -1;  // -1 when the child did not exit normally
  int64_t signal = 0;      // terminating signal, 0 when none
  int64_t wall_us = 0;
  int64_t user_cpu_us = 0;
  int64_t sys_cpu_us = 0;
  int64_t max_rss_kb = 0;  // peak resident set size
  // v2, finished only: descendants still alive when the child exited, which
  // gx then terminated (SIGTERM, grace, SIGKILL) before this receipt.
  int64_t descendants_killed = 0;
  // v3: a run asked of `gx broker`: the caller as SO_PEERCRED reported it
  // (uid, gid, pid at connect time). Unbrokered: false, -1, -1, 0. In a
  // brokered receipt "uid" and "pid" are the broker's own (who decided).
  bool brokered = false;
  int64_t peer_uid = -1;
  int64_t peer_gid = -1;
  int64_t peer_pid = 0;
  // v3: digests of the verified artifact chain above artifact_digest, parent
  // first, root last; empty for an artifact without a parent (lib/lineage.h).
  std::vector<std::string> lineage;

  // Cuts over-long fields (see the bounds above) so that every decision,
  // however large its input, fits in one receipt. append() calls it.
  void bound_fields();

  // The full record as JSON (including "sig").
  nlohmann::json to_json() const;
  // The record's line (without "\n"): the canonical dump of to_json().
  std::string line() const;
  // The bytes the signature covers: the canonical dump without "sig" (what
  // a verifier dumps from the parsed line, "sig" erased).
  std::string signed_body() const;
  // Both from one serialization (what append() signs, then writes; line()
  // and signed_body() are made from it): the canonical dump without "sig"
  // split where "sig" sorts.
  struct Text {
    std::string head;  // "{" and the fields before "sig"
    std::string tail;  // the fields after "sig" and "}"
    bool head_empty = true, tail_empty = true;
    std::string body() const;
    std::string line_with(std::string_view sig) const;
  };
  Text text() const;
  // to_json() without "sandbox" (text() splices the summary in itself).
  nlohmann::json fields_without_sandbox() const;
  // Strict: every field present with its type, no unknown field, known
  // version, decision and reason code. Does not check the signature.
  static Result<Receipt> from_json(const nlohmann::json& j);
  // The checks from_json makes beyond each field's type (and beyond the
  // decision being a known name): the decision exists in this version, the
  // reason is a known code, id, prev and time are well formed. Shared by
  // every reader (lib/receipt_line.h).
  Decision check_values() const;
};

// What the child did, for a finished receipt.
struct RunOutcome {
  int64_t child_pid = 0;
  int64_t exit_code = -1;
  int64_t signal = 0;
  int64_t wall_us = 0;
  int64_t user_cpu_us = 0;
  int64_t sys_cpu_us = 0;
  int64_t max_rss_kb = 0;
  int64_t descendants_killed = 0;
};
// From wait4(2)'s status and rusage plus the measured wall time.
RunOutcome outcome_from_wait(int64_t child_pid, int wait_status, const struct rusage& usage, int64_t wall_us);

// A receipt with the facts about this process filled in: host
// (gethostname), uid (getuid), pid (getpid), cwd (getcwd). The caller adds
// the invocation, the artifact and (a supervisor only) the parent.
Receipt receipt_for_this_process();
// The same, from a HostIdentity already read (HostIdentity::current()).
Receipt receipt_for_host(const HostIdentity& host);
// Kind-specific helpers: each takes the subject (invocation fields filled)
// and sets decision, reason and the kind's own fields.
Receipt make_authorized(Receipt subject);
Receipt make_denied(Receipt subject, const Decision& why);
Receipt make_finished(Receipt subject, std::string authorized_id, const RunOutcome& outcome);
// Authorized, then the program never started: reason and detail from `why`,
// child_pid/exit_code/signal from `outcome` (how the child that failed ended).
Receipt make_not_started(Receipt subject, std::string authorized_id, const Decision& why, const RunOutcome& outcome);

// Leaf hash of a line (without its "\n"): hex SHA-256(0x00 || line).
std::string receipt_leaf_hash(std::string_view line);
// Canonical serialisation used for lines, signed bodies and checkpoints.
std::string canonical_dump(const nlohmann::json& j);
// canonical_dump(j) of a value that recurs: a run's sandbox summary is in
// both of its receipts, and a broker worker's runs of one artifact share it
// (~1.8 KB of nested JSON, most of a receipt's serialization cost). The last
// value dumped is kept process-wide with its text; a value that is the same
// JSON -- same types all the way down (1 and 1.0 differ, as their dumps do),
// numbers equal bit for bit (0.0 and -0.0 differ), same strings, keys and
// order -- gets that text again without a dump. Anything else is dumped and
// kept instead. Thread-safe; a thread that finds the memo in use (or a
// forked child whose parent held it) just dumps.
std::string canonical_dump_recurring(const nlohmann::json& j);

// How deeply a receipt line may nest arrays and objects. gx writes at most a
// handful of levels (the sandbox summary); a deeper line is not a receipt.
inline constexpr size_t kReceiptMaxDepth = 64;
// Parses one log line (without "\n") as JSON for a reader: discarded
// (is_discarded()) when it is not JSON or nests deeper than
// kReceiptMaxDepth. Every reader of the log parses through this: nlohmann's
// parser is iterative but dump() and copying recurse once per level, so a
// line of ~200 KB of "[" would overflow the stack of canonical_dump or
// Receipt::from_json (a crash of gx run's reconciliation, gx log verify, gx
// log show) instead of reporting a bad record.
nlohmann::json parse_receipt_line(std::string_view line);

}  // namespace gx
