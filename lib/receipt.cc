#include "lib/receipt.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>

#include "lib/crypto.h"
#include "lib/host.h"
#include "lib/receipt_members.h"

namespace gx {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<ReceiptKind, std::string_view>, 5> kKinds = {{
    {ReceiptKind::Authorized, "authorized"},
    {ReceiptKind::Finished, "finished"},
    {ReceiptKind::Denied, "denied"},
    {ReceiptKind::Recovered, "recovered"},
    {ReceiptKind::NotStarted, "not-started"},  // v2
}};

// Every key of a version; from_json rejects anything else (a record has one
// meaning, and one spelling per version).
const std::set<std::string>& known_keys(int64_t version) {
  static const std::set<std::string> v1 = {
      "version",     "seq",        "id",        "time",          "prev",      "key_id",      "sig",
      "decision",    "reason",     "detail",    "authorized_id", "parent",    "artifact_id", "artifact_digest",
      "signers",     "issuer",     "host",      "uid",           "pid",       "argv",        "exe_path",
      "exe_digest",  "cwd",        "sandbox",   "child_pid",     "exit_code", "signal",      "wall_us",
      "user_cpu_us", "sys_cpu_us", "max_rss_kb"};
  static const std::set<std::string> v2 = [] {
    auto k = v1;
    k.insert("descendants_killed");
    return k;
  }();
  static const std::set<std::string> v3 = [] {
    auto k = v2;
    k.insert({"brokered", "peer_uid", "peer_gid", "peer_pid", "lineage"});
    return k;
  }();
  return version >= 3 ? v3 : version >= 2 ? v2 : v1;
}

Decision bad(DenyReason r, const std::string& key, const std::string& what) {
  return Decision::deny(r, "receipt field '" + key + "' " + what, key);
}

// Typed field readers; each returns a denial naming the key.
Decision get(const json& j, const std::string& key, std::string& out) {
  const json& v = j.at(key);
  if (!v.is_string()) return bad(DenyReason::WrongType, key, "is not a string");
  out = v.get<std::string>();
  return Decision::allow();
}
Decision get(const json& j, const std::string& key, int64_t& out) {
  const json& v = j.at(key);
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return bad(DenyReason::InvalidValue, key, "is out of range");
    out = static_cast<int64_t>(v.get<uint64_t>());
    return Decision::allow();
  }
  if (!v.is_number_integer()) return bad(DenyReason::WrongType, key, "is not an integer");
  out = v.get<int64_t>();
  return Decision::allow();
}
Decision get(const json& j, const std::string& key, std::vector<std::string>& out) {
  const json& v = j.at(key);
  if (!v.is_array()) return bad(DenyReason::WrongType, key, "is not an array");
  out.clear();
  for (const auto& e : v) {
    if (!e.is_string()) return bad(DenyReason::WrongType, key, "has a non-string element");
    out.push_back(e.get<std::string>());
  }
  return Decision::allow();
}

Decision get(const json& j, const std::string& key, bool& out) {
  const json& v = j.at(key);
  if (!v.is_boolean()) return bad(DenyReason::WrongType, key, "is not a boolean");
  out = v.get<bool>();
  return Decision::allow();
}

