#include "lib/receipt_scan.h"

#include <algorithm>
#include <cerrno>
#include <deque>
#include <nlohmann/json.hpp>

#include "lib/receipt_line.h"
#include "lib/receipt_log_file.h"

namespace gx {

using nlohmann::json;
using receipt_file::LineReader;
using receipt_file::pread_all;
using receipt_file::read_tail;
using receipt_file::snapshot;

Result<ScanEnd> scan_receipts(int fd, const std::string& path, uint64_t from, uint64_t to, const ScanEnd& after,
                              const std::function<void(const ScannedReceipt&)>& each) {
  ScanEnd at = after;
  uint64_t pos = from;
  auto bad = [&](const std::string& why) {
    return Decision::deny(DenyReason::LogTampered,
                          path + " at byte " + std::to_string(pos) + " (seq " + std::to_string(at.seq + 1) +
                              "): " + why + "; run gx log verify",
                          "file", path);
  };
  std::string buf, line;
  constexpr size_t kChunk = 256 * 1024;
  uint64_t buf_at = from;  // file offset of buf[0]
  size_t used = 0;         // bytes of buf consumed
  while (pos < to) {
    // The next line: [pos, newline).
    size_t nl = buf.find('\n', used);
    while (nl == std::string::npos) {
      if (buf_at + buf.size() >= to) return bad("incomplete line before byte " + std::to_string(to));
      buf.erase(0, used);
      buf_at += used;
      used = 0;
      if (buf.size() > kReceiptMaxLineBytes)
        return bad("line longer than " + std::to_string(kReceiptMaxLineBytes) + " bytes");
      size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, to - buf_at - buf.size()));
      size_t old = buf.size();
      buf.resize(old + want);
      if (!pread_all(fd, buf.data() + old, want, static_cast<off_t>(buf_at + old)))
        return Decision::deny(DenyReason::LogUnavailable, "cannot read " + path + ": " + fs::errno_text(errno));
      nl = buf.find('\n', old);
    }
    line.assign(buf, used, nl - used);
    auto rec = read_receipt_fields(line);
    if (!rec) return bad(rec.error().detail);
    if (rec->seq != at.seq + 1) return bad("sequence number " + std::to_string(rec->seq));
    if (rec->prev != at.hash) return bad("hash link to the previous receipt is broken");
    at.seq = rec->seq;
    at.hash = receipt_leaf_hash(line);
    each(ScannedReceipt{rec->seq, rec->decision, rec->artifact_digest});
    used = nl + 1;
    pos = buf_at + used;
  }
  return at;
}

Result<ScanEnd> scan_receipt_log(const fs::OpenDir& state, uint64_t from, const ScanEnd& after,
                                 const std::function<void(const ScannedReceipt&)>& each) {
  const std::string log_path = state.path + "/" + std::string(kReceiptLogFile);
  auto snap = snapshot(state);
  if (!snap) return snap.error();
  const fs::UniqueFd& fd = snap->fd;
  off_t end = 0;
  if (fd.ok()) {
    auto tail = read_tail(fd.get(), snap->size);
    if (!tail) return tail.error();
    end = tail->complete_end;
  }
  if (static_cast<uint64_t>(end) < from)
    return Decision::deny(DenyReason::LogTampered,
                          log_path + " ends at byte " + std::to_string(end) + ", before byte " + std::to_string(from) +
                              " that the use store records as durable: the log was truncated",
                          "file", log_path);
  return scan_receipts(fd.get(), log_path, from, static_cast<uint64_t>(end), after, each);
}

Result<ReceiptListing> read_receipt_log(const std::string& state_dir, const ReceiptFilter& filter) {
  auto dir = fs::open_dir_readonly(state_dir);
  if (!dir) return dir.error();
  const std::string log_path = dir->path + "/" + std::string(kReceiptLogFile);
  auto snap = snapshot(*dir);
  if (!snap) return snap.error();
  const fs::UniqueFd& fd = snap->fd;
  ReceiptListing out;
  // A kept receipt, and its summary's text when the fast reader read it:
  // parsed only for the receipts that survive the filter's tail.
  struct Kept {
    Receipt receipt;
    std::string sandbox_text;
  };
  std::deque<Kept> kept;
  LineReader reader(fd.get(), snap->size);
  std::string line;
  bool terminated = false, too_long = false;
  while (reader.next(line, terminated, too_long)) {
    if (too_long || !terminated) {
      ++out.unreadable_lines;
      continue;
    }
    Kept k;
    if (auto fast = parse_canonical_line(line)) {
      k.receipt = std::move(fast->fields);
      if (filter.sandbox) k.sandbox_text = fast->sandbox_text(line);
    } else {
      json j = parse_receipt_line(line);
      auto rec =
          j.is_object() ? Receipt::from_json(j) : Result<Receipt>(Decision::deny(DenyReason::Malformed, "bad line"));
      if (!rec) {
        ++out.unreadable_lines;
        continue;
      }
      k.receipt = rec.take();
      if (!filter.sandbox) k.receipt.sandbox = json::object();
    }
    const Receipt& r = k.receipt;
    if (r.decision == ReceiptKind::Finished || r.decision == ReceiptKind::NotStarted)
      out.closed_runs.insert(r.authorized_id);
    if (filter.denied_only && r.decision != ReceiptKind::Denied) continue;
    if (!filter.artifact.empty() && r.artifact_id.rfind(filter.artifact, 0) != 0 &&
        r.artifact_digest.rfind(filter.artifact, 0) != 0)
      continue;
    if (filter.since_us) {
      auto t = parse_receipt_time(r.time);
      if (!t || *t < *filter.since_us) continue;
    }
    kept.push_back(std::move(k));
    if (filter.tail > 0 && kept.size() > filter.tail) kept.pop_front();
  }
  if (reader.failed()) return Decision::deny(DenyReason::IoError, "cannot read " + log_path);
  out.receipts.reserve(kept.size());
  for (Kept& k : kept) {
    // Canonical JSON the fast reader checked: it parses (an object either way).
    if (!k.sandbox_text.empty()) {
      json summary = json::parse(k.sandbox_text, nullptr, false);
      if (summary.is_object()) k.receipt.sandbox = std::move(summary);
    }
    out.receipts.push_back(std::move(k.receipt));
  }
  return out;
}

}  // namespace gx
