// Lineage: delegation and attenuation between artifacts (docs/lineage.md).
//
// A child artifact names its parent by digest ([lineage] parent). It is
// valid only as the last link of a chain that verifies link by link up to a
// root artifact (one that names no parent), where:
//
//   * the root verifies like any artifact (lib/verify.h): the machine's
//     trust store, threshold, time window, revocation, bindings;
//   * every other link verifies against its parent instead of the trust
//     store: its signatures count only when made by a key the parent
//     delegates to ([[delegation.key]]) or by one of the keys that counted
//     for the parent (its approvers); one such key is enough. The parent
//     must have a [delegation] table at all. Delegated keys are subject to
//     the revocation list's key entries like any signer. Then, as for the
//     root: time window (with the trust store's skew), revocation of the
//     link's digest (so revoking an ancestor revokes every descendant: each
//     link of the chain is checked, not only the leaf), bindings;
//   * depth: the link at distance n below an ancestor with
//     delegation.max_depth = m needs n <= m, for EVERY ancestor; a child's
//     own max_depth must be below its parent's (attenuation);
//   * no digest appears twice in a chain (no cycles), and a chain has at
//     most kMaxDelegationDepth + 1 links;
//   * the child's scope is a subset of the parent's in every dimension
//     (check_attenuation, lib/attenuation.h).
//
// A missing parent, a link that is not signed by a delegated key or an
// approver, a parent without [delegation], a depth over a limit, a cycle
// and anything wider are `lineage-inconsistency`, naming the dimension and
// the two values. A link that is revoked, expired or not yet valid keeps
// that reason code (`revoked`, `expired`, `not-yet-valid`), its detail
// naming the link.
//
// Where parents come from: the caller hands gx the parent artifacts
// (`gx run/verify --parent FILE|DIR`; the supervisor of a nested run, its
// run's artifact). Nothing is taken from the environment. Candidate parents
// are looked up by digest, so extra files are harmless.
//
// A parent's bounds (lib/attenuation.h TreeBounds): a parent given with
// fixed bounds (set_bounds: a running parent, the names of its own rules)
// is checked against those; any other is resolved when its link is checked.
// The bounds the leaf's link was checked against are returned, for the
// check on the leaf's ruleset (check_grants_within).
//
// Security caveat: to find a child's parent its body is parsed (strictly,
// bounded) before its signatures are checked; nothing parsed is trusted
// before the link verifies.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/artifact.h"
#include "lib/attenuation.h"
#include "lib/decision.h"
#include "lib/verify.h"

namespace gx {

// Candidate parent artifacts, indexed by digest ("sha256:<hex>").
class ParentSet {
 public:
  static constexpr size_t kMaxParents = 64;
  // An artifact file, or a directory whose *.toml files are each read
  // (not recursively). Files are read bounded (kArtifactMaxBytes), regular
  // files only; an unreadable or unsplittable file is an error (Usage for a
  // path that does not exist), never skipped.
  Decision add_path(const std::string& path);
  Decision add_bytes(std::string bytes, const std::string& origin);
  // The fixed bounds of the candidate with this digest (a running parent:
  // lib/attenuation.h bounds_of_run); no candidate by that digest: ignored.
  void set_bounds(const std::string& digest, TreeBounds bounds);
  const std::string* find(const std::string& digest) const;
  std::string origin(const std::string& digest) const;
  const TreeBounds* bounds(const std::string& digest) const;  // nullptr: none fixed
  size_t size() const { return by_digest_.size(); }

 private:
  struct Entry {
    std::string bytes;
    std::string origin;
    std::optional<TreeBounds> bounds;
  };
  std::map<std::string, Entry, std::less<>> by_digest_;
};

// One verified link, for display (gx verify) and reports.
struct LineageLink {
  std::string digest;
  std::string id;
  std::string issuer;
  std::string origin;                // file it was read from, when known
  std::vector<std::string> signers;  // key ids that counted
  std::vector<std::string> signer_names;
  std::string authority;  // "trust store" (root) or "delegation"
  int depth = 0;          // 0 = root
  int max_depth = 0;      // its delegation.max_depth, 0 without [delegation]
  UnixTime not_before = 0, not_after = 0;
};

struct LineageVerification {
  // Allow when the leaf and every link verified. On denial, `leaf.decision`
  // holds the leaf's own verification when that was the failing step.
  Decision decision;
  Verification leaf;               // the leaf artifact (artifact set once its link verified)
  std::vector<LineageLink> chain;  // root first, leaf last: the links that verified
  // A child that verified: its parent's bounds as its link was checked
  // against them (fixed, or resolved then). Unset for a root.
  std::optional<TreeBounds> parent_bounds;
};

// Verifies an artifact and, when it names a parent, its whole chain against
// `parents`. An artifact without a parent is just verify_artifact_bytes.
LineageVerification verify_lineage_bytes(std::string_view leaf_bytes, const ParentSet& parents,
                                         const VerifyOptions& opts);
LineageVerification verify_lineage_file(const std::string& path, const ParentSet& parents, const VerifyOptions& opts);

// The same walk with any way of finding a parent by digest (a ParentSet is
// content-addressed, so through it a chain can never repeat a digest; the
// cycle check guards any other resolver, and tests it). The bytes must
// outlive the call.
struct ResolvedParent {
  const std::string* bytes = nullptr;  // nullptr: not found
  std::string origin;                  // for messages
  const TreeBounds* bounds = nullptr;  // fixed bounds; nullptr: resolved when checked
};
using ParentResolver = std::function<ResolvedParent(const std::string& digest)>;
LineageVerification verify_lineage_with(std::string_view leaf_bytes, const ParentResolver& resolve,
                                        const VerifyOptions& opts);

// The chain as JSON (gx verify --json, gx run's report), root first.
nlohmann::json lineage_json(const std::vector<LineageLink>& chain);

}  // namespace gx
