#include "lib/lineage.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "lib/attenuation.h"
#include "lib/crypto.h"
#include "lib/envelope.h"
#include "lib/fsutil.h"
#include "lib/trust_store.h"

namespace gx {

// ---- candidate parents ----

Decision ParentSet::add_bytes(std::string bytes, const std::string& origin) {
  auto parts = split_artifact(bytes);
  if (!parts)
    return Decision::deny(parts.error().reason, "parent artifact " + origin + ": " + parts.error().detail, "--parent",
                          origin);
  std::string digest = "sha256:" + crypto::sha256_hex(parts->body);
  if (by_digest_.count(digest)) return Decision::allow();  // the same artifact twice is one candidate
  if (by_digest_.size() >= kMaxParents)
    return Decision::deny(DenyReason::Usage, "more than " + std::to_string(kMaxParents) + " parent artifacts given",
                          "--parent", origin);
  by_digest_.emplace(digest, Entry{std::move(bytes), origin, std::nullopt});
  return Decision::allow();
}

Decision ParentSet::add_path(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0)
    return Decision::deny(DenyReason::Usage, "no parent artifact at " + path, "--parent", path);
  std::vector<std::string> files;
  if (S_ISDIR(st.st_mode)) {
    DIR* dir = opendir(path.c_str());
    if (!dir)
      return Decision::deny(DenyReason::IoError, "cannot read directory " + path + ": " + fs::errno_text(errno),
                            "--parent", path);
    while (dirent* e = readdir(dir)) {
      std::string name = e->d_name;
      if (name.size() > 5 && name.ends_with(".toml")) files.push_back(path + "/" + name);
    }
    closedir(dir);
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  for (const auto& f : files) {
    auto bytes = fs::read_file(f, kArtifactMaxBytes);
    if (!bytes)
      return Decision::deny(bytes.error().reason, "parent artifact " + f + ": " + bytes.error().detail, "--parent", f);
    if (Decision d = add_bytes(bytes.take(), f); !d) return d;
  }
  return Decision::allow();
}

const std::string* ParentSet::find(const std::string& digest) const {
  auto it = by_digest_.find(digest);
  return it == by_digest_.end() ? nullptr : &it->second.bytes;
}

void ParentSet::set_bounds(const std::string& digest, TreeBounds bounds) {
  if (auto it = by_digest_.find(digest); it != by_digest_.end()) it->second.bounds = std::move(bounds);
}

const TreeBounds* ParentSet::bounds(const std::string& digest) const {
  auto it = by_digest_.find(digest);
  return it == by_digest_.end() || !it->second.bounds ? nullptr : &*it->second.bounds;
}

std::string ParentSet::origin(const std::string& digest) const {
  auto it = by_digest_.find(digest);
  return it == by_digest_.end() ? std::string() : it->second.origin;
}

// ---- chain verification ----
namespace {

struct ChainNode {
  std::string bytes;
  std::string digest;
  std::string parent;  // as the unverified body names it
  std::string origin;
  const TreeBounds* bounds = nullptr;  // fixed bounds, when its resolver had them
  // The parsed body, for the leaf without a parent: its verification reuses
  // it instead of parsing the same bytes a second time (~0.9 M instructions
  // of every gx run / gx verify of a plain artifact).
  std::optional<Artifact> parsed;
};

Result<ChainNode> peek(std::string bytes, std::string origin, ArtifactParseMemo* memo) {
  auto parts = split_artifact(bytes);
  if (!parts) return parts.error();
  auto a = memo ? memo->parse(parts->body) : parse_artifact_body(parts->body);
  if (!a) return a.error();
  ChainNode n;
  n.digest = a->digest();
  n.parent = a->parent;
  n.parsed = a.take();
  n.bytes = std::move(bytes);
  n.origin = std::move(origin);
  return n;
}

bool keeps_own_code(DenyReason r) {
  return r == DenyReason::Revoked || r == DenyReason::Expired || r == DenyReason::NotYetValid ||
         r == DenyReason::RuntimeIdentity || r == DenyReason::RevocationListInvalid ||
         r == DenyReason::TrustStoreInvalid;
}

// A link's own failure, re-worded to name the link.
Decision link_failure(const Decision& d, const ChainNode& n, size_t depth, bool root) {
  std::string where = (root ? "root artifact " : "link ") + n.digest + " (depth " + std::to_string(depth) +
                      (n.origin.empty() ? "" : ", " + n.origin) + ")";
  if (keeps_own_code(d.reason)) return Decision::deny(d.reason, where + ": " + d.detail, d.field, d.value);
  std::string what = root
                         ? "does not verify"
                         : "is not validly signed by a key its parent delegates to or by one of the parent's approvers";
  return Decision::deny(DenyReason::LineageInconsistency,
                        where + " " + what + ": " + std::string(d.code()) + ": " + d.detail,
                        d.field.empty() ? "lineage" : d.field, d.value);
}

LineageLink link_of(const Verification& v, const ChainNode& n, const char* authority, int depth) {
  LineageLink l;
  l.digest = v.digest;
  l.origin = n.origin;
  l.signers = v.signers;
  l.signer_names = v.signer_names;
  l.authority = authority;
  l.depth = depth;
  if (v.artifact) {
    l.id = v.artifact->id;
    l.issuer = v.artifact->issuer;
    l.max_depth = v.artifact->delegation.present ? v.artifact->delegation.max_depth : 0;
    l.not_before = v.artifact->not_before;
    l.not_after = v.artifact->not_after;
  }
  return l;
}

}  // namespace

LineageVerification verify_lineage_bytes(std::string_view leaf_bytes, const ParentSet& parents,
                                         const VerifyOptions& opts) {
  return verify_lineage_with(
      leaf_bytes,
      [&](const std::string& digest) {
        return ResolvedParent{parents.find(digest), parents.origin(digest), parents.bounds(digest)};
      },
      opts);
}

LineageVerification verify_lineage_with(std::string_view leaf_bytes, const ParentResolver& resolve,
                                        const VerifyOptions& opts) {
  LineageVerification out;
  auto fail = [&](Decision d) {
    out.decision = d;
    out.leaf.decision = std::move(d);
    return out;
  };
  auto leaf = peek(std::string(leaf_bytes), "", opts.parse_memo);
  if (!leaf || leaf->parent.empty()) {
    // Not a child (or not readable at all): plain verification says why.
    out.leaf = leaf && leaf->parsed ? verify_artifact_bytes(leaf_bytes, opts, std::move(*leaf->parsed))
                                    : verify_artifact_bytes(leaf_bytes, opts);
    out.decision = out.leaf.decision;
    if (out.decision && out.leaf.artifact) out.chain.push_back(link_of(out.leaf, ChainNode{}, "trust store", 0));
    return out;
  }
  out.leaf.digest = leaf->digest;
  if (!opts.trust) return fail(Decision::deny(DenyReason::TrustStoreInvalid, "no trust store"));

  // Leaf first, up to the root, by the digests the bodies name.
  std::vector<ChainNode> nodes;
  std::set<std::string> seen{leaf->digest};
  nodes.push_back(leaf.take());
  while (!nodes.back().parent.empty()) {
    const ChainNode& child = nodes.back();
    if (seen.count(child.parent))
      return fail(Decision::deny(DenyReason::LineageInconsistency,
                                 "lineage cycle: " + child.digest + " names " + child.parent + ", already in its chain",
                                 "lineage.parent", child.parent));
    if (nodes.size() > static_cast<size_t>(kMaxDelegationDepth))
      return fail(Decision::deny(DenyReason::LineageInconsistency,
                                 "lineage chain longer than " + std::to_string(kMaxDelegationDepth) + " links",
                                 "lineage.parent", child.parent));
    const ResolvedParent found = resolve(child.parent);
    const std::string* bytes = found.bytes;
    if (!bytes)
      return fail(
          Decision::deny(DenyReason::LineageInconsistency,
                         "artifact " + child.digest + " names parent " + child.parent +
                             ", which was not given (gx run/verify --parent FILE): its chain cannot be established",
                         "lineage.parent", child.parent));
    auto parent = peek(*bytes, found.origin, opts.parse_memo);
    if (!parent)
      return fail(Decision::deny(
          DenyReason::LineageInconsistency,
          "parent artifact " + child.parent + " (" + found.origin + ") cannot be read: " + parent.error().explain(),
          "lineage.parent", child.parent));
    seen.insert(parent->digest);
    nodes.push_back(parent.take());
    nodes.back().bounds = found.bounds;
  }
  std::reverse(nodes.begin(), nodes.end());  // root first

  Verification root = verify_artifact_bytes(nodes[0].bytes, opts);
  if (!root.decision) return fail(link_failure(root.decision, nodes[0], 0, true));
  out.chain.push_back(link_of(root, nodes[0], "trust store", 0));
  std::vector<Artifact> arts{*root.artifact};
  std::vector<TrustedKey> approvers;  // the keys that counted for the current parent
  for (const auto& id : root.signers)
    if (const TrustedKey* k = opts.trust->find(id)) approvers.push_back(*k);

  for (size_t i = 1; i < nodes.size(); ++i) {
    const Artifact& parent = arts.back();
    const ChainNode& n = nodes[i];
    if (!parent.delegation.present)
      return fail(Decision::deny(
          DenyReason::LineageInconsistency,
          "parent " + parent.digest() + " has no [delegation]: it can have no children (child " + n.digest + ")",
          "delegation", parent.digest()));
    for (size_t j = 0; j < arts.size(); ++j) {
      const int distance = static_cast<int>(i - j);
      const int limit = arts[j].delegation.present ? arts[j].delegation.max_depth : 0;
      if (distance > limit)
        return fail(Decision::deny(DenyReason::LineageInconsistency,
                                   "link " + n.digest + " is " + std::to_string(distance) + " levels below " +
                                       arts[j].digest() + ", whose delegation.max_depth is " + std::to_string(limit),
                                   "delegation.max_depth", std::to_string(distance)));
    }
    TrustStore link_trust;
    link_trust.threshold = 1;
    link_trust.skew_seconds = opts.trust->skew_seconds;
    for (const auto& dk : parent.delegation.keys) {
      auto pk = crypto::PublicKey::from_pem(dk.public_key);
      if (!pk) return fail(link_failure(pk.error(), n, i, false));
      TrustedKey delegated{"delegated:" + dk.name, pk.take(), dk.key_id, std::nullopt, std::nullopt, false};
      // A key the trust store marks revoked, or holds to a window, is held
      // to it here too: being named by a parent does not lift it.
      if (const TrustedKey* known = opts.trust->find(dk.key_id)) {
        delegated.not_before = known->not_before;
        delegated.not_after = known->not_after;
        delegated.revoked = known->revoked;
      }
      link_trust.keys.push_back(std::move(delegated));
    }
    for (const auto& k : approvers)
      if (!link_trust.find(k.key_id)) link_trust.keys.push_back(k);
    VerifyOptions link_opts = opts;
    link_opts.trust = &link_trust;
    Verification v = verify_artifact_bytes(n.bytes, link_opts);
    // A failing leaf reports its own signers; a failing ancestor leaves the
    // leaf's report (its digest) alone: receipts name the leaf, never a link.
    const bool is_leaf = i + 1 == nodes.size();
    if (!v.decision) {
      Decision d = link_failure(v.decision, n, i, false);
      if (is_leaf) out.leaf = std::move(v);
      return fail(d);
    }
    // A running parent's bounds are the names its rules went on, never its
    // path strings resolved again (it may have moved them since).
    const ChainNode& above = nodes[i - 1];
    std::optional<TreeBounds> resolved;
    const TreeBounds& bounds = above.bounds ? *above.bounds : resolved.emplace(resolve_bounds(parent));
    if (Decision d = check_attenuation(parent, bounds, *v.artifact); !d) {
      d.detail = "link " + n.digest + " (depth " + std::to_string(i) + "): " + d.detail;
      if (is_leaf) {
        out.leaf = std::move(v);
        out.leaf.artifact.reset();
      }
      return fail(d);
    }
    out.chain.push_back(link_of(v, n, "delegation", static_cast<int>(i)));
    approvers.clear();
    for (const auto& id : v.signers)
      if (const TrustedKey* k = link_trust.find(id)) approvers.push_back(*k);
    arts.push_back(*v.artifact);
    if (is_leaf) {
      out.leaf = std::move(v);
      out.parent_bounds = bounds;
    }
  }
  out.decision = Decision::allow();
  return out;
}

LineageVerification verify_lineage_file(const std::string& path, const ParentSet& parents, const VerifyOptions& opts) {
  auto bytes = fs::read_file(path, kArtifactMaxBytes);
  if (!bytes) {
    LineageVerification out;
    out.leaf = verify_artifact_file(path, opts);  // the same error, worded as for any artifact
    out.decision = out.leaf.decision;
    return out;
  }
  return verify_lineage_bytes(*bytes, parents, opts);
}

nlohmann::json lineage_json(const std::vector<LineageLink>& chain) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& l : chain)
    out.push_back({{"depth", l.depth},
                   {"digest", l.digest},
                   {"id", l.id},
                   {"issuer", l.issuer},
                   {"origin", l.origin},
                   {"signers", l.signers},
                   {"signer_names", l.signer_names},
                   {"authority", l.authority},
                   {"max_depth", l.max_depth},
                   {"not_before", format_utc(l.not_before)},
                   {"not_after", format_utc(l.not_after)}});
  return out;
}

}  // namespace gx
