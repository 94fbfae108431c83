// What a broker worker keeps open between reading its configuration and
// serving a request (docs/broker.md, "Kept state"): the trust store, the
// revocation list (with its verified index), the receipt log with its parsed
// key, the signature cache and one use-store connection. The broker forks
// its next worker ahead of time and that worker opens all of it before a
// connection arrives, so a request pays none of it (lib/broker.h).
//
// Fork safety: everything here is opened in the process that uses it. A
// SQLite connection (use store, revocation index) must never cross fork(2):
// a WorkerState is created after the worker's fork and dies with it.
//
// Freshness (checked by current(), for every request, before any decision):
//   - the trust store, the revocation list and the receipt key file are
//     re-read when their stamp (dev, inode, size, mtime, ctime) differs from
//     the one read, or when that stamp was within FileStamp::kRacyNs of the time
//     it was read (a same-second rewrite of the same size could hide behind
//     a coarse timestamp; git calls such a stamp "racy"). A stamp that moved
//     while the file was read is never trusted: the next request re-reads;
//   - a new trust store also re-reads the revocation list (its signers are
//     checked against the trust store);
//   - the trust store's and the revocation list's StrictModes
//     (fs::check_strict_modes, every ancestor) and the state directory's
//     (open_state_dir) are checked again for every request: a directory
//     made writable by others is not visible in a file's stamp;
//   - the revocation list's quorum is verified again at `now` whenever a
//     trusted key's usability (TrustedKey::usable_at: validity window and
//     skew) differs between the time it was last verified and `now`: time
//     enters its verification only there;
//   - the use store is reopened when <state>/uses.db is another file
//     (dev, inode) than the one opened, the receipt log and signature cache
//     when the state directory is another directory than the one they hold.
// A piece that cannot be loaded is an error for the request (fail closed)
// and is tried again for the next one; nothing stale is ever served.
//
// Not tracked: the signature cache's secret (<state>/signatures.key; only
// whoever can write the state directory can change it, and that party can
// reset the use store too — lib/signature_cache.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lib/broker_config.h"
#include "lib/decision.h"
#include "lib/filter_cache.h"
#include "lib/receipt_log.h"
#include "lib/revocation.h"
#include "lib/revocation_index.h"
#include "lib/ruleset_cache.h"
#include "lib/run_pipeline.h"
#include "lib/signature_cache.h"
#include "lib/trust_store.h"
#include "lib/use_store.h"

namespace gx::broker {

// A file as last read: its stamp and when the read started. An unknown
// stamp (the file moved while read, or was missing) never matches.
struct ReadStamp {
  bool exists = false;
  FileStamp stamp;
  int64_t read_started_ns = 0;
  // Are these still the bytes that were read, given the file's stamp now
  // (nullopt: the file is missing now)?
  bool matches(const std::optional<FileStamp>& now_stamp) const;
};

class WorkerState {
 public:
  explicit WorkerState(const BrokerConfig& config) : config_(config) {}
  WorkerState(const WorkerState&) = delete;
  WorkerState& operator=(const WorkerState&) = delete;

  // Loads everything it can now (the worker calls this before a
  // connection arrives) and prepares the receipt log's signing nonces for
  // one request (ReceiptLog::prepare_nonces): preload_state, then
  // prepare_nonce twice. Errors are kept for current() to retry.
  void preload(UnixTime now);
  void preload_state(UnixTime now) { (void)current(now); }
  // One signing nonce more for the request (a scalar multiplication,
  // ~0.3 ms). The spare makes its two one at a time and stops when a
  // connection is waiting: the worker makes what is missing beside its
  // authorization (run_pipeline).
  void prepare_nonce() {
    if (receipt_log_) (void)receipt_log_->prepare_nonces(1);
  }
  // Destroys preload's signing nonces (ReceiptLog::drop_nonces): the spare
  // calls it when no connection came within their age limit.
  void drop_nonces() {
    if (receipt_log_) receipt_log_->drop_nonces();
  }

  // The state for a request at `now`, brought up to date (see above). The
  // pointers stay valid until the next call.
  Result<PreloadedState*> current(UnixTime now);
  // current() handed to a request (RunRequest::preloaded; left unset when a
  // piece cannot be loaded). A kept-ruleset check started for it before
  // (RunRequest::ruleset_precheck) is dropped when anything was loaded
  // again: the reload may have made files the check found missing, and its
  // descriptors, opened while the check held some of its own, may shift the
  // number the executable's descriptor gets (the ruleset would be built
  // afresh); the pipeline then checks as it would have.
  void hand_to(RunRequest& run, UnixTime now);

  // How many times each piece was (re)loaded, and how often current()
  // failed (the request then loaded its state itself, with descriptors and
  // SQLite locks of its own): for tests, the log, and whether a worker may
  // serve another request.
  struct Loads {
    uint64_t trust = 0, revocations = 0, receipt_log = 0, use_store = 0, failed = 0;
    bool operator==(const Loads&) const = default;
  };
  const Loads& loads() const { return loads_; }

  // The last Landlock ruleset, reused by the next request when nothing it
  // was built on changed (lib/ruleset_cache.h); its kept descriptors are
  // the worker's on purpose (ProcessBaseline::differs).
  RulesetCache& rulesets() { return rulesets_; }
  std::vector<int> kept_fds() const { return rulesets_.kept_fds(); }

 private:
  Result<PreloadedState*> bring_up_to_date(UnixTime now);
  Decision refresh_trust();
  Decision refresh_revocations(UnixTime now, bool trust_changed);
  Decision refresh_receipt_log();
  Decision refresh_use_store();
  std::string receipt_key_path() const;

  const BrokerConfig& config_;
  std::string revocations_path_;
  std::optional<TrustStore> trust_;
  ReadStamp trust_stamp_;
  std::optional<RevocationList> revocations_;
  ReadStamp revocations_stamp_;
  UnixTime revocations_checked_at_ = 0;
  std::optional<ReceiptLog> receipt_log_;
  ReadStamp receipt_key_stamp_;
  std::optional<FileStamp> state_dir_file_;  // the directory the log holds open
  std::optional<SignatureCache> signature_cache_;
  std::optional<UseStore> use_store_;
  std::optional<FileStamp> use_store_file_;
  RulesetCache rulesets_;
  FilterMemo filters_;
  ArtifactParseMemo artifacts_;
  PreloadedState context_;
  Loads loads_;
};

}  // namespace gx::broker
