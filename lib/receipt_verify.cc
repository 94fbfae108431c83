#include "lib/receipt_verify.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>
#include <vector>

#include "lib/fsutil.h"
#include "lib/receipt_key.h"
#include "lib/receipt_line.h"
#include "lib/receipt_log_file.h"

namespace gx {
namespace {

using fs::exists_in;
using receipt_file::HeadRead;
using receipt_file::LineReader;
using receipt_file::read_tail;
using receipt_file::snapshot;

// Runs f(0..count-1) on up to 8 threads (this one included); falls back to
// this thread alone if threads cannot be started.
template <class F>
void parallel_for(size_t count, F f) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < count;) f(i);
  };
  std::vector<std::thread> helpers;
  const unsigned cores = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  try {
    for (unsigned t = 1; t < cores && count > 1; ++t) helpers.emplace_back(work);
  } catch (const std::system_error&) {
    // fewer helpers; `work` below still covers every index
  }
  work();
  for (auto& h : helpers) h.join();
}

// Index of the first job whose signature does not verify (jobs.size() when
// all do), on every core: ECDSA verification is what a full verify spends
// its time on.
template <class Job>
size_t first_bad_signature(const crypto::PublicKey& key, const std::vector<Job>& jobs) {
  std::vector<char> ok(jobs.size(), 0);
  parallel_for(jobs.size(),
               [&](size_t i) { ok[i] = key.verify(crypto::kReceiptType, jobs[i].body, jobs[i].sig) ? 1 : 0; });
  for (size_t i = 0; i < jobs.size(); ++i)
    if (!ok[i]) return i;
  return jobs.size();
}

}  // namespace

Decision VerifyReport::decision() const {
  if (intact) return Decision::allow();
  return Decision::deny(DenyReason::LogTampered, "line " + std::to_string(bad_line) + ": " + problem);
}

Result<VerifyReport> verify_receipt_log(const std::string& state_dir, const crypto::PublicKey& key,
                                        const std::optional<Checkpoint>& checkpoint) {
  LogVerifyOptions all;
  all.all_signatures = true;
  return verify_receipt_log(state_dir, key, checkpoint, all);
}

