// Which paths a Landlock grant may reach: gx's protected paths, the
// expansion around them, canonical paths (lib/landlock_paths.h).
#include "lib/landlock_paths.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "lib/fsutil.h"
#include "tests/landlock_fixture.h"

using namespace gx;
using gx::test::TempTree;

TEST_CASE("check_protected: no write grant may reach gx's own files") {
  TempTree t;
  std::string home = t.root + "/home";
  std::string state = home + "/.local/state/gx";  // does not exist yet
  std::string keys = home + "/.config/gx/keys";
  REQUIRE(fs::make_dirs(home + "/work", 0755));
  ProtectedPaths prot{{state, "/var/lib/gx"}, {keys}, {}};

  auto denied_field = [&](SandboxPolicy p) {
    auto d = check_protected(p, prot);
    return d.allowed() ? std::string("allowed") : d.field;
  };
  SandboxPolicy p;
  // Containing a protected path: expanded by prepare_ruleset, not refused.
  p.write = {"/"};
  CHECK(denied_field(p) == "allowed");
  p.write = {t.granted, home};
  CHECK(denied_field(p) == "allowed");
  p.write = {t.granted, state + "/sub"};  // inside
  CHECK(denied_field(p) == "sandbox.write[1]");
  CHECK(check_protected(p, prot).reason == DenyReason::PolicyMismatch);
  p.write = {state};  // equal
  CHECK(denied_field(p) == "sandbox.write[0]");
  p.write = {home + "/work", home + "/.local/stat"};  // siblings, common prefix
  CHECK(denied_field(p) == "allowed");

  // A symlink into the state is the same grant.
  std::string link = t.root + "/link";
  REQUIRE(symlink(home.c_str(), link.c_str()) == 0);
  p.write = {link + "/.local/state/gx"};
  CHECK(denied_field(p) == "sandbox.write[0]");
  p.write = {link + "/work/../.local/state/gx/x"};
  CHECK(denied_field(p) == "sandbox.write[0]");

  // Reading the state is fine; reading inside the keys is not; an exec
  // grant containing the keys is refused (exec grants are not expanded).
  p.write = {};
  p.read = {home};
  CHECK(denied_field(p) == "allowed");
  p.read = {keys + "/a.key"};
  CHECK(denied_field(p) == "sandbox.read[0]");
  p.read = {home + "/work", state};
  p.exec = {home + "/.config"};
  CHECK(denied_field(p) == "sandbox.exec[0]");
  p.exec = {};
  CHECK(denied_field(p) == "allowed");
}

TEST_CASE("expansion_excludes: what a wide grant is expanded around") {
  TempTree t;
  std::string state = t.root + "/state";
  REQUIRE(fs::make_dirs(state, 0700));
  std::string exe = t.granted + "/f";  // an existing file in no_write: "the gx binary"
  ProtectedPaths prot{{state, exe}, {state + "/receipt.key", t.root + "/keys/k"}, {}};
  std::string root = fs::canonical(t.root);
  // Nested paths collapse to the outer one; a write grant avoids the file too.
  CHECK(expansion_excludes(root, true, prot) ==
        std::vector<std::string>{root + "/granted/f", root + "/keys/k", root + "/state"});
  // Reading gx's executable is harmless: no expansion around it.
  CHECK(expansion_excludes(root, false, prot) == std::vector<std::string>{root + "/keys/k", root + "/state"});
  // Equal to a protected path: nothing strictly inside but the key.
  CHECK(expansion_excludes(root + "/state", false, prot) == std::vector<std::string>{root + "/state/receipt.key"});
  CHECK(expansion_excludes(root + "/denied", true, prot).empty());
}

TEST_CASE("expansion_excludes: a link on the way to gx's files is kept from write grants only") {
  TempTree t;
  const std::string root = fs::canonical(t.root);
  REQUIRE(symlink((root + "/denied").c_str(), (root + "/granted/cfg").c_str()) == 0);
  ProtectedPaths prot{{}, {}, {t.granted + "/cfg"}};
  const std::string g = fs::canonical(t.granted);
  CHECK(expansion_excludes(g, true, prot) == std::vector<std::string>{g + "/cfg"});
  CHECK(expansion_excludes(root, true, prot) == std::vector<std::string>{g + "/cfg"});
  CHECK(expansion_excludes(g, false, prot).empty());
  // The entry, not where it leads: a grant there is not narrowed by it.
  CHECK(expansion_excludes(root + "/denied", true, prot).empty());
  // Nor is a grant equal to the entry's target refused for it.
  SandboxPolicy p;
  p.write = {root + "/denied"};
  CHECK(check_protected(p, prot));
}

TEST_CASE("canonical_or_planned resolves the existing prefix") {
  TempTree t;
  std::string link = t.root + "/l";
  REQUIRE(symlink(t.granted.c_str(), link.c_str()) == 0);
  CHECK(canonical_or_planned(link + "/a/b") == fs::canonical(t.granted) + "/a/b");
  CHECK(canonical_or_planned(link) == fs::canonical(t.granted));
  CHECK(canonical_or_planned("/nonexistent-gx/x") == "/nonexistent-gx/x");
}
