// The compiled-filter cache (lib/filter_cache.h): a cached filter is exactly
// a fresh build; any change of the policy is a miss; stored bytes that are
// altered, truncated, garbage or copied in from another state directory are
// never used (the run still gets the right filter).
#include "lib/filter_cache.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
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

TEST_CASE("filter cache: the stored text is read strictly") {
  const seccomp::CompiledFilter f = fresh(SandboxPolicy{});
  const std::string text = encode_compiled_filter(f);
  auto back = decode_compiled_filter(text);
  REQUIRE(back.has_value());
  CHECK(same(*back, f));
  CHECK_FALSE(decode_compiled_filter("").has_value());
  CHECK_FALSE(decode_compiled_filter("{}").has_value());
  CHECK_FALSE(decode_compiled_filter("[1,2]").has_value());
  auto j = nlohmann::json::parse(text);
  auto mutated = [&](auto change) -> bool {
    auto m = j;
    change(m);
    return decode_compiled_filter(m.dump()).has_value();
  };
  CHECK_FALSE(mutated([](auto& m) { m["format"] = 2; }));
  CHECK_FALSE(mutated([](auto& m) { m["extra"] = 1; }));
  CHECK_FALSE(mutated([](auto& m) { m["program"] = nlohmann::json::array(); }));
  CHECK_FALSE(mutated([](auto& m) { m["program"][0] = {1, 2, 3}; }));
  CHECK_FALSE(mutated([](auto& m) { m["program"][0][1] = 300; }));  // jt is one byte
  CHECK_FALSE(mutated([](auto& m) { m["summary"]["instructions"] = 1; }));
  CHECK_FALSE(mutated([](auto& m) { m["summary"].erase("enosys"); }));
  CHECK_FALSE(mutated([](auto& m) { m["summary"]["allowed"] = "read"; }));
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
