#include "lib/lineage.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <functional>

#include "lib/artifact.h"
#include "lib/attenuation.h"
#include "lib/crypto.h"
#include "lib/envelope.h"
#include "lib/fsutil.h"
#include "lib/trust_store.h"
#include "lib/verify.h"
#include "tests/test_util.h"

using namespace gx;

namespace {

constexpr UnixTime kNow = 1'800'000'000;

// Keys: 0 the person (trusted), 1 the agent (delegated by the root only),
// 2 a stranger, 3 trusted on this machine but no approver of the parent.
struct Keys {
  std::vector<crypto::PrivateKey> k;
  TrustStore trust;
  Keys() {
    for (int i = 0; i < 4; ++i) k.push_back(*crypto::PrivateKey::generate());
    trust.keys.push_back(gx::test::trusted(k[0].public_key(), "person"));
    trust.keys.push_back(gx::test::trusted(k[3].public_key(), "other"));
  }
  DelegatedKey delegated(int i) const {
    const auto& pk = k[static_cast<size_t>(i)].public_key();
    return DelegatedKey{"agent", pk.key_id(), pk.pem()};
  }
  std::string sign(const Artifact& a, std::initializer_list<int> who) const {
    std::string bytes = a.body.empty() ? render_artifact_body(a) : a.body;
    for (int i : who) bytes = *append_signature(bytes, crypto::kArtifactType, k[static_cast<size_t>(i)]);
    return bytes;
  }
};

Artifact parsed(const Artifact& a) {
  auto p = parse_artifact_body(render_artifact_body(a));
  if (!p) FAIL(p.error().explain());
  return p.take();
}

// The parent: an agent with a glob argv, network, a tool it delegates.
Artifact parent_artifact(const Keys& keys) {
  Artifact a = gx::test::artifact_header("person-agent", "person", kNow - 100, kNow + 3600, 'p');
  a.max_uses = 10;
  Scope& s = a.scope;
  s.path = "/usr/bin/agent";
  s.sha256 = std::string(64, 'a');
  s.argv = {{"agent", false}, {"--task=*", true}};
  s.cwd = "/srv";
  s.env.allow = {"PATH", "HOME"};
  s.env.pin = {{"MODE", "safe"}};
  s.env.require = {"PATH"};
  s.files = {{"/etc/agent.conf", std::string(64, 'c')}};
  SandboxPolicy& sb = s.sandbox;
  sb.groups = {"default", "network"};
  sb.allow_syscalls = {"memfd_create"};
  sb.ioctl_groups = {"tty"};
  sb.network = NetMode::Tcp;
  sb.connect_tcp = {443};
  sb.read = {"/usr", "/etc"};
  sb.write = {"/srv/out"};
  sb.exec = {"/opt/tools"};
  sb.min_landlock_abi = 3;
  sb.allow_downgrade = {"refer"};
  a.bindings.uid = 1234;
  a.delegation.present = true;
  a.delegation.max_depth = 2;
  a.delegation.keys = {keys.delegated(1)};
  a.delegation.executables = {
      {"/usr/bin/tool", std::string(64, 'b'), std::vector<ArgPattern>{{"tool", false}, {"*", true}}}};
  return parsed(a);
}

// A child within every bound of parent_artifact().
Artifact child_artifact(const Artifact& parent) {
  Artifact a = gx::test::artifact_header("agent-tool", "agent", kNow, kNow + 600, 'c');
  a.max_uses = 3;
  Scope& s = a.scope;
  s.path = "/usr/bin/tool";
  s.sha256 = std::string(64, 'b');
  s.argv = {{"tool", false}, {"x", false}};
  s.cwd = "/srv/out/job";
  s.env.allow = {"PATH"};
  s.env.pin = {{"MODE", "safe"}};
  s.env.require = {"PATH"};
  s.files = {{"/etc/agent.conf", std::string(64, 'c')}};
  s.sandbox.groups = {"default"};
  s.sandbox.network = NetMode::None;
  s.sandbox.read = {"/usr/lib", "/srv/out"};
  s.sandbox.write = {"/srv/out/job"};
  s.sandbox.min_landlock_abi = 3;
  a.bindings.uid = 1234;
  a.parent = parent.digest();
  return parsed(a);
}

// check_attenuation of the edited child: lineage-inconsistency naming `field`.
void expect_wider(const Artifact& parent, Artifact child, const std::string& field) {
  child = parsed(child);
  Decision d = check_attenuation(parent, child);
  INFO(d.explain());
  CHECK(d.reason == DenyReason::LineageInconsistency);
  CHECK(d.field == field);
  CHECK(d.detail.find("child ") != std::string::npos);
  CHECK(d.detail.find("parent ") != std::string::npos);
}

// A fresh child of `parent`, changed by `edit`, is wider at `field`.
void wider_if(const Artifact& parent, const std::string& field, const std::function<void(Artifact&)>& edit) {
  Artifact c = child_artifact(parent);
  edit(c);
  expect_wider(parent, c, field);
}

}  // namespace

