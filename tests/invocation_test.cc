// lib/invocation: matching the real invocation against an artifact's scope.
#include "lib/invocation.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "lib/digest_cache.h"
#include "lib/signature_cache.h"
#include "tests/test_util.h"

using namespace gx;
using gx::test::TempDir;

namespace {

const std::string kRoot(1, '/');

std::string sha_of(const std::string& path) {
  auto img = ExecImage::load(path);
  REQUIRE(img.ok());
  return img->sha256();
}

// An artifact for `true ARGS...` in /, with the real digest of /usr/bin/true.
Artifact true_artifact(std::vector<ArgPattern> argv = {{"true"}}) {
  Artifact a;
  a.scope.path = "/usr/bin/true";
  a.scope.sha256 = sha_of("/usr/bin/true");
  a.scope.argv = std::move(argv);
  a.scope.cwd = kRoot;  // not "/": GCC 12 -O3 -Wrestrict false positive (bug 105329)
  return a;
}

Invocation call(std::vector<std::string> argv, std::vector<std::string> env = {"PATH=/usr/bin:/bin"},
                std::string cwd = "/") {
  return Invocation{std::move(argv), std::move(env), std::move(cwd)};
}

}  // namespace

TEST_CASE("env_lookup finds exact names only") {
  std::vector<std::string> env{"PATH=/bin", "PATHX=no", "EMPTY=", "NOEQ"};
  CHECK(env_lookup(env, "PATH") == std::optional<std::string>("/bin"));
  CHECK(env_lookup(env, "EMPTY") == std::optional<std::string>(""));
  CHECK_FALSE(env_lookup(env, "PAT").has_value());
  CHECK_FALSE(env_lookup(env, "NOEQ").has_value());
}

TEST_CASE("filter_environment passes only allowed and pinned names") {
  EnvPolicy p;
  p.allow = {"HOME", "LANG"};
  p.pin = {{"MODE", "prod"}};
  p.require = {"HOME"};
  auto out = filter_environment(p, {"HOME=/h", "LD_PRELOAD=/evil.so", "MODE=prod", "BASH_ENV=/x", "=bad", "junk"});
  REQUIRE(out.ok());
  CHECK(*out == std::vector<std::string>{"HOME=/h", "MODE=prod"});

  auto wrong = filter_environment(p, {"HOME=/h", "MODE=dev"});
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().reason == DenyReason::EnvironmentalIntegrity);
  CHECK(wrong.error().field == "env.pin.MODE");
  CHECK(wrong.error().value == "dev");

  auto unpinned = filter_environment(p, {"HOME=/h"});
  REQUIRE_FALSE(unpinned.ok());
  CHECK(unpinned.error().field == "env.pin.MODE");

  auto missing = filter_environment(p, {"MODE=prod"});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().field == "env.require");
  CHECK(missing.error().value == "HOME");
}

TEST_CASE("match_invocation: the command resolves through PATH to exactly the authorized path") {
  auto m = match_invocation(true_artifact(), call({"true"}));
  REQUIRE(m.ok());
  CHECK(m->argv == std::vector<std::string>{"true"});
  CHECK(m->cwd == "/");
  CHECK(m->env.empty());  // PATH was not allowed: stripped

  TempDir t;
  const std::string shadow = t.path + "/true";
  std::ofstream(shadow) << "#!/bin/sh\nexit 0\n";
  REQUIRE(chmod(shadow.c_str(), 0755) == 0);
  auto shadowed = match_invocation(true_artifact(), call({"true"}, {"PATH=" + t.path + ":/usr/bin"}));
  REQUIRE_FALSE(shadowed.ok());
  CHECK(shadowed.error().reason == DenyReason::PolicyMismatch);
  CHECK(shadowed.error().field == "exec.path");
  CHECK(shadowed.error().value == shadow);

  auto usage = match_invocation(true_artifact(), call({}));
  REQUIRE_FALSE(usage.ok());
  CHECK(usage.error().reason == DenyReason::Usage);
}

