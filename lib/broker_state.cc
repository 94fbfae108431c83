#include "lib/broker_state.h"

#include <sys/stat.h>

#include <ctime>

#include "lib/clock.h"
#include "lib/fsutil.h"
#include "lib/receipt_key.h"

namespace gx::broker {
namespace {

std::optional<FileStamp> stamp_of(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp::of(st);
}

// Reads `path` with `load`, recording the stamp only when it did not move
// while the file was read (else the stamp stays unknown: re-read next time).
template <typename Load>
auto read_stamped(const std::string& path, ReadStamp& out, Load load) {
  ReadStamp r;
  r.read_started_ns = now_unix_ns();
  auto before = stamp_of(path);
  auto result = load();
  auto after = stamp_of(path);
  r.exists = before.has_value();
  if (before && after && *before == *after) r.stamp = *before;
  else if (before || after) r.exists = true;  // moved while read: unknown stamp, never matches
  out = r;
  return result;
}

// Whether every trusted key may count at `now` exactly when it could at
// `then`: then a quorum decided at `then` stands at `now` (time enters the
// revocation list's verification only through TrustedKey::usable_at).
bool same_usable_keys(const TrustStore& trust, UnixTime then, UnixTime now) {
  for (const auto& k : trust.keys)
    if (static_cast<bool>(k.usable_at(then, trust.skew_seconds)) !=
        static_cast<bool>(k.usable_at(now, trust.skew_seconds)))
      return false;
  return true;
}

// Whether two stamps name the same file (a database or a directory changes
// with every use: only another file means reopening).
bool same_file(const std::optional<FileStamp>& a, const std::optional<FileStamp>& b) {
  return a && b && a->dev == b->dev && a->ino == b->ino;
}

}  // namespace

bool ReadStamp::matches(const std::optional<FileStamp>& now_stamp) const {
  if (!exists) return !now_stamp.has_value();
  if (!now_stamp || !stamp.known() || *now_stamp != stamp) return false;
  // Changed shortly before it was read: a rewrite in the same timestamp
  // tick would leave the stamp as it is, so this read proves nothing.
  return !stamp.racy_at(read_started_ns);
}

std::string WorkerState::receipt_key_path() const {
  return config_.receipt_key.empty() ? config_.state_dir + "/" + std::string(kReceiptKeyFile) : config_.receipt_key;
}

Decision WorkerState::refresh_trust() {
  if (trust_ && trust_stamp_.matches(stamp_of(config_.trust_path)))
    return fs::check_strict_modes(config_.trust_path, false);
  trust_.reset();
  auto loaded = read_stamped(config_.trust_path, trust_stamp_, [&] { return TrustStore::load(config_.trust_path); });
  if (!loaded) return loaded.error();
  trust_.emplace(loaded.take());
  ++loads_.trust;
  return Decision::allow();
}

Decision WorkerState::refresh_revocations(UnixTime now, bool trust_changed) {
  if (revocations_ && !trust_changed && revocations_stamp_.matches(stamp_of(revocations_path_))) {
    if (Decision d = fs::check_strict_modes(revocations_path_, true); !d) return d;
    // Key validity windows move with time: the quorum is checked again
    // whenever a trusted key's usability differs between then and now.
    if (same_usable_keys(*trust_, revocations_checked_at_, now)) return Decision::allow();
    if (Decision d = revocations_->verify(*trust_, now); !d) return d;
    revocations_checked_at_ = now;
    return Decision::allow();
  }
  revocations_.reset();
  auto loaded = read_stamped(revocations_path_, revocations_stamp_,
                             [&] { return RevocationList::load(revocations_path_, *trust_, config_.state_dir, now); });
  if (!loaded) return loaded.error();
  revocations_.emplace(loaded.take());
  revocations_checked_at_ = now;
  ++loads_.revocations;
  return Decision::allow();
}

Decision WorkerState::refresh_receipt_log() {
  const std::string key = receipt_key_path();
  // The log and the signature cache hold the state directory open: a
  // directory replaced at that path means opening them again there.
  const auto dir = stamp_of(config_.state_dir);
  if (receipt_log_ && same_file(dir, state_dir_file_) && receipt_key_stamp_.matches(stamp_of(key)))
    return Decision::allow();
  receipt_log_.reset();
  signature_cache_.reset();
  state_dir_file_ = dir;
  ReceiptLogOptions o;
  o.receipt_key = config_.receipt_key;
  o.syslog = config_.syslog;
  auto opened = read_stamped(key, receipt_key_stamp_, [&] { return ReceiptLog::open(config_.state_dir, o); });
  if (!opened) return opened.error();
  receipt_log_.emplace(opened.take());
  // A receipt key created by this open was written just now: its stamp is
  // racy, so the next request opens the log again, once.
  ++loads_.receipt_log;
  return Decision::allow();
}

Decision WorkerState::refresh_use_store() {
  if (use_store_ && same_file(stamp_of(UseStore::db_path(config_.state_dir)), use_store_file_))
    return Decision::allow();
  use_store_.reset();
  auto opened = UseStore::open(config_.state_dir);
  if (!opened) return opened.error();
  use_store_.emplace(opened.take());
  use_store_file_ = stamp_of(UseStore::db_path(config_.state_dir));
  ++loads_.use_store;
  return Decision::allow();
}

void WorkerState::preload(UnixTime now) {
  preload_state(now);
  // A request writes two receipts (authorized, finished): their nonces are
  // made now, while the spare waits, instead of while a caller waits.
  prepare_nonce();
  prepare_nonce();
}

void WorkerState::hand_to(RunRequest& run, UnixTime now) {
  const Loads before = loads_;
  if (auto ctx = current(now)) run.preloaded = *ctx;
  if (!(loads_ == before)) run.ruleset_precheck.reset();
}

Result<PreloadedState*> WorkerState::current(UnixTime now) {
  auto got = bring_up_to_date(now);
  if (!got) ++loads_.failed;
  return got;
}

Result<PreloadedState*> WorkerState::bring_up_to_date(UnixTime now) {
  if (revocations_path_.empty()) revocations_path_ = revocations_of(config_);
  // The state directory first: everything below lives in it.
  if (Decision d = ensure_state_dir(config_.state_dir); !d) return d;
  const uint64_t trust_loads = loads_.trust;
  if (Decision d = refresh_trust(); !d) return d;
  if (Decision d = refresh_revocations(now, loads_.trust != trust_loads); !d) return d;
  if (Decision d = refresh_receipt_log(); !d) return d;
  if (!signature_cache_) signature_cache_.emplace(SignatureCache::open(config_.state_dir, true));
  if (Decision d = refresh_use_store(); !d) return d;
  context_.trust = &*trust_;
  context_.revocations = &*revocations_;
  context_.receipt_log = &*receipt_log_;
  context_.signature_cache = &*signature_cache_;
  context_.use_store = &*use_store_;
  context_.rulesets = &rulesets_;
  context_.filters = &filters_;
  context_.artifacts = &artifacts_;
  return &context_;
}

}  // namespace gx::broker