TEST_CASE("[delegation] parses strictly and round-trips") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  CHECK(p.delegation.present);
  CHECK(p.delegation.max_depth == 2);
  REQUIRE(p.delegation.keys.size() == 1);
  CHECK(p.delegation.keys[0].key_id == keys.k[1].public_key().key_id());
  REQUIRE(p.delegation.executables.size() == 1);
  CHECK(p.delegation.executables[0].argv->size() == 2);
  CHECK(render_artifact_body(p) == p.body);

  auto with = [&](const std::string& from, const std::string& to) {
    std::string body = p.body;
    auto at = body.find(from);
    REQUIRE(at != std::string::npos);
    body.replace(at, from.size(), to);
    return parse_artifact_body(body);
  };
  CHECK(with("max_depth = 2", "max_depth = 0").error().reason == DenyReason::InvalidValue);
  CHECK(with("max_depth = 2", "max_depth = 17").error().reason == DenyReason::InvalidValue);
  CHECK(with("max_depth = 2", "max_depth = 2\nthreshold = 1").error().reason == DenyReason::UnknownField);
  CHECK(with("max_depth = 2\n", "").error().reason == DenyReason::MissingField);
  auto wrong_id = with(keys.k[1].public_key().key_id(), keys.k[2].public_key().key_id());
  CHECK(wrong_id.error().reason == DenyReason::InvalidValue);
  CHECK(wrong_id.error().field == "delegation.key[0].id");
  CHECK(with("path = \"/usr/bin/tool\"", "path = \"tool\"").error().reason == DenyReason::InvalidValue);
}

TEST_CASE("a child within its parent's bounds is not wider") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  Artifact c = child_artifact(p);
  Decision d = check_attenuation(p, c);
  INFO(d.explain());
  CHECK(d.allowed());
  // The parent's own executable with an argv its glob matches.
  c.scope.path = p.scope.path;
  c.scope.sha256 = p.scope.sha256;
  c.scope.argv = {{"agent", false}, {"--task=lint", false}};
  CHECK(check_attenuation(p, parsed(c)).allowed());
  // A program in the parent's exec tree, any argv.
  c.scope.path = "/opt/tools/fmt";
  c.scope.sha256 = std::string(64, 'f');
  c.scope.argv = {{"fmt", false}, {"-w", false}, {"x", false}};
  CHECK(check_attenuation(p, parsed(c)).allowed());
}

TEST_CASE("attenuation: executables") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  wider_if(p, "exec.path", [&](Artifact& child) { child.scope.path = "/usr/bin/curl"; });
  wider_if(p, "exec.path", [&](Artifact& child) {
    child.scope.sha256 = std::string(64, 'e');  // the delegated path, other content
  });
  wider_if(p, "exec.path", [&](Artifact& child) {
    child.scope.path = "/opt/toolsX/fmt";  // a sibling with the exec tree as prefix, not inside it
  });
  wider_if(p, "exec.interpreter", [&](Artifact& child) {
    child.scope.interpreter = "/usr/bin/python3";
    child.scope.interpreter_sha256 = std::string(64, 'd');
  });
}

TEST_CASE("attenuation: argv, globs no wider than the parent's") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  Artifact c = child_artifact(p);
  c.scope.argv = {{"tool", false}};
  expect_wider(p, c, "exec.argv");  // length differs
  c.scope.path = p.scope.path;
  c.scope.sha256 = p.scope.sha256;
  c.scope.argv = {{"agent", false}, {"--other", false}};
  expect_wider(p, c, "exec.argv[1]");  // the parent's glob does not match
  c.scope.argv = {{"agent", false}, {"--task=l*", true}};
  expect_wider(p, c, "exec.argv[1]");  // a different glob is never proven narrower
  c.scope.argv = {{"agent", false}, {"--task=*", true}};
  CHECK(check_attenuation(p, parsed(c)).allowed());  // the same glob
  c.scope.argv = {{"Agent", false}, {"--task=*", true}};
  expect_wider(p, c, "exec.argv[0]");
  // Parent "*" accepts any child glob; an exact parent accepts no glob.
  c = child_artifact(p);
  c.scope.argv = {{"tool", false}, {"*.txt", true}};
  CHECK(check_attenuation(p, parsed(c)).allowed());
  c.scope.argv = {{"t*", true}, {"x", false}};
  expect_wider(p, c, "exec.argv[0]");
}

