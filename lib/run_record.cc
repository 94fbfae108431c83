#include "lib/run_record.h"

namespace gx {

Result<RecordedRun> record_authorized_run(UseStore& store, ReceiptLog& log, const Receipt& authorized,
                                          uint32_t max_uses, UnixTime not_after, AppendedReceipt* written,
                                          const RecordStepHook& hook) {
  auto step = [&](RecordStep s) { return hook ? hook(s) : Decision::allow(); };
  auto use = store.reserve(authorized.artifact_digest, max_uses, not_after, UseDurability::Deferred);
  if (!use) return use.error();
  if (Decision d = step(RecordStep::Reserved); !d) return d;
  auto r = log.append(authorized, ReceiptSync::Deferred);
  if (!r)
    return Decision::deny(DenyReason::LogUnavailable, "cannot write the authorized receipt: " + r.error().explain(),
                          "state", log.state_dir());
  if (written) *written = *r;
  if (Decision d = step(RecordStep::Appended); !d) return d;
  if (Decision d = store.sync(); !d) return d;
  if (Decision d = step(RecordStep::UseSynced); !d) return d;
  if (Decision d = log.sync(*r); !d) return d;
  if (Decision d = step(RecordStep::ReceiptSynced); !d) return d;
  return RecordedRun{use.take(), r.take()};
}

}  // namespace gx