bool is_lower_hex(std::string_view s, size_t len) {
  if (s.size() != len) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string cut_marker(size_t length, const std::string& sha) {
  return "...[gx: cut: " + std::to_string(length) + " bytes, sha256 " + sha + "]";
}

// Keeps the start of s (never splitting a UTF-8 sequence) plus the marker.
void bound(std::string& s, size_t limit) {
  if (s.size() <= limit) return;
  const std::string marker = cut_marker(s.size(), crypto::sha256_hex(s));
  size_t keep = limit > marker.size() ? limit - marker.size() : 0;
  while (keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
  s.resize(keep);
  s += marker;
}

}  // namespace

void Receipt::bound_fields() {
  for (std::string* f : {&detail, &reason, &authorized_id, &parent, &artifact_id, &artifact_digest, &issuer, &host,
                         &exe_path, &exe_digest, &cwd})
    bound(*f, kReceiptMaxFieldBytes);
  auto bound_list = [](std::vector<std::string>& list, size_t budget) {
    size_t used = 0, i = 0;
    for (; i < list.size(); ++i) {
      bound(list[i], kReceiptMaxFieldBytes);
      if (used + list[i].size() > budget) break;
      used += list[i].size();
    }
    if (i == list.size()) return;
    std::string rest;
    for (size_t k = i; k < list.size(); ++k) rest += list[k] + '\0';
    std::string note = "[gx: cut: " + std::to_string(list.size() - i) + " more arguments, " +
                       std::to_string(rest.size()) + " bytes, sha256 " + crypto::sha256_hex(rest) + "]";
    list.resize(i);
    list.push_back(std::move(note));
  };
  bound_list(argv, kReceiptMaxArgvBytes);
  bound_list(signers, kReceiptMaxArgvBytes);
  bound_list(lineage, kReceiptMaxArgvBytes);
  if (sandbox.is_object()) {
    std::string text = canonical_dump_recurring(sandbox);
    if (text.size() > kReceiptMaxSandboxBytes)
      sandbox = json{{"cut", {{"length", text.size()}, {"sha256", crypto::sha256_hex(text)}}}};
  }
}

std::string_view kind_name(ReceiptKind k) {
  for (const auto& [kind, name] : kKinds)
    if (kind == k) return name;
  return "unknown";
}

std::optional<ReceiptKind> kind_from_name(std::string_view name) {
  for (const auto& [kind, spelled] : kKinds)
    if (spelled == name) return kind;
  return std::nullopt;
}

std::string canonical_dump(const json& j) {
  // Compact, sorted keys (nlohmann objects are std::map), UTF-8 out; invalid
  // UTF-8 is replaced rather than throwing, so this never throws.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

// Same JSON, strictly: what nlohmann's == calls equal may dump differently
// (1 and 1.0, 0.0 and -0.0, 1 and 1u do not), so types must match exactly
// and floats bit for bit.
bool same_json(const json& a, const json& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case json::value_t::object: {
      if (a.size() != b.size()) return false;
      for (auto i = a.begin(), k = b.begin(); i != a.end(); ++i, ++k)
        if (i.key() != k.key() || !same_json(*i, *k)) return false;
      return true;
    }
    case json::value_t::array: {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i)
        if (!same_json(a[i], b[i])) return false;
      return true;
    }
    case json::value_t::number_float: {
      const double x = a.get<double>(), y = b.get<double>();
      return std::memcmp(&x, &y, sizeof x) == 0;
    }
    default: return a == b;  // null, boolean, string, integers of one signedness, binary
  }
}

struct RecurringDump {
  std::mutex lock;
  bool valid = false;
  json value;
  std::string text;
};
// Made before main and never destroyed: no lazy initialization a fork could
// catch half done, no exit-time destruction a late thread could outlive.
RecurringDump* const recurring_dump = new RecurringDump;

// The summary of a receipt whose sandbox is not an object (to_json's too).
const json kNoSandbox = json::object();

}  // namespace

std::string canonical_dump_recurring(const json& j) {
  RecurringDump& memo = *recurring_dump;
  {
    std::unique_lock<std::mutex> held(memo.lock, std::try_to_lock);
    if (held.owns_lock() && memo.valid && same_json(memo.value, j)) return memo.text;
  }
  // Dumped without the lock, so that another thread's lookup is not turned
  // away meanwhile.
  std::string text = canonical_dump(j);
  // A value too large for a receipt is cut to its digest (bound_fields): not
  // worth keeping a copy of.
  if (text.size() > kReceiptMaxSandboxBytes) return text;
  std::unique_lock<std::mutex> held(memo.lock, std::try_to_lock);
  if (!held.owns_lock()) return text;
  try {
    memo.valid = false;  // a copy that fails half way is never taken for the value
    memo.value = j;
    memo.text = text;
    memo.valid = true;
  } catch (...) {
    memo.valid = false;  // the text is still this call's answer
  }
  return text;
}