TEST_CASE("attenuation: environment") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  wider_if(p, "env.allow", [&](Artifact& child) { child.scope.env.allow.push_back("LD_PRELOAD"); });
  wider_if(p, "env.allow", [&](Artifact& child) {
    child.scope.env.allow.push_back("MODE");  // pinned in the parent: any value is wider
    child.scope.env.pin.erase("MODE");
  });
  wider_if(p, "env.pin.MODE", [&](Artifact& child) { child.scope.env.pin["MODE"] = "unsafe"; });
  wider_if(p, "env.pin.TOKEN", [&](Artifact& child) { child.scope.env.pin["TOKEN"] = "x"; });
  wider_if(p, "env.require", [&](Artifact& child) { child.scope.env.require.clear(); });
  // Dropping the parent's pin: the child's program would run without it.
  wider_if(p, "env.pin.MODE", [&](Artifact& child) { child.scope.env.pin.erase("MODE"); });
  Artifact c = child_artifact(p);
  c.scope.env.pin["HOME"] = "/srv";  // allowed in the parent: pinning narrows
  c.scope.env.allow.clear();
  CHECK(check_attenuation(p, parsed(c)).allowed());
}

TEST_CASE("attenuation: cwd and read/write/exec paths") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  wider_if(p, "exec.cwd", [&](Artifact& child) { child.scope.cwd = "/home"; });
  wider_if(p, "sandbox.read[2]", [&](Artifact& child) { child.scope.sandbox.read.push_back("/home"); });
  wider_if(p, "sandbox.write[0]", [&](Artifact& child) {
    child.scope.sandbox.write = {"/srv"};  // the parent writes only /srv/out
  });
  wider_if(p, "sandbox.write[0]", [&](Artifact& child) {
    child.scope.sandbox.write = {"/srv/outside"};  // prefix of a name is not containment
  });
  wider_if(p, "sandbox.write[0]", [&](Artifact& child) {
    child.scope.sandbox.write = {"/etc"};  // readable by the parent, not writable
  });
  wider_if(p, "sandbox.exec[0]", [&](Artifact& child) { child.scope.sandbox.exec = {"/usr/bin"}; });
  Artifact c = child_artifact(p);
  c.scope.sandbox.exec = {"/opt/tools/bin"};
  c.scope.sandbox.write = {"/srv/out/job"};
  CHECK(check_attenuation(p, parsed(c)).allowed());
  c.scope.sandbox.exec = {"/srv/out/job"};
  c.scope.sandbox.exec_writable = {"/srv/out/job"};
  expect_wider(p, c, "sandbox.exec[0]");
}

TEST_CASE("attenuation: pinned files") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  Artifact c = child_artifact(p);
  c.scope.files.clear();
  expect_wider(p, c, "file");
  c.scope.files = {{"/etc/agent.conf", std::string(64, 'd')}};
  expect_wider(p, c, "file");
}

TEST_CASE("attenuation: syscall groups and named syscalls") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  wider_if(p, "sandbox.groups", [&](Artifact& child) { child.scope.sandbox.groups = {"default", "process"}; });
  wider_if(p, "sandbox.allow_syscalls", [&](Artifact& child) { child.scope.sandbox.allow_syscalls = {"ptrace"}; });
  Artifact c = child_artifact(p);
  c.scope.sandbox.allow_syscalls = {"memfd_create"};  // the parent names it
  c.scope.sandbox.groups = {"default", "network"};
  CHECK(check_attenuation(p, parsed(c)).allowed());
  Artifact killing = p;
  killing.scope.sandbox.default_action = SeccompDefault::Kill;
  killing = parsed(killing);
  c = child_artifact(killing);
  expect_wider(killing, c, "sandbox.default_action");
}

TEST_CASE("attenuation: ioctl groups and requests") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  wider_if(p, "sandbox.ioctl_groups", [&](Artifact& child) { child.scope.sandbox.ioctl_groups = {"fs-query"}; });
  wider_if(p, "sandbox.ioctls", [&](Artifact& child) { child.scope.sandbox.ioctls = {"FIFREEZE"}; });
  Artifact c = child_artifact(p);
  c.scope.sandbox.ioctl_groups = {"tty"};
  CHECK(check_attenuation(p, parsed(c)).allowed());
}

TEST_CASE("attenuation: network and unix sockets") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  Artifact c = child_artifact(p);
  c.scope.sandbox.network = NetMode::Tcp;
  c.scope.sandbox.connect_tcp = {80};
  expect_wider(p, c, "sandbox.connect_tcp");
  c.scope.sandbox.connect_tcp = {443};
  c.scope.sandbox.bind_tcp = {8080};
  expect_wider(p, c, "sandbox.bind_tcp");
  c = child_artifact(p);
  c.scope.sandbox.unix_sockets = true;
  expect_wider(p, c, "sandbox.unix_sockets");
  Artifact offline = p;
  offline.scope.sandbox.network = NetMode::None;
  offline.scope.sandbox.connect_tcp.clear();
  offline = parsed(offline);
  wider_if(offline, "sandbox.network", [&](Artifact& child) { child.scope.sandbox.network = NetMode::Tcp; });
}

