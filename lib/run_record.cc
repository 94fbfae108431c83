#include "lib/run_record.h"

#include <optional>
#include <string>

namespace gx {

Result<RecordedRun> append_authorized_run(UseStore& store, ReceiptLog& log, const Receipt& authorized,
                                          uint32_t max_uses, UnixTime not_after, AppendedReceipt* written,
                                          const RecordStepHook& hook, ReceiptSync sync) {
  auto step = [&](RecordStep s) { return hook ? hook(s) : Decision::allow(); };
  std::optional<UseReservation> use;
  std::optional<Decision> refused;  // the reservation's (or its hook's) denial: nothing written
  auto r = log.append(authorized, sync, [&](const LogPosition& at) -> Decision {
    auto u = store.reserve_logged(authorized.artifact_digest, max_uses, not_after, at);
    if (!u) return *(refused = u.error());
    use = u.take();
    if (Decision d = step(RecordStep::Reserved); !d) return *(refused = d);
    return Decision::allow();
  });
  if (!r) {
    if (refused || !use) return r.error();  // nothing of the receipt was written
    return Decision::deny(DenyReason::LogUnavailable, "cannot write the authorized receipt: " + r.error().explain(),
                          "state", log.state_dir());
  }
  if (written) *written = *r;
  if (Decision d = step(RecordStep::Appended); !d) return d;
  return RecordedRun{std::move(*use), r.take()};
}

Decision make_run_durable(ReceiptLog& log, const AppendedReceipt& appended, const RecordStepHook& hook) {
  if (Decision d = log.sync(appended); !d) return d;
  if (hook)
    if (Decision d = hook(RecordStep::ReceiptSynced); !d) return d;
  return Decision::allow();
}

void note_run_durable(UseStore& store, ReceiptLog& log, const AppendedReceipt& appended) {
  log.advance_head(appended);
  (void)store.note_log_durable(appended);  // bounds a later reconciliation
}

Result<RecordedRun> record_authorized_run(UseStore& store, ReceiptLog& log, const Receipt& authorized,
                                          uint32_t max_uses, UnixTime not_after, AppendedReceipt* written,
                                          const RecordStepHook& hook) {
  auto rec = append_authorized_run(store, log, authorized, max_uses, not_after, written, hook);
  if (!rec) return rec.error();
  if (Decision d = make_run_durable(log, rec->receipt, hook); !d) return d;
  note_run_durable(store, log, rec->receipt);
  return rec;
}

Decision (*sync_handoff_verdict_hook)(Decision synced) = nullptr;

void SyncHandoff::serve() {
  serving_.store(true, std::memory_order_release);
  int s = state_.load(std::memory_order_acquire);
  while (s == Waiting || s == Starting) {
    state_.wait(s, std::memory_order_acquire);
    s = state_.load(std::memory_order_acquire);
  }
  if (s != Started) return;
  // An end is published on every path: the gate waits for one. Failed
  // needs no allocation (wait() builds its denial).
  int end = Failed;
  try {
    Decision d = make_run_durable(*log_, appended_);
    if (sync_handoff_verdict_hook) d = sync_handoff_verdict_hook(std::move(d));
    verdict_ = std::move(d);
    end = Done;
  } catch (...) {
  }
  state_.store(end, std::memory_order_release);
  state_.notify_all();
  // Then the hosted work, if any comes (the caller decides before it waits
  // for this thread: host() or close_host()).
  for (int h = host_.load(std::memory_order_acquire); h == Open || h == Posting;
       h = host_.load(std::memory_order_acquire))
    host_.wait(h, std::memory_order_acquire);
  if (host_.load(std::memory_order_acquire) != Posted) return;
  std::function<void()> work = std::move(work_);
  work();  // spawn_confined's reader: its own failures end gx (std::terminate)
}

bool SyncHandoff::host(std::function<void()> work) {
  // Only a serve() under way, for a receipt started, gets as far as the
  // hosted work: one not yet begun may still be skipped (SideTask::cancel).
  if (!serving_.load(std::memory_order_acquire)) return false;
  const int s = state_.load(std::memory_order_acquire);
  if (s != Starting && s != Started && s != Done && s != Failed) return false;
  int open = Open;
  if (!host_.compare_exchange_strong(open, Posting, std::memory_order_acq_rel)) return false;
  work_ = std::move(work);
  host_.store(Posted, std::memory_order_release);
  host_.notify_all();
  return true;
}

void SyncHandoff::close_host() {
  int open = Open;
  if (host_.compare_exchange_strong(open, Closed, std::memory_order_acq_rel)) host_.notify_all();
}

void SyncHandoff::start(ReceiptLog& log, const AppendedReceipt& appended) {
  int waiting = Waiting;
  // Claimed first: nothing reads the fields until Started is published.
  if (!state_.compare_exchange_strong(waiting, Starting, std::memory_order_acq_rel)) return;
  log_ = &log;
  appended_ = appended;
  state_.store(Started, std::memory_order_release);
  state_.notify_all();
}

void SyncHandoff::abandon() {
  int waiting = Waiting;
  if (state_.compare_exchange_strong(waiting, Abandoned, std::memory_order_acq_rel)) state_.notify_all();
}

Decision SyncHandoff::wait() {
  for (int s = state_.load(std::memory_order_acquire);; s = state_.load(std::memory_order_acquire)) {
    if (s == Done) return verdict_;
    if (s == Failed) return Decision::deny(DenyReason::LogUnavailable, "cannot sync the receipt log");
    if (s != Starting && s != Started)
      return Decision::deny(DenyReason::LogUnavailable, "the authorized receipt's sync was never started");
    state_.wait(s, std::memory_order_acquire);
  }
}

}  // namespace gx