json parse_receipt_line(std::string_view line) {
  // Depth first, without parsing: brackets inside strings do not count.
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : line) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kReceiptMaxDepth) return json(json::value_t::discarded);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return json::parse(line, nullptr, false);
}

json Receipt::to_json() const {
  json j = fields_without_sandbox();
  j["sandbox"] = sandbox.is_object() ? sandbox : kNoSandbox;
  return j;
}

namespace {

// The members as a JSON object (each value keeping its C++ type's JSON
// type), "sig" included, "sandbox" not.
class JsonMembers {
 public:
  JsonMembers(const Receipt& r, json& out) : r_(r), out_(out) {}
  void str(std::string_view key, std::string_view v) { out_[std::string(key)] = std::string(v); }
  template <class Integer>
  void num(std::string_view key, Integer v) {
    out_[std::string(key)] = v;
  }
  void boolean(std::string_view key, bool v) { out_[std::string(key)] = v; }
  void list(std::string_view key, const std::vector<std::string>& v) { out_[std::string(key)] = v; }
  void decision(std::string_view key, ReceiptKind v) { str(key, kind_name(v)); }
  void sandbox() {}
  void sig() { out_["sig"] = r_.sig; }

 private:
  const Receipt& r_;
  json& out_;
};

// The members in canonical_dump's spelling, written straight into the
// Text's head (up to "sig") and tail (after it), "sig" left out. Strings of
// printable ASCII other than '"' and '\\' are copied as they are, which is
// how nlohmann writes them; any other string (escapes, UTF-8, invalid bytes
// replaced by U+FFFD) goes through nlohmann's own serializer, so every byte
// is the one canonical_dump would write (receipt_test compares the two).
class TextMembers {
 public:
  TextMembers(const Receipt& r, Receipt::Text& t) : r_(r), t_(t), out_(&t.head) {}
  void str(std::string_view key, std::string_view v) {
    name(key);
    put(v);
  }
  template <class Integer>
  void num(std::string_view key, Integer v) {
    name(key);
    *out_ += std::to_string(v);
  }
  void boolean(std::string_view key, bool v) {
    name(key);
    *out_ += v ? "true" : "false";
  }
  void list(std::string_view key, const std::vector<std::string>& v) {
    name(key);
    *out_ += '[';
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) *out_ += ',';
      put(v[i]);
    }
    *out_ += ']';
  }
  void decision(std::string_view key, ReceiptKind v) { str(key, kind_name(v)); }
  // The summary spliced in as its own canonical dump, which recurs
  // (canonical_dump_recurring). A reference either way: `c ? sandbox :
  // json::object()` would copy the summary, which is what the memo spares.
  void sandbox() {
    name("sandbox");
    *out_ += canonical_dump_recurring(r_.sandbox.is_object() ? r_.sandbox : kNoSandbox);
  }
  // Where "sig" sorts: the head ends, the tail begins.
  void sig() {
    out_ = &t_.tail;
    first_ = true;
  }

 private:
  void name(std::string_view key) {
    if (!first_) *out_ += ',';
    first_ = false;
    *out_ += '"';
    *out_ += key;
    *out_ += "\":";
  }
  void put(std::string_view v) {
    const bool plain =
        std::all_of(v.begin(), v.end(), [](char c) { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\'; });
    if (!plain) {
      *out_ += canonical_dump(json(std::string(v)));
      return;
    }
    *out_ += '"';
    *out_ += v;
    *out_ += '"';
  }
  const Receipt& r_;
  Receipt::Text& t_;
  std::string* out_;
  bool first_ = true;
};

}  // namespace

json Receipt::fields_without_sandbox() const {
  json j = json::object();
  JsonMembers members(*this, j);
  receipt_members::visit(*this, members);
  return j;
}

std::string Receipt::line() const { return text().line_with(sig); }

std::string Receipt::signed_body() const { return text().body(); }

Receipt::Text Receipt::text() const {
  // The canonical dump of to_json() without "sig", cut where "sig" sorts,
  // written member by member (receipt_members::visit): building the JSON object and
  // dumping it cost ~15 us a receipt.
  Text t;
  t.head.reserve(1024);
  // push_back, not `head = "{"`: GCC 12 at -O3 reports a false -Wrestrict on
  // assigning a literal after reserve() (GCC bug 105329).
  t.head.push_back('{');
  TextMembers members(*this, t);
  receipt_members::visit(*this, members);
  t.head_empty = false;
  t.tail += '}';
  t.tail_empty = false;
  return t;
}