TEST_CASE("attenuation: enforcement, time window, uses, identity") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  wider_if(p, "sandbox.min_landlock_abi", [&](Artifact& child) { child.scope.sandbox.min_landlock_abi = 1; });
  wider_if(p, "sandbox.allow_downgrade", [&](Artifact& child) { child.scope.sandbox.allow_downgrade = {"net"}; });
  Artifact audited = p;
  audited.scope.sandbox.log_denials = true;
  audited = parsed(audited);
  wider_if(audited, "sandbox.log_denials", [&](Artifact& child) { child.scope.sandbox.log_denials = false; });
  Artifact logs = child_artifact(audited);
  logs.scope.sandbox.log_denials = true;
  CHECK(check_attenuation(audited, parsed(logs)).allowed());
  wider_if(p, "not_before", [&](Artifact& child) { child.not_before = p.not_before - 1; });
  wider_if(p, "not_after", [&](Artifact& child) { child.not_after = p.not_after + 1; });
  wider_if(p, "replay.max_uses", [&](Artifact& child) { child.max_uses = p.max_uses + 1; });
  Artifact c = child_artifact(p);
  c.bindings.uid.reset();  // runs as anyone: wider than the parent's uid
  expect_wider(p, c, "bindings.uid");
  c.bindings.uid = 0;
  expect_wider(p, c, "bindings.uid");
  Artifact hosted = p;
  hosted.bindings.hostname = "host-a";
  hosted = parsed(hosted);
  c = child_artifact(hosted);
  expect_wider(hosted, c, "bindings.hostname");
}

TEST_CASE("attenuation: tables lineage does not model must be equal ([run])") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  Artifact c = child_artifact(p);
  // [run] is another change's table; this build does not parse it, so the
  // bodies are compared as check_attenuation sees them, after parsing.
  Artifact pr = p, cr = c;
  pr.body += "\n[run]\nuser = \"agent\"\n";
  cr.body += "\n[run]\nuser = \"root\"\n";
  Decision d = check_attenuation(pr, cr);
  CHECK(d.reason == DenyReason::LineageInconsistency);
  CHECK(d.field == "run");
  cr.body = c.body;  // child without [run]: runs as the caller, not as the parent's user
  CHECK(check_attenuation(pr, cr).field == "run");
  cr.body = c.body + "\n[run]\nuser = \"agent\"\n";
  CHECK(check_attenuation(pr, cr).allowed());
  CHECK(check_attenuation(p, cr).field == "run");  // the parent has none
}

TEST_CASE("attenuation: delegation of the child's own children") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  Artifact c = child_artifact(p);
  c.delegation.present = true;
  c.delegation.max_depth = 2;  // parent 2: a child may delegate 1 at most
  expect_wider(p, c, "delegation.max_depth");
  c.delegation.max_depth = 1;
  CHECK(check_attenuation(p, parsed(c)).allowed());
  c.delegation.executables = {{"/usr/bin/curl", std::string(64, 'e'), std::nullopt}};
  expect_wider(p, c, "delegation.executable[0]");
  c.delegation.executables = {{"/usr/bin/tool", std::string(64, 'b'), std::nullopt}};
  expect_wider(p, c, "delegation.executable[0].argv");  // the parent bounds the tool's argv
  c.delegation.executables = {
      {"/usr/bin/tool", std::string(64, 'b'), std::vector<ArgPattern>{{"tool", false}, {"-n", false}}}};
  CHECK(check_attenuation(p, parsed(c)).allowed());
}

TEST_CASE("narrow_to_parent pre-fills a child within the parent's bounds") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  Artifact c = child_artifact(p);
  // A wide template: default read paths, network, more groups, longer window.
  c.parent.clear();
  c.not_after = p.not_after + 86400;
  c.max_uses = 100;
  c.scope.env.allow = {"PATH", "HOME", "TERM"};
  c.scope.env.pin.clear();
  c.scope.env.require.clear();
  c.scope.files.clear();
  c.scope.sandbox.groups = {"default", "process"};
  c.scope.sandbox.read = {"/usr", "/etc", "/var"};
  c.scope.sandbox.write = {"/dev/null", "/srv/out/job"};
  c.scope.sandbox.network = NetMode::Tcp;
  c.scope.sandbox.connect_tcp = {443, 80};
  c.scope.sandbox.min_landlock_abi = 1;
  c.bindings.uid.reset();
  auto n = narrow_to_parent(parsed(c), p);
  REQUIRE(n.ok());
  CHECK(n->parent == p.digest());
  Decision d = check_attenuation(p, *n);
  INFO(d.explain());
  CHECK(d.allowed());
  CHECK(n->scope.sandbox.connect_tcp == std::vector<uint16_t>{443});
  CHECK(n->scope.sandbox.read == std::vector<std::string>{"/usr", "/etc"});
}

// ---- chains ----