TEST_CASE("match_invocation: argv length, exact elements and explicit globs") {
  auto a = true_artifact({{"true"}, {"--fixed"}, {"*.txt", true}});
  CHECK(match_invocation(a, call({"true", "--fixed", "notes.txt"})).ok());

  auto len = match_invocation(a, call({"true", "--fixed"}));
  REQUIRE_FALSE(len.ok());
  CHECK(len.error().field == "exec.argv");
  CHECK(len.error().value == "2");

  auto exact = match_invocation(a, call({"true", "--fixed=1", "a.txt"}));
  REQUIRE_FALSE(exact.ok());
  CHECK(exact.error().field == "exec.argv[1]");
  CHECK(exact.error().value == "--fixed=1");

  auto glob = match_invocation(a, call({"true", "--fixed", "a.sh"}));
  REQUIRE_FALSE(glob.ok());
  CHECK(glob.error().field == "exec.argv[2]");

  // A literal '*' in an exact element is not a glob.
  auto literal = true_artifact({{"true"}, {"*"}});
  CHECK(match_invocation(literal, call({"true", "*"})).ok());
  CHECK_FALSE(match_invocation(literal, call({"true", "x"})).ok());
}

TEST_CASE("match_invocation: cwd is compared canonically, and the digest is checked") {
  TempDir t;
  auto a = true_artifact();
  a.scope.cwd = t.path;
  REQUIRE(symlink(t.path.c_str(), (t.path + ".link").c_str()) == 0);
  CHECK(match_invocation(a, call({"true"}, {"PATH=/usr/bin"}, t.path + ".link")).ok());
  unlink((t.path + ".link").c_str());

  auto cwd = match_invocation(a, call({"true"}, {"PATH=/usr/bin"}, "/"));
  REQUIRE_FALSE(cwd.ok());
  CHECK(cwd.error().field == "exec.cwd");
  CHECK(cwd.error().value == "/");

  auto b = true_artifact();
  b.scope.sha256 = sha_of("/usr/bin/false");
  auto digest = match_invocation(b, call({"true"}));
  REQUIRE_FALSE(digest.ok());
  CHECK(digest.error().reason == DenyReason::DigestMismatch);
  CHECK(digest.error().field == "exec.sha256");
  CHECK(digest.error().value == sha_of("/usr/bin/true"));
}

TEST_CASE("match_invocation: a script needs its interpreter pinned, and runs as interpreter + script") {
  TempDir t;
  const std::string script = t.path + "/hello";
  std::ofstream(script) << "#!/bin/sh -e\necho hi\n";
  REQUIRE(chmod(script.c_str(), 0755) == 0);
  Artifact a;
  a.scope.path = script;
  a.scope.sha256 = sha_of(script);
  a.scope.argv = {{script}, {"x"}};
  a.scope.cwd = kRoot;
  auto unpinned = match_invocation(a, call({script, "x"}));
  REQUIRE_FALSE(unpinned.ok());
  CHECK(unpinned.error().field == "exec.interpreter");
  CHECK(unpinned.error().value == "/bin/sh");

  a.scope.interpreter = "/bin/sh";
  a.scope.interpreter_sha256 = sha_of("/bin/sh");
  auto m = match_invocation(a, call({script, "x"}));
  REQUIRE(m.ok());
  REQUIRE(m->argv.size() == 4);
  CHECK(m->argv[0] == "/bin/sh");
  CHECK(m->argv[1] == "-e");
  CHECK(m->argv[3] == "x");
  CHECK(m->script.has_value());

  a.scope.interpreter_sha256 = sha_of("/usr/bin/true");
  auto bad = match_invocation(a, call({script, "x"}));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().reason == DenyReason::DigestMismatch);
  CHECK(bad.error().field == "exec.interpreter_sha256");
}