std::string Receipt::Text::body() const { return head + (head_empty || tail_empty ? "" : ",") + tail; }

std::string Receipt::Text::line_with(std::string_view sig) const {
  return head + (head_empty ? "" : ",") + "\"sig\":" + canonical_dump(json(std::string(sig))) +
         (tail_empty ? "" : ",") + tail;
}

Result<Receipt> Receipt::from_json(const json& j) {
  if (!j.is_object()) return Decision::deny(DenyReason::Malformed, "receipt is not a JSON object");
  int64_t version = 0, seq = 0;
  if (!j.contains("version")) return bad(DenyReason::MissingField, "version", "is missing");
  if (Decision d = get(j, "version", version); !d) return d;
  if (version < kReceiptVersionOldest || version > kReceiptVersionCurrent)
    return Decision::deny(DenyReason::UnsupportedVersion,
                          "receipt version " + std::to_string(version) + " is not supported", "version");
  const std::string vname = "v" + std::to_string(version);
  for (const auto& [key, value] : j.items())
    if (!known_keys(version).count(key))
      return bad(DenyReason::UnknownField, key, "is not a " + vname + " receipt field");
  for (const auto& key : known_keys(version))
    if (!j.contains(key)) return bad(DenyReason::MissingField, key, "is missing");

  Receipt r;
  std::string decision;
  for (Decision d : {get(j, "version", version),
                     get(j, "seq", seq),
                     get(j, "id", r.id),
                     get(j, "time", r.time),
                     get(j, "prev", r.prev),
                     get(j, "key_id", r.key_id),
                     get(j, "sig", r.sig),
                     get(j, "decision", decision),
                     get(j, "reason", r.reason),
                     get(j, "detail", r.detail),
                     get(j, "authorized_id", r.authorized_id),
                     get(j, "parent", r.parent),
                     get(j, "artifact_id", r.artifact_id),
                     get(j, "artifact_digest", r.artifact_digest),
                     get(j, "signers", r.signers),
                     get(j, "issuer", r.issuer),
                     get(j, "host", r.host),
                     get(j, "uid", r.uid),
                     get(j, "pid", r.pid),
                     get(j, "argv", r.argv),
                     get(j, "exe_path", r.exe_path),
                     get(j, "exe_digest", r.exe_digest),
                     get(j, "cwd", r.cwd),
                     get(j, "child_pid", r.child_pid),
                     get(j, "exit_code", r.exit_code),
                     get(j, "signal", r.signal),
                     get(j, "wall_us", r.wall_us),
                     get(j, "user_cpu_us", r.user_cpu_us),
                     get(j, "sys_cpu_us", r.sys_cpu_us),
                     get(j, "max_rss_kb", r.max_rss_kb)})
    if (!d) return d;
  if (version >= 2)
    if (Decision d = get(j, "descendants_killed", r.descendants_killed); !d) return d;
  if (version >= 3)
    for (Decision d : {get(j, "brokered", r.brokered), get(j, "peer_uid", r.peer_uid), get(j, "peer_gid", r.peer_gid),
                       get(j, "peer_pid", r.peer_pid), get(j, "lineage", r.lineage)})
      if (!d) return d;
  r.version = static_cast<int>(version);
  if (seq < 1) return bad(DenyReason::InvalidValue, "seq", "must be at least 1");
  r.seq = static_cast<uint64_t>(seq);
  const auto kind = kind_from_name(decision);
  if (!kind) return bad(DenyReason::InvalidValue, "decision", "is not a known " + vname + " decision");
  r.decision = *kind;
  if (Decision d = r.check_values(); !d) return d;
  if (!j.at("sandbox").is_object()) return bad(DenyReason::WrongType, "sandbox", "is not an object");
  r.sandbox = j.at("sandbox");
  return r;
}

