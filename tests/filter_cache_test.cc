// The compiled-filter cache (lib/filter_cache.h): a cached filter is exactly
// a fresh build; any change of the policy is a miss; stored bytes that are
// altered, truncated, garbage or copied in from another state directory are
// never used (the run still gets the right filter).
#include "lib/filter_cache.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/signature_cache.h"
#include "tests/test_util.h"

using namespace gx;

namespace {

bool same(const seccomp::CompiledFilter& a, const seccomp::CompiledFilter& b) {
  if (a.flags != b.flags || a.program.size() != b.program.size()) return false;
  for (size_t i = 0; i < a.program.size(); ++i)
    if (std::memcmp(&a.program[i], &b.program[i], sizeof(sock_filter)) != 0) return false;
  // Every summary field (the encoding writes each one).
  return encode_compiled_filter(a) == encode_compiled_filter(b);
}

seccomp::CompiledFilter fresh(const SandboxPolicy& p) {
  auto f = seccomp::FilterBuilder::from_policy(p).build();
  REQUIRE(f.ok());
  return f.take();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

}  // namespace

TEST_CASE("filter cache: a hit is exactly a fresh build, for several policies") {
  test::TempDir t{"filter-cache"};
  const std::string state = t.path + "/state";
  auto tags = SignatureCache::open(state, true);
  REQUIRE(tags.enabled());
  SandboxPolicy a;
  SandboxPolicy b = a;
  b.allow_syscalls.push_back("ptrace");
  SandboxPolicy c = a;
  c.default_action = SeccompDefault::Kill;
  c.log_denials = true;
  SandboxPolicy d = a;
  d.network = NetMode::Tcp;
  d.bind_tcp = {8080};
  for (const SandboxPolicy* p : {&a, &b, &c, &d}) {
    bool hit = true;
    auto first = build_filter_cached(*p, &tags, &hit);
    REQUIRE(first.ok());
    CHECK_FALSE(hit);
    auto second = build_filter_cached(*p, &tags, &hit);
    REQUIRE(second.ok());
    CHECK(hit);
    CHECK(same(*second, fresh(*p)));
  }
  // Four policies, four names: a change anywhere is another entry.
  CHECK(filter_cache_name(a) != filter_cache_name(b));
  CHECK(filter_cache_name(a) != filter_cache_name(c));
  CHECK(filter_cache_name(a) != filter_cache_name(d));
  SandboxPolicy e = a;
  e.read.push_back("/srv");  // not a seccomp field: still another name (never a stale filter)
  CHECK(filter_cache_name(a) != filter_cache_name(e));
  // A build error is returned and not cached.
  SandboxPolicy bad = a;
  bad.groups = {"no-such-group"};
  CHECK_FALSE(build_filter_cached(bad, &tags).ok());
  CHECK_FALSE(build_filter_cached(bad, &tags).ok());
}

TEST_CASE("filter cache: altered, truncated, garbage or copied-in bytes are never used") {
  test::TempDir t{"filter-cache-bad"};
  const std::string state = t.path + "/state", other = t.path + "/other";
  auto tags = SignatureCache::open(state, true);
  auto other_tags = SignatureCache::open(other, true);
  REQUIRE((tags.enabled() && other_tags.enabled()));
  SandboxPolicy p;
  const seccomp::CompiledFilter expected = fresh(p);
  const std::string name = filter_cache_name(p);
  REQUIRE(!name.empty());
  const std::string file = state + "/" + name;
  bool hit = false;
  REQUIRE(build_filter_cached(p, &tags, &hit).ok());
  REQUIRE(build_filter_cached(p, &tags, &hit).ok());
  REQUIRE(hit);
  const std::string good = slurp(file);

  // A different, well-formed filter (allows ptrace) planted under p's name.
  SandboxPolicy wider = p;
  wider.allow_syscalls.push_back("ptrace");
  const std::string planted = encode_compiled_filter(fresh(wider));
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 1;
  for (const std::string& bytes : {planted, flipped, good.substr(0, good.size() / 2), std::string("garbage")}) {
    spit(file, bytes);
    auto f = build_filter_cached(p, &tags, &hit);
    REQUIRE(f.ok());
    CHECK_FALSE(hit);
    CHECK(same(*f, expected));
    // The miss rewrote the entry: the next run hits again, with the right filter.
    auto again = build_filter_cached(p, &tags, &hit);
    REQUIRE(again.ok());
    CHECK(hit);
    CHECK(same(*again, expected));
  }

  // Copied in from another state directory (its own secret): file and tags.
  REQUIRE(build_filter_cached(wider, &other_tags).ok());
  spit(file, slurp(other + "/" + filter_cache_name(wider)));
  spit(state + "/" + std::string(kFilterCacheFile), slurp(other + "/" + std::string(kFilterCacheFile)));
  auto f = build_filter_cached(p, &tags, &hit);
  REQUIRE(f.ok());
  CHECK_FALSE(hit);
  CHECK(same(*f, expected));
}

TEST_CASE("filter cache: the stored bytes are read strictly") {
  SandboxPolicy p;
  p.allow_syscalls.push_back("ptrace");  // a non-empty allowed_dangerous
  const seccomp::CompiledFilter f = fresh(p);
  REQUIRE_FALSE(f.summary.allowed_dangerous.empty());
  const std::string bytes = encode_compiled_filter(f);
  auto back = decode_compiled_filter(bytes);
  REQUIRE(back.has_value());
  CHECK(same(*back, f));
  CHECK(back->summary.allowed == f.summary.allowed);
  CHECK(back->summary.default_action == f.summary.default_action);
  CHECK(back->summary.instructions == f.program.size());
  // The program itself starts after magic, flags and count: 12 bytes.
  CHECK(bytes.compare(0, 4, std::string("gxf\x02", 4)) == 0);
  CHECK(std::memcmp(bytes.data() + 12, "\x20\x00\x00\x00", 4) == 0);  // BPF_LD|BPF_W|BPF_ABS, jt 0, jf 0

  CHECK_FALSE(decode_compiled_filter("").has_value());
  CHECK_FALSE(decode_compiled_filter("garbage").has_value());
  CHECK_FALSE(decode_compiled_filter("{}").has_value());
  // Every proper prefix, and any trailing byte.
  for (size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(decode_compiled_filter(bytes.substr(0, n)).has_value());
  CHECK_FALSE(decode_compiled_filter(bytes + '\0').has_value());
  auto with = [&](size_t at, std::string_view patch) {
    std::string m = bytes;
    m.replace(at, patch.size(), patch);
    return decode_compiled_filter(m).has_value();
  };
  CHECK_FALSE(with(3, "\x01"));                 // format 1 (JSON) or any other
  CHECK_FALSE(with(8, std::string(4, '\0')));   // an empty program
  CHECK_FALSE(with(8, "\x01\x10\x00\x00"));     // 4097 > BPF_MAXINSNS
  CHECK_FALSE(with(8, "\x01\x00\x00\x00"));     // a count that disagrees with the rest
  CHECK_FALSE(with(bytes.size() - 8, "\x01"));  // summary.instructions != program size
  CHECK_FALSE(with(bytes.size() - 9, "\x02"));  // log_denials neither 0 nor 1
  // A list count beyond the bytes left (architectures' count, right after the program).
  const size_t summary_at = 12 + 8 * f.program.size();
  CHECK_FALSE(with(summary_at, "\xff\xff\xff\x7f"));
  // A string length beyond the bytes left (the first architecture's).
  CHECK_FALSE(with(summary_at + 4, "\xff\xff\xff\x7f"));
}

TEST_CASE("filter cache: without a state secret nothing is cached, the filter is still built") {
  test::TempDir t{"filter-cache-off"};
  auto tags = SignatureCache::open(t.path + "/none", false);
  CHECK_FALSE(tags.enabled());
  bool hit = true;
  auto f = build_filter_cached(SandboxPolicy{}, &tags, &hit);
  REQUIRE(f.ok());
  CHECK_FALSE(hit);
  CHECK(same(*f, fresh(SandboxPolicy{})));
  auto g = build_filter_cached(SandboxPolicy{}, nullptr, &hit);
  REQUIRE(g.ok());
  CHECK_FALSE(hit);
}

TEST_CASE("filter cache: a worker's memo answers the same policy without the state directory") {
  test::TempDir t{"filter-memo"};
  const std::string state = t.path + "/state";
  auto tags = SignatureCache::open(state, true);
  REQUIRE(tags.enabled());
  FilterMemo memo;
  SandboxPolicy a;
  SandboxPolicy b = a;
  b.default_action = SeccompDefault::Kill;
  bool hit = true;
  REQUIRE(build_filter_cached(a, &tags, &hit, &memo).ok());
  CHECK_FALSE(hit);
  REQUIRE(memo.filter.has_value());
  // The stored copy is gone (and a planted one would not be read): the memo answers.
  REQUIRE(std::filesystem::remove(state + "/" + filter_cache_name(a)));
  auto again = build_filter_cached(a, &tags, &hit, &memo);
  REQUIRE(again.ok());
  CHECK(hit);
  CHECK(same(*again, fresh(a)));
  // Another policy is not answered by it, and then replaces it.
  auto other = build_filter_cached(b, &tags, &hit, &memo);
  REQUIRE(other.ok());
  CHECK_FALSE(hit);
  CHECK(same(*other, fresh(b)));
  CHECK_FALSE(same(*other, fresh(a)));
  CHECK(memo.policy_key == sandbox_policy_key(b));
  // A build error leaves the memo as it was.
  SandboxPolicy bad = a;
  bad.groups = {"no-such-group"};
  CHECK_FALSE(build_filter_cached(bad, &tags, &hit, &memo).ok());
  CHECK(memo.policy_key == sandbox_policy_key(b));
}