TEST_CASE("match_invocation: a script is always its sealed copy; its interpreter may run in place") {
  if (geteuid() != 0) {
    WARN("skipped: gx executes in place only files that root alone can change (uid " << geteuid() << ")");
    return;
  }
  TempDir t;
  REQUIRE(chmod(t.path.c_str(), 0700) == 0);
  const std::string script = t.path + "/hello";
  std::ofstream(script) << "#!/bin/sh\necho hi\n";
  REQUIRE(chmod(script.c_str(), 0755) == 0);
  const SignatureCache tags = SignatureCache::open(t.path + "/state", true);
  const DigestCache cache(tags);
  Artifact a;
  a.scope.path = script;
  a.scope.sha256 = sha_of(script);
  a.scope.argv = {{script}};
  a.scope.cwd = kRoot;
  a.scope.interpreter = "/bin/sh";
  a.scope.interpreter_sha256 = sha_of("/bin/sh");
  auto m = match_invocation(a, call({script}), &cache);
  REQUIRE(m.ok());
  REQUIRE(m->script.has_value());
  // Its interpreter reads it after the exec, beyond any lease on the file.
  CHECK_FALSE(m->script->in_place());
  CHECK_FALSE(m->script->writers_held());
  CHECK(m->script->sha256() == a.scope.sha256);
  CHECK(m->script_fallback.empty());  // still handed over by its path ($0 as without gx)
  CHECK(m->image.in_place());         // /bin/sh: root's, outside every write grant
}

TEST_CASE("match_invocation: a peer's denials never tell what its paths resolved to") {
  // gx resolves a broker peer's argv[0], PATH and cwd with its own rights.
  TempDir t;
  const std::string hidden = t.path + "/hidden";
  REQUIRE(mkdir(hidden.c_str(), 0700) == 0);
  const std::string shadow = hidden + "/true";
  std::ofstream(shadow) << "#!/bin/sh\nexit 0\n";
  REQUIRE(chmod(shadow.c_str(), 0755) == 0);
  REQUIRE(symlink(hidden.c_str(), (t.path + "/link").c_str()) == 0);
  auto peer = [](Invocation inv) {
    inv.show_resolution = false;
    return inv;
  };

  auto shadowed = match_invocation(true_artifact(), peer(call({"true"}, {"PATH=" + hidden + ":/usr/bin"})));
  REQUIRE_FALSE(shadowed.ok());
  CHECK(shadowed.error().reason == DenyReason::PolicyMismatch);
  CHECK(shadowed.error().field == "exec.path");
  CHECK(shadowed.error().value == "true");
  CHECK(shadowed.error().explain().find(hidden) == std::string::npos);

  // Not found and not executable are the same denial as a mismatch.
  auto missing = match_invocation(true_artifact(), peer(call({t.path + "/link/nothing"})));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().reason == DenyReason::PolicyMismatch);
  CHECK(missing.error().value == t.path + "/link/nothing");
  auto through = match_invocation(true_artifact(), peer(call({t.path + "/link/true"})));
  REQUIRE_FALSE(through.ok());
  CHECK(through.error().reason == missing.error().reason);
  CHECK(through.error().field == missing.error().field);
  CHECK(through.error().value == t.path + "/link/true");
  CHECK(through.error().explain().find(shadow) == std::string::npos);

  // cwd through a symlink: the caller's string, not its target.
  auto a = true_artifact();
  a.scope.cwd = "/";
  auto cwd = match_invocation(a, peer(call({"true"}, {"PATH=/usr/bin"}, t.path + "/link")));
  REQUIRE_FALSE(cwd.ok());
  CHECK(cwd.error().field == "exec.cwd");
  CHECK(cwd.error().value == t.path + "/link");
  CHECK(cwd.error().explain().find(hidden) == std::string::npos);

  // gx's own caller still gets the resolved path (it could look itself).
  auto own = match_invocation(a, call({"true"}, {"PATH=/usr/bin"}, t.path + "/link"));
  REQUIRE_FALSE(own.ok());
  CHECK(own.error().value == hidden);
}