Result<VerifyReport> verify_receipt_log(const std::string& state_dir, const crypto::PublicKey& key,
                                        const std::optional<Checkpoint>& checkpoint, const LogVerifyOptions& mode) {
  if (mode.incremental && !checkpoint)
    return Decision::deny(DenyReason::Usage, "incremental verification starts from a checkpoint", "checkpoint");
  if (checkpoint && !checkpoint->signature_valid(key))
    return Decision::deny(DenyReason::InvalidSignature,
                          "the checkpoint's signature does not verify with the receipt key", "checkpoint");
  auto dir = fs::open_dir_readonly(state_dir);
  if (!dir) return dir.error();
  const std::string log_path = dir->path + "/" + std::string(kReceiptLogFile);
  auto snap = snapshot(*dir);
  if (!snap) return snap.error();
  const fs::UniqueFd& fd = snap->fd;

  VerifyReport rep;
  const std::string key_id = key.key_id();
  auto fail = [&](uint64_t line, std::string why) {
    rep.bad_line = line;
    rep.problem = std::move(why);
    return rep;
  };
  // Cheap checks run line by line; signatures (the cost) are checked in
  // batches on all cores. A batch ends at the first cheap failure, so the
  // report still names the first bad line in log order.
  struct SigJob {
    uint64_t line;
    std::string body, sig, hash;
    bool at_checkpoint;
    off_t end;  // just past the line
  };
  struct Failure {
    uint64_t line;
    std::string why;
    bool torn;
  };
  std::vector<SigJob> jobs;
  std::optional<Failure> pending;
  uint64_t n = 0;
  std::string chain_head(kGenesisHash);
  uint64_t last_line = 0;  // chain mode: the last receipt read, whose signature is checked at the end
  std::string last_text;   // its line
  off_t read_limit = snap->size;
  off_t pos = 0;         // where the next line read starts
  off_t last_start = 0;  // chain mode: where line `last_line` starts
  // Incremental mode starts exactly where receipt `count` ended when the
  // checkpoint was made (its signed offset), after checking that the line
  // ending there is that receipt: every byte after it is read and must
  // chain from it, so nothing inserted after the checkpoint goes unread.
  // (Searching for a line with seq == count instead let records planted
  // before a copy of that line go unread.) A version 1 checkpoint records
  // no offset: the whole log is verified.
  if (mode.incremental && snap->fd.ok() && checkpoint->count > 0 && checkpoint->version >= 2) {
    const auto at = static_cast<off_t>(checkpoint->offset);
    const std::string cp = "the checkpoint of " + checkpoint->time;
    if (at > snap->size)
      return fail(checkpoint->count, "the log ends at byte " + std::to_string(snap->size) + ", before byte " +
                                         std::to_string(at) + " where this receipt ended in " + cp +
                                         " (the log was truncated)");
    auto tail = read_tail(fd.get(), at);
    if (!tail && tail.error().reason != DenyReason::LogTampered)
      return Decision::deny(DenyReason::IoError, tail.error().detail, "file", log_path);
    if (!tail || tail->complete_end != at || tail->last_line.empty())
      return fail(checkpoint->count, "no receipt ends at byte " + std::to_string(at) +
                                         ", where this receipt ended in " + cp +
                                         " (the log was rewritten at or before this line)");
    if (receipt_leaf_hash(tail->last_line) != checkpoint->head)
      return fail(checkpoint->count, "the receipt ending at byte " + std::to_string(at) + " differs from " + cp +
                                         " (the log was rewritten at or before this line)");
    if (lseek(fd.get(), at, SEEK_SET) != at) return Decision::deny(DenyReason::IoError, "cannot seek in " + log_path);
    n = checkpoint->count;
    chain_head = checkpoint->head;
    pos = at;
    rep.records = n;
    rep.head = chain_head;
    rep.end = static_cast<uint64_t>(at);
    rep.first_checked = n + 1;
    rep.checkpoint_matched = true;
    read_limit = snap->size - at;
  }
  constexpr size_t kBatch = 512;

  // Applies a batch; returns a failure to report, if any.
  auto flush = [&]() -> std::optional<Failure> {
    size_t bad = jobs.size();
    if (mode.all_signatures) {
      bad = first_bad_signature(key, jobs);
      rep.signatures_checked += bad < jobs.size() ? bad + 1 : jobs.size();
    } else if (!jobs.empty()) {
      last_line = jobs.back().line;
    }
    for (size_t i = 0; i < bad; ++i) {
      rep.records = jobs[i].line;
      rep.head = jobs[i].hash;
      rep.end = static_cast<uint64_t>(jobs[i].end);
      if (jobs[i].at_checkpoint) rep.checkpoint_matched = true;
    }
    std::optional<Failure> out;
    if (bad < jobs.size()) out = Failure{jobs[bad].line, "signature does not verify", false};
    else out = pending;
    jobs.clear();
    return out;
  };

  LineReader reader(fd.get(), read_limit);
  // Each batch of lines: the checks that need only the line itself (JSON,
  // canonical form, receipt schema, signature encoding, leaf hash) run on
  // all cores; then, in log order, the ones that link lines (seq, prev,
  // key, checkpoint). The first failure in log order is still the one
  // reported, with the same reason as a line-by-line pass.
  struct Line {
    std::string text;
    bool terminated = false, too_long = false;
    std::optional<std::string> why;  // line-local failure
    bool torn = false;
    Receipt rec;
    std::string sig, body, hash;
    bool sig_ok = false;
  };
  std::vector<Line> batch;
  bool eof = false;
  while (!pending && !eof) {
    batch.clear();
    while (batch.size() < kBatch) {
      Line l;
      if (!reader.next(l.text, l.terminated, l.too_long)) {
        eof = true;
        break;
      }
      bool last = l.too_long || !l.terminated;
      batch.push_back(std::move(l));
      if (last) break;  // a failure anyway: nothing after it is read
    }
    parallel_for(batch.size(), [&](size_t i) {
      Line& l = batch[i];
      if (l.too_long) {
        l.why = "longer than " + std::to_string(kReceiptMaxLineBytes) + " bytes";
        return;
      }
      if (!l.terminated) {
        l.why = "incomplete final record of " + std::to_string(l.text.size()) +
                " bytes (torn write; the next append moves it to " + std::string(kReceiptTornFile) + ")";
        l.torn = true;
        return;
      }
      auto rec = read_receipt_fields(l.text, mode.all_signatures ? &l.body : nullptr);
      if (!rec) {
        l.why = rec.error().detail;
        return;
      }
      l.rec = rec.take();
      if (mode.all_signatures) {
        auto sig = crypto::base64_decode(l.rec.sig);
        l.sig_ok = sig.ok();
        if (sig) l.sig = sig.take();
      } else {
        l.sig_ok = crypto::is_canonical_base64(l.rec.sig);  // the bytes are needed only to verify
      }
      l.hash = receipt_leaf_hash(l.text);
    });
    for (Line& l : batch) {
      ++n;
      const off_t start = pos;
      pos += static_cast<off_t>(l.text.size()) + 1;
      auto linked = [&]() -> std::optional<Failure> {
        if (l.why) return Failure{n, *l.why, l.torn};
        if (l.rec.seq != n)
          return Failure{n,
                         "sequence number " + std::to_string(l.rec.seq) + " where " + std::to_string(n) +
                             " was expected (a receipt was deleted, duplicated or reordered)",
                         false};
        if (l.rec.prev != chain_head) return Failure{n, "hash link to the previous receipt is broken", false};
        if (l.rec.key_id != key_id)
          return Failure{n, "signed by key " + l.rec.key_id + ", not the receipt key " + key_id, false};
        if (!l.sig_ok) return Failure{n, "signature is not canonical base64", false};
        chain_head = l.hash;
        bool at_checkpoint = checkpoint && checkpoint->count == n;
        if (!mode.all_signatures) {
          last_text = l.text;
          last_start = start;
        }
        jobs.push_back(SigJob{n, std::move(l.body), std::move(l.sig), chain_head, at_checkpoint, pos});
        if (at_checkpoint && checkpoint->head != chain_head)
          return Failure{
              n,
              "differs from the checkpoint of " + checkpoint->time + " (the log was rewritten at or before this line)",
              false};
        // Implied by the hash in an intact chain; checked so that a
        // checkpoint whose offset would steer incremental mode wrong is
        // never reported as matching.
        if (at_checkpoint && checkpoint->version >= 2 && checkpoint->offset != static_cast<uint64_t>(pos))
          return Failure{n,
                         "ends at byte " + std::to_string(pos) + ", not at byte " + std::to_string(checkpoint->offset) +
                             " as the checkpoint of " + checkpoint->time + " records",
                         false};
        return std::nullopt;
      };
      pending = linked();
      if (pending) break;
      if (mode.verified) mode.verified->push_back(LineageFacts::of(l.rec));
    }
    if (auto f = flush()) {
      rep.torn_tail = f->torn;
      return fail(f->line, f->why);
    }
  }
  if (auto f = flush()) {
    rep.torn_tail = f->torn;
    return fail(f->line, f->why);
  }
  if (reader.failed()) return Decision::deny(DenyReason::IoError, "cannot read " + log_path);
  if (!mode.all_signatures && last_line > 0) {
    // The last receipt's signature covers its `prev`, hence the whole chain.
    std::string body;
    auto last = read_receipt_fields(last_text, &body);  // it passed every other check
    auto sig = last ? crypto::base64_decode(last->sig) : Result<std::string>(last.error());
    ++rep.signatures_checked;
    if (!sig || !key.verify(crypto::kReceiptType, body, *sig)) {
      rep.records = last_line - 1;
      rep.end = static_cast<uint64_t>(last_start);
      return fail(last_line,
                  "signature does not verify (chain mode checks the last receipt's signature, which "
                  "covers every earlier receipt; --all-signatures names the first bad one)");
    }
  }
  // The head is created before the log and never removed: a log without a
  // valid head lost it (truncation hidden by deleting or garbling the head).
  const HeadRead& head = snap->head;
  if (!head.exists && snap->fd.ok())
    return fail(rep.records + 1,
                "receipts.head is missing (it exists whenever receipts.log does): the log may "
                "have been truncated");
  if (!head.exists && !snap->fd.ok() && exists_in(*dir, kReceiptKeyFile))
    return fail(1, "receipts.log is missing but receipt.key exists (the log was deleted)");
  if (head.exists && !head.head) return fail(rep.records + 1, head.problem + " (the log may have been truncated)");
  if (head.head && head.head->count > rep.records)
    return fail(rep.records + 1, "missing: receipts.head records " + std::to_string(head.head->count) +
                                     " receipts (the log was truncated)");
  if (head.head && head.head->count == rep.records && head.head->hash != rep.head)
    return fail(rep.records, "differs from the last receipt receipts.head records (the log was rewritten)");
  if (checkpoint) {
    if (checkpoint->count > rep.records)
      return fail(rep.records + 1, "missing: the checkpoint of " + checkpoint->time + " covers " +
                                       std::to_string(checkpoint->count) + " receipts (the log was truncated)");
    if (checkpoint->count == 0) {
      if (checkpoint->head != kGenesisHash) return fail(1, "the checkpoint of an empty log has a non-genesis head");
      rep.checkpoint_matched = true;
    }
  }
  rep.intact = true;
  return rep;
}

}  // namespace gx
