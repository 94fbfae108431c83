// FilterCache: compiled seccomp filters kept per state directory, so that a
// run of an unchanged sandbox policy reads its filter (a few KiB) instead of
// building it with libseccomp again (~1.3 ms and ~50 page faults per run on
// the 2-core VM of docs/performance.md; issue #14).
//
// What a cached filter is bound to (its name is SHA-256 of all of it):
//   * every field of the SandboxPolicy (more than FilterBuilder reads: a
//     change anywhere is a miss, never a stale filter);
//   * this gx binary: its ELF GNU build-id (no build-id found: no cache),
//     because the syscall groups, the prologue and the builder are code;
//   * the kernel (uname release and version): the builder probes it
//     (FilterSummary::enosys, the SECCOMP_FILTER_FLAG_* it supports);
//   * a format version.
// Storage: <state>/filter-<64 hex> holding the program, flags and summary
// in a small binary form (format 2: "gxf\x02", then little-endian lengths
// and values; format 1 was JSON and cost ~150 us a run to parse), trusted
// only through a tag in <state>/filters.cache made with
// the state directory's secret (SignatureCache::read_blob/write_blob: the
// secret, files and rules of lib/signature_cache.h; no governed child can
// read the secret or write the state directory). Content that is missing,
// altered, truncated, copied in from another state directory, oversize or
// malformed is a miss: the filter is built as without the cache, never
// refused, never taken unverified. At most SignatureCache::kMaxBlobs files.
//
// Caveat, as for every cache in the state directory: whoever can write the
// state directory and read its secret outside gx (its owner, root) can plant
// a filter; that party can equally reset the use store or rewrite the log.
#pragma once

#include <optional>
#include <string>

#include "lib/artifact.h"
#include "lib/decision.h"
#include "lib/signature_cache.h"
#include "seccomp/filter_builder.h"

namespace gx {

inline constexpr std::string_view kFilterCacheFile = "filters.cache";
inline constexpr std::string_view kFilterBlobPrefix = "filter-";

// Every field of `policy`, as one string (JSON): a cache keyed on it misses
// on any change, never serves what another policy built (also
// lib/ruleset_cache.h).
std::string sandbox_policy_key(const SandboxPolicy& policy);

// "filter-<hex>" for `policy` on this binary and kernel; empty when the
// binary has no build-id (then nothing is cached).
std::string filter_cache_name(const SandboxPolicy& policy);

// The exact bytes stored for a filter, and their strict reader (nullopt for
// anything that is not exactly such bytes: any length that overruns, a
// trailing byte, a flag other than 0/1, an empty or over-long program, an
// instruction count that disagrees).
std::string encode_compiled_filter(const seccomp::CompiledFilter& f);
std::optional<seccomp::CompiledFilter> decode_compiled_filter(std::string_view bytes);

// A supervisor's last filter (a broker worker, request after request): in
// one process the same policy builds the same filter (same binary, same
// kernel), so it is neither read nor checked again. Only what this process
// built or read through the tags is kept. Not thread-safe.
struct FilterMemo {
  std::string policy_key;  // sandbox_policy_key of the policy it was made for
  std::optional<seccomp::CompiledFilter> filter;
};

// FilterBuilder::from_policy(policy).build(), through `memo` (optional),
// then the cache in `tags` (nullptr or disabled: no cache). `hit`
// (optional) says whether it came from either. A build error is returned
// as is and never cached.
Result<seccomp::CompiledFilter> build_filter_cached(const SandboxPolicy& policy, const SignatureCache* tags,
                                                    bool* hit = nullptr, FilterMemo* memo = nullptr);

}  // namespace gx