namespace {

struct Chain {
  Keys keys;
  VerifyOptions opts;
  std::vector<std::string> revoked;
  Chain() {
    opts.now = kNow;
    opts.trust = &keys.trust;
    opts.artifact_revoked = [this](const std::string& d) {
      return std::find(revoked.begin(), revoked.end(), d) != revoked.end();
    };
  }
  LineageVerification verify(const std::string& leaf, const std::vector<std::string>& parents) {
    ParentSet set;
    for (size_t i = 0; i < parents.size(); ++i) {
      // Appended, not `"p" + std::to_string(i)`: GCC 12 -O3 -Wrestrict false positive (bug 105329).
      std::string origin = "p";
      origin += std::to_string(i);
      REQUIRE(set.add_bytes(parents[i], origin).allowed());
    }
    return verify_lineage_bytes(leaf, set, opts);
  }
};

std::string digest_of(const std::string& signed_bytes) {
  return "sha256:" + crypto::sha256_hex(split_artifact(signed_bytes)->body);
}

}  // namespace

TEST_CASE("a chain verifies link by link: root by trust, children by delegation") {
  Chain ch;
  Artifact p = parent_artifact(ch.keys);
  std::string root = ch.keys.sign(p, {0});
  Artifact c = child_artifact(p);
  std::string by_agent = ch.keys.sign(c, {1});
  auto v = ch.verify(by_agent, {root});
  INFO(v.decision.explain());
  REQUIRE(v.decision.allowed());
  REQUIRE(v.chain.size() == 2);
  CHECK(v.chain[0].digest == p.digest());
  CHECK(v.chain[0].authority == "trust store");
  CHECK(v.chain[1].digest == c.digest());
  CHECK(v.chain[1].signer_names == std::vector<std::string>{"delegated:agent"});
  REQUIRE(v.leaf.artifact);
  CHECK(v.leaf.artifact->id == "agent-tool");
  // The parent's own approver may sign its children too.
  CHECK(ch.verify(ch.keys.sign(c, {0}), {root}).decision.allowed());

  SECTION("a stranger's or another trusted key's signature is no delegation") {
    for (int who : {2, 3}) {
      auto bad = ch.verify(ch.keys.sign(c, {who}), {root});
      CHECK(bad.decision.reason == DenyReason::LineageInconsistency);
      CHECK(bad.decision.detail.find("not validly signed by a key its parent delegates to") != std::string::npos);
    }
  }
  SECTION("a child altered after signing") {
    std::string tampered = by_agent;
    tampered.replace(tampered.find("max_uses = 3"), 12, "max_uses = 9");
    CHECK(ch.verify(tampered, {root}).decision.reason == DenyReason::LineageInconsistency);
  }
  SECTION("the parent missing: the chain cannot be established") {
    auto missing = ch.verify(by_agent, {});
    CHECK(missing.decision.reason == DenyReason::LineageInconsistency);
    CHECK(missing.decision.field == "lineage.parent");
    CHECK(missing.decision.value == p.digest());
    CHECK(!missing.leaf.artifact);
  }
  SECTION("a parent not signed by a trusted key breaks the chain") {
    auto v2 = ch.verify(by_agent, {ch.keys.sign(p, {2})});
    CHECK(v2.decision.reason == DenyReason::LineageInconsistency);
    CHECK(v2.decision.detail.find("root artifact") != std::string::npos);
  }
  SECTION("revoking the parent revokes the child") {
    ch.revoked = {p.digest()};
    auto r = ch.verify(by_agent, {root});
    CHECK(r.decision.reason == DenyReason::Revoked);
  }
  SECTION("an expired parent") {
    ch.opts.now = p.not_after + 3600;
    CHECK(ch.verify(by_agent, {root}).decision.reason == DenyReason::Expired);
  }
  SECTION("a revoked delegated key signs nothing") {
    const std::string agent = ch.keys.k[1].public_key().key_id();
    ch.opts.key_revoked = [agent](const std::string& id) { return id == agent; };
    auto r = ch.verify(by_agent, {root});
    CHECK(r.decision.reason == DenyReason::Revoked);  // the revocation list's key entry
    CHECK(r.decision.detail.find("link " + c.digest()) != std::string::npos);
  }
  SECTION("a delegated key the trust store marks revoked, or holds to a past window, signs nothing") {
    // The agent is also in the trust store (a key people know), revoked
    // there, or expired: being named by the parent does not lift that.
    const bool revoked = GENERATE(true, false);
    TrustedKey agent = gx::test::trusted(ch.keys.k[1].public_key(), "agent");
    if (revoked) agent.revoked = true;
    else agent.not_after = kNow - 7200;
    ch.keys.trust.keys.push_back(agent);
    auto r = ch.verify(by_agent, {root});
    INFO(r.decision.explain());
    CHECK_FALSE(r.decision.allowed());
    CHECK(r.decision.detail.find("link " + c.digest()) != std::string::npos);
    CHECK(!r.leaf.artifact);
  }
  SECTION("a child wider than its parent") {
    Artifact wide = c;
    wide.scope.sandbox.write = {"/"};
    auto w = ch.verify(ch.keys.sign(parsed(wide), {1}), {root});
    CHECK(w.decision.reason == DenyReason::LineageInconsistency);
    CHECK(w.decision.field == "sandbox.write[0]");
    CHECK(!w.leaf.artifact);
  }
}

