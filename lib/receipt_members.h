// The one list of a receipt's members (internal to the receipt modules):
// lib/receipt.cc writes receipts from it (to_json, text) and
// lib/receipt_line.cc reads them back with it, so a field added here is
// written and read alike.
#pragma once

#include <type_traits>

#include "lib/receipt.h"

namespace gx::receipt_members {

// Every member of a receipt but "sandbox", in sorted key order (the order
// canonical_dump writes them in), to `v`: v.str / num / boolean / list /
// decision (key, value), v.sandbox() where "sandbox" sorts and v.sig()
// where "sig" does. The members a version lacks are skipped (r.version).
// `R` is Receipt (a reader fills the fields) or const Receipt (a writer).
template <class R, class Visitor>
requires std::is_same_v<std::remove_const_t<R>, Receipt>
void visit(R& r, Visitor& v) {
  v.list("argv", r.argv);
  v.str("artifact_digest", r.artifact_digest);
  v.str("artifact_id", r.artifact_id);
  v.str("authorized_id", r.authorized_id);
  if (r.version >= 3) v.boolean("brokered", r.brokered);
  v.num("child_pid", r.child_pid);
  v.str("cwd", r.cwd);
  v.decision("decision", r.decision);
  if (r.version >= 2) v.num("descendants_killed", r.descendants_killed);
  v.str("detail", r.detail);
  v.str("exe_digest", r.exe_digest);
  v.str("exe_path", r.exe_path);
  v.num("exit_code", r.exit_code);
  v.str("host", r.host);
  v.str("id", r.id);
  v.str("issuer", r.issuer);
  v.str("key_id", r.key_id);
  if (r.version >= 3) v.list("lineage", r.lineage);
  v.num("max_rss_kb", r.max_rss_kb);
  v.str("parent", r.parent);
  if (r.version >= 3) {
    v.num("peer_gid", r.peer_gid);
    v.num("peer_pid", r.peer_pid);
    v.num("peer_uid", r.peer_uid);
  }
  v.num("pid", r.pid);
  v.str("prev", r.prev);
  v.str("reason", r.reason);
  v.sandbox();
  v.num("seq", r.seq);
  v.sig();
  v.num("signal", r.signal);
  v.list("signers", r.signers);
  v.num("sys_cpu_us", r.sys_cpu_us);
  v.str("time", r.time);
  v.num("uid", r.uid);
  v.num("user_cpu_us", r.user_cpu_us);
  v.num("version", r.version);
  v.num("wall_us", r.wall_us);
}

}  // namespace gx::receipt_members