Decision Receipt::check_values() const {
  if (decision == ReceiptKind::NotStarted && version < 2)
    return bad(DenyReason::InvalidValue, "decision", "is not a known v" + std::to_string(version) + " decision");
  if (!reason_from_code(reason)) return bad(DenyReason::InvalidValue, "reason", "is not a known reason code");
  if (!is_lower_hex(id, 32)) return bad(DenyReason::InvalidValue, "id", "is not 32 lowercase hex digits");
  if (!crypto::is_hex_sha256(prev)) return bad(DenyReason::InvalidValue, "prev", "is not a hex SHA-256");
  if (!parse_receipt_time(time)) return bad(DenyReason::InvalidValue, "time", "is not an RFC 3339 UTC time");
  return Decision::allow();
}

RunOutcome outcome_from_wait(int64_t child_pid, int wait_status, const struct rusage& usage, int64_t wall_us) {
  RunOutcome o;
  o.child_pid = child_pid;
  if (WIFEXITED(wait_status)) o.exit_code = WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) o.signal = WTERMSIG(wait_status);
  o.wall_us = wall_us;
  o.user_cpu_us = int64_t{usage.ru_utime.tv_sec} * 1000000 + usage.ru_utime.tv_usec;
  o.sys_cpu_us = int64_t{usage.ru_stime.tv_sec} * 1000000 + usage.ru_stime.tv_usec;
  o.max_rss_kb = usage.ru_maxrss;  // Linux reports kilobytes
  return o;
}

Receipt receipt_for_this_process() { return receipt_for_host(HostIdentity::current()); }

Receipt receipt_for_host(const HostIdentity& id) {
  Receipt r;
  r.host = id.hostname;
  r.uid = id.uid;
  r.pid = getpid();
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) != nullptr) r.cwd = cwd;
  return r;
}

Receipt make_authorized(Receipt subject) {
  subject.decision = ReceiptKind::Authorized;
  subject.reason = std::string(reason_code(DenyReason::None));
  return subject;
}

Receipt make_denied(Receipt subject, const Decision& why) {
  subject.decision = ReceiptKind::Denied;
  // A denied receipt always names a denial reason, even if handed an allow.
  Decision d = why.allowed() ? Decision::deny(DenyReason::IoError, "internal: denied without a reason") : why;
  subject.reason = std::string(d.code());
  subject.detail = d.explain();
  return subject;
}

Receipt make_finished(Receipt subject, std::string authorized_id, const RunOutcome& outcome) {
  subject.decision = ReceiptKind::Finished;
  subject.reason = std::string(reason_code(DenyReason::None));
  subject.authorized_id = std::move(authorized_id);
  subject.child_pid = outcome.child_pid;
  subject.exit_code = outcome.exit_code;
  subject.signal = outcome.signal;
  subject.wall_us = outcome.wall_us;
  subject.user_cpu_us = outcome.user_cpu_us;
  subject.sys_cpu_us = outcome.sys_cpu_us;
  subject.max_rss_kb = outcome.max_rss_kb;
  subject.descendants_killed = outcome.descendants_killed;
  return subject;
}

Receipt make_not_started(Receipt subject, std::string authorized_id, const Decision& why, const RunOutcome& outcome) {
  subject.decision = ReceiptKind::NotStarted;
  Decision d = why.allowed() ? Decision::deny(DenyReason::IoError, "internal: not started without a reason") : why;
  subject.reason = std::string(d.code());
  subject.detail = d.explain();
  subject.authorized_id = std::move(authorized_id);
  subject.child_pid = outcome.child_pid;
  subject.exit_code = outcome.exit_code;
  subject.signal = outcome.signal;
  subject.wall_us = outcome.wall_us;
  return subject;
}

std::string receipt_leaf_hash(std::string_view line) {
  // RFC 6962 leaf hash: the 0x00 prefix keeps leaves distinct from any future
  // interior (0x01) nodes if the log grows a Merkle tree.
  std::string buf;
  buf.reserve(line.size() + 1);
  buf.push_back('\0');
  buf.append(line);
  return crypto::sha256_hex(buf);
}

}  // namespace gx