TEST_CASE("a parent without [delegation] has no children") {
  Chain ch;
  Artifact p = parent_artifact(ch.keys);
  p.delegation = Delegation{};
  p = parsed(p);
  Artifact c = child_artifact(p);
  auto v = ch.verify(ch.keys.sign(c, {0}), {ch.keys.sign(p, {0})});
  CHECK(v.decision.reason == DenyReason::LineageInconsistency);
  CHECK(v.decision.field == "delegation");
}

TEST_CASE("three levels: depth limits and ancestor revocation") {
  Chain ch;
  Artifact p = parent_artifact(ch.keys);  // max_depth 2, delegates key 1
  std::string root = ch.keys.sign(p, {0});
  Artifact agent = child_artifact(p);
  agent.delegation.present = true;
  agent.delegation.max_depth = 1;
  agent.delegation.keys = {DelegatedKey{"tool", ch.keys.k[2].public_key().key_id(), ch.keys.k[2].public_key().pem()}};
  agent = parsed(agent);
  std::string mid = ch.keys.sign(agent, {1});
  Artifact tool = child_artifact(agent);
  tool.id = "tool-sub";
  tool.max_uses = 1;
  tool.parent = agent.digest();
  tool = parsed(tool);
  std::string leaf = ch.keys.sign(tool, {2});  // signed by the key the agent delegates to
  auto v = ch.verify(leaf, {root, mid});
  INFO(v.decision.explain());
  REQUIRE(v.decision.allowed());
  CHECK(v.chain.size() == 3);
  CHECK(v.chain[2].depth == 2);

  SECTION("revoking the root revokes the grandchild") {
    ch.revoked = {p.digest()};
    CHECK(ch.verify(leaf, {root, mid}).decision.reason == DenyReason::Revoked);
  }
  SECTION("revoking the middle link revokes the leaf") {
    ch.revoked = {agent.digest()};
    auto r = ch.verify(leaf, {root, mid});
    CHECK(r.decision.reason == DenyReason::Revoked);
    // The report (and so the receipt) still names the leaf, not the failing link.
    CHECK(r.leaf.digest == tool.digest());
    CHECK(r.leaf.signers.empty());
    CHECK(!r.leaf.artifact);
  }
  SECTION("one level deeper than the root allows") {
    Artifact sub = child_artifact(tool);
    sub.id = "too-deep";
    sub.max_uses = 1;
    sub.parent = tool.digest();
    sub = parsed(sub);
    // tool has no [delegation]: first refusal; give it one and the depth limit refuses.
    auto a = ch.verify(ch.keys.sign(sub, {2}), {root, mid, leaf});
    CHECK(a.decision.reason == DenyReason::LineageInconsistency);
    CHECK(a.decision.field == "delegation");
  }
  SECTION("the root's max_depth bounds every level below it") {
    Artifact shallow = p;
    shallow.delegation.max_depth = 1;
    shallow = parsed(shallow);
    Artifact a2 = agent;
    a2.parent = shallow.digest();
    a2.delegation.max_depth = 1;  // wider than shallow allows (0)
    a2 = parsed(a2);
    Artifact t2 = tool;
    t2.parent = a2.digest();
    t2 = parsed(t2);
    auto d = ch.verify(ch.keys.sign(t2, {2}), {ch.keys.sign(shallow, {0}), ch.keys.sign(a2, {1})});
    CHECK(d.decision.reason == DenyReason::LineageInconsistency);
    CHECK(d.decision.field == "delegation.max_depth");
  }
}

TEST_CASE("chains are bounded in length; parents are found by digest only") {
  Chain ch;
  // Bodies only: the length limit is hit before any signature is looked at.
  std::vector<std::string> parents;
  std::string parent_digest;
  for (int i = 0; i < kMaxDelegationDepth + 2; ++i) {
    Artifact a = parent_artifact(ch.keys);
    a.id = "link";
    a.id += std::to_string(i);
    a.parent = parent_digest;
    a = parsed(a);
    parents.push_back(ch.keys.sign(a, {0}));
    parent_digest = a.digest();
  }
  std::string leaf = parents.back();
  parents.pop_back();
  auto v = ch.verify(leaf, parents);
  CHECK(v.decision.reason == DenyReason::LineageInconsistency);
  CHECK(v.decision.detail.find("longer than") != std::string::npos);
  // An unrelated file among the parents changes nothing.
  Chain ch2;
  Artifact p = parent_artifact(ch2.keys);
  Artifact other = p;
  other.id = "unrelated";
  other = parsed(other);
  auto ok = ch2.verify(ch2.keys.sign(child_artifact(p), {1}), {ch2.keys.sign(other, {0}), ch2.keys.sign(p, {0})});
  CHECK(ok.decision.allowed());
  CHECK(digest_of(ch2.keys.sign(p, {0})) == p.digest());
}

TEST_CASE("a parent's bounds are fixed once: a tree it swaps for a symlink later does not move them") {
  // The agent (the parent, running) writes d/work and reads d/work/data; it
  // replaces d/work/data with a symlink to a directory it cannot read, then
  // asks for a child reading that directory (docs/lineage.md).
  Chain ch;
  test::TempDir d("lineage"), secret("lineage-secret");
  const std::string work = d.path + "/work", data = work + "/data";
  REQUIRE(fs::make_dirs(data, 0755));
  Artifact p = parent_artifact(ch.keys);
  p.scope.sandbox.read = {"/usr", data};
  p.scope.sandbox.write = {work};
  p = parsed(p);
  Artifact c = child_artifact(p);
  c.scope.sandbox.read = {"/usr/lib", secret.path};
  c.scope.sandbox.write = {work};
  c = parsed(c);
  const std::string root = ch.keys.sign(p, {0}), leaf = ch.keys.sign(c, {1});
  CHECK(check_attenuation(p, c).field == "sandbox.read[1]");  // before: outside

  const TreeBounds fixed = resolve_bounds(p);  // as when the parent started
  REQUIRE(std::rename(data.c_str(), (data + ".old").c_str()) == 0);
  REQUIRE(symlink(secret.path.c_str(), data.c_str()) == 0);
  const std::string target = fs::canonical(secret.path);

  Decision d1 = check_attenuation(p, fixed, c);
  CHECK(d1.reason == DenyReason::LineageInconsistency);
  CHECK(d1.field == "sandbox.read[1]");
  CHECK(d1.value == secret.path);
  Artifact by_name = c;  // the parent's own name for the tree, now the symlink
  by_name.scope.sandbox.read = {"/usr/lib", data};
  Decision d2 = check_attenuation(p, fixed, parsed(by_name));
  CHECK(d2.field == "sandbox.read[1]");
  CHECK(d2.value == data);
  CHECK(d2.detail.find("(as " + target + ")") != std::string::npos);

  ParentSet running;
  REQUIRE(running.add_bytes(root, "the run that owns the channel").allowed());
  running.set_bounds(p.digest(), fixed);
  auto v = verify_lineage_bytes(leaf, running, ch.opts);
  CHECK(v.decision.reason == DenyReason::LineageInconsistency);
  CHECK(v.decision.field == "sandbox.read[1]");
  CHECK(!v.leaf.artifact);

  SECTION("a child within the fixed bounds verifies, and the bounds it was checked with come back") {
    Artifact ok = c;
    ok.scope.sandbox.read = {"/usr/lib", work + "/other"};  // not there yet: planned, inside the write tree
    auto v2 = verify_lineage_bytes(ch.keys.sign(parsed(ok), {1}), running, ch.opts);
    INFO(v2.decision.explain());
    REQUIRE(v2.decision.allowed());
    REQUIRE(v2.parent_bounds);
    CHECK(v2.parent_bounds->trees.read == fixed.trees.read);
    CHECK(v2.parent_bounds->trees.read[1] == fs::canonical(d.path) + "/work/data");
  }
  SECTION("a parent that is not running is resolved when its link is checked, and so are the bounds returned") {
    ParentSet files;
    REQUIRE(files.add_bytes(root, "p0").allowed());
    auto v3 = verify_lineage_bytes(leaf, files, ch.opts);
    REQUIRE(v3.parent_bounds);
    CHECK(v3.parent_bounds->trees.read[1] == target);
  }
}

TEST_CASE("check_grants_within: a child's rules are judged by the names of the descriptors they went on") {
  const TreeBounds parent{"/srv", GrantNames{{"/usr", "/srv/in"}, {"/srv/out"}, {"/opt/tools"}, {}, {}}};
  SandboxPolicy c;
  c.read = {"/usr/lib", "/srv/out/l"};
  c.write = {"/srv/out/job"};
  c.exec = {"/opt/tools/bin"};
  CHECK(check_grants_within(parent, c,
                            GrantNames{{"/usr/lib", "/srv/out/l"}, {"/srv/out/job"}, {"/opt/tools/bin"}, {}, {}})
            .allowed());
  // The path a symlink at /srv/out/l pointed to when the rule's descriptor was opened.
  Decision d = check_grants_within(parent, c, GrantNames{{"/usr/lib", "/etc/secret"}, {"/srv/out/job"}, {}, {}, {}});
  CHECK(d.reason == DenyReason::LineageInconsistency);
  CHECK(d.field == "sandbox.read[1]");
  CHECK(d.value == "/srv/out/l");
  CHECK(d.detail.find("/srv/out/l (as /etc/secret)") != std::string::npos);
  Decision w = check_grants_within(parent, c, GrantNames{{"/usr/lib", "/srv/out/l"}, {"/srv/in/job"}, {}, {}, {}});
  CHECK(w.field == "sandbox.write[0]");  // readable by the parent, not writable
  CHECK(w.value == "/srv/out/job");
  CHECK(check_grants_within(parent, c, GrantNames{{"/usr/lib", "/srv/out/l"}, {"/srv/out/job"}, {"/usr/bin"}, {}, {}})
            .field == "sandbox.exec[0]");
  // Names that are no path bound nothing and are inside nothing.
  CHECK(check_grants_within(parent, c, GrantNames{{"/usr/lib", ""}, {"/srv/out/job"}, {}, {}, {}}).field ==
        "sandbox.read[1]");
  CHECK(check_grants_within(parent, c, GrantNames{{"/usr/lib", "(removed)"}, {"/srv/out/job"}, {}, {}, {}}).field ==
        "sandbox.read[1]");
  const TreeBounds removed{"/srv", GrantNames{{"(removed)"}, {""}, {}, {}, {}}};
  SandboxPolicy r;
  r.read = {"/x"};
  CHECK(check_grants_within(removed, r, GrantNames{{"(removed)"}, {}, {}, {}, {}}).field == "sandbox.read[0]");
  c.exec_writable = {"/opt/tools/bin"};
  CHECK(check_grants_within(
            parent, c,
            GrantNames{{"/usr/lib", "/srv/out/l"}, {"/srv/out/job"}, {"/opt/tools/bin"}, {"/opt/tools/bin"}, {}})
            .field == "sandbox.exec_writable[0]");
  // gx's own execute grants: an ELF interpreter in a tree the running parent
  // may write could change before the kernel opens it by name.
  c.exec_writable = {};
  const GrantNames child{{"/usr/lib", "/srv/out/l"}, {"/srv/out/job"}, {"/opt/tools/bin"}, {}, {}};
  GrantNames loader = child;
  loader.implicit_exec = {"/lib64/ld-linux-x86-64.so.2", "/srv/out/ld.so"};
  Decision i = check_grants_within(parent, c, loader);
  CHECK(i.reason == DenyReason::LineageInconsistency);
  CHECK(i.field == "implicit_exec[1]");
  CHECK(i.value == "/srv/out/ld.so");
  loader.implicit_exec = {"/lib64/ld-linux-x86-64.so.2", "/srv/in/ld.so"};  // readable by the parent only
  CHECK(check_grants_within(parent, c, loader));
}

TEST_CASE("an artifact without a parent verifies as before") {
  Chain ch;
  Artifact p = parent_artifact(ch.keys);
  auto v = ch.verify(ch.keys.sign(p, {0}), {});
  CHECK(v.decision.allowed());
  CHECK(v.chain.size() == 1);
  CHECK(ch.verify(ch.keys.sign(p, {2}), {}).decision.reason == DenyReason::UntrustedKey);
}

TEST_CASE("a resolver that returns a chain with a repeated digest: a cycle, named") {
  Chain ch;
  Artifact p = parent_artifact(ch.keys);
  const std::string leaf = ch.keys.sign(child_artifact(p), {1});
  const std::string leaf_digest = digest_of(leaf);
  // A content-addressed ParentSet can never return this: bytes that name the
  // leaf as their parent, handed out for the leaf's parent digest.
  Artifact loop = p;
  loop.id = "loop";
  loop.parent = leaf_digest;
  const std::string loop_bytes = ch.keys.sign(parsed(loop), {0});
  int lookups = 0;
  auto v = verify_lineage_with(
      leaf,
      [&](const std::string& digest) {
        ++lookups;
        if (digest == p.digest()) return ResolvedParent{&loop_bytes, "resolver"};
        if (digest == leaf_digest) return ResolvedParent{&leaf, "resolver"};  // never reached: refused first
        return ResolvedParent{};
      },
      ch.opts);
  INFO(v.decision.explain());
  CHECK(v.decision.reason == DenyReason::LineageInconsistency);
  CHECK(v.decision.detail.find("lineage cycle") != std::string::npos);
  CHECK(v.decision.detail.find(leaf_digest) != std::string::npos);
  CHECK(v.decision.field == "lineage.parent");
  CHECK(v.decision.value == leaf_digest);
  CHECK(lookups == 1);
  CHECK(v.chain.empty());
}

TEST_CASE("[delegation] nested_runs: parsed, rendered, and no child may have it unless its parent does") {
  Keys keys;
  Artifact p = parent_artifact(keys);
  CHECK_FALSE(p.delegation.nested_runs);
  Artifact c = child_artifact(p);
  c.delegation.present = true;
  c.delegation.max_depth = 1;
  c.delegation.nested_runs = true;
  c = parsed(c);
  CHECK(c.delegation.nested_runs);
  CHECK(render_artifact_body(c).find("nested_runs = true") != std::string::npos);
  expect_wider(p, c, "delegation.nested_runs");
  p.delegation.nested_runs = true;
  p = parsed(p);
  c.parent = p.digest();
  CHECK(check_attenuation(p, parsed(c)).allowed());
}
