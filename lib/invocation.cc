#include "lib/invocation.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "lib/crypto.h"
#include "lib/digest_cache.h"
#include "lib/fsutil.h"
#include "lib/landlock.h"

namespace gx {

std::optional<std::string> env_lookup(const std::vector<std::string>& env, std::string_view name) {
  for (const auto& e : env)
    if (e.size() > name.size() && e[name.size()] == '=' && e.compare(0, name.size(), name) == 0)
      return e.substr(name.size() + 1);
  return std::nullopt;
}

Result<std::vector<std::string>> filter_environment(const EnvPolicy& policy, const std::vector<std::string>& env) {
  std::vector<std::string> out;
  for (const auto& e : env) {
    auto eq = e.find('=');
    if (eq == std::string::npos || eq == 0) continue;  // not NAME=VALUE: never passed
    std::string name = e.substr(0, eq);
    if (auto pin = policy.pin.find(name); pin != policy.pin.end()) {
      if (e.substr(eq + 1) != pin->second)
        return Decision::deny(DenyReason::EnvironmentalIntegrity,
                              "environment variable " + name + " must be '" + pin->second + "'", "env.pin." + name,
                              e.substr(eq + 1));
      out.push_back(e);
    } else if (std::find(policy.allow.begin(), policy.allow.end(), name) != policy.allow.end()) {
      out.push_back(e);
    }
  }
  for (const auto& [name, value] : policy.pin)
    if (!env_lookup(env, name))
      return Decision::deny(DenyReason::EnvironmentalIntegrity,
                            "environment variable " + name + " must be set to '" + value + "'", "env.pin." + name);
  for (const auto& name : policy.require)
    if (!env_lookup(out, name))
      return Decision::deny(DenyReason::EnvironmentalIntegrity, "required environment variable " + name + " is not set",
                            "env.require", name);
  return out;
}

std::string script_fallback_warning(const std::string& script_arg, const std::string& why) {
  return "script handed to its interpreter as " + script_arg +
         " ($0 is not its path, see gx-artifact(5) \"Scripts\"): " + why;
}

namespace {

// The loader of an ELF image must be executable under Landlock (the kernel
// opens it by path); static binaries and scripts' interpreters are covered.
Decision add_loader(const ExecImage& image, std::vector<std::string>& implicit) {
  auto interp = elf_interpreter(image.fd());
  if (!interp) return interp.error();
  if (interp->empty()) return Decision::allow();
  // gx opens this name for the Landlock rule; the kernel opens it again in
  // the child. A name that means another file in another process --
  // relative (the cwd), through /proc or /dev/fd -- would put the rule on
  // one file and load another (review helper-38: /proc/self/cwd/ldso gave
  // a delegated tool execute and read on a directory its parent could not
  // read). And the rule must be on a file, never a tree.
  const std::string& p = *interp;
  auto under = [&](const std::string& dir) { return p == dir || p.rfind(dir + "/", 0) == 0; };
  if (p[0] != '/' || under("/proc") || under("/dev/fd") || p.find("/../") != std::string::npos)
    return Decision::deny(DenyReason::InvalidValue,
                          "the program's ELF interpreter (PT_INTERP) must be an absolute path outside /proc and "
                          "/dev/fd, without '..'",
                          "exec.path", p);
  struct stat st {};
  if (stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return Decision::deny(DenyReason::InvalidValue,
                          "the program's ELF interpreter (PT_INTERP) " + p + " is not a regular file", "exec.path", p);
  implicit.push_back(p);
  return Decision::allow();
}

}  // namespace

namespace {

// Who may change a file: its owner, whoever has write permission on it, and
// whoever may write a directory on its path (rename/replace). The pin holds
// only if that is root alone. A root-owned sticky directory (/tmp) is fine:
// others cannot rename or remove root's entries in it.
Decision root_only(const struct stat& st, const std::string& path, bool is_dir, const std::string& field,
                   const std::string& pinned) {
  const std::string what = (is_dir ? "directory " : "pinned file ") + path;
  if (st.st_uid != 0)
    return Decision::deny(
        DenyReason::EnvironmentalIntegrity,
        what + " is owned by uid " + std::to_string(st.st_uid) + ": only files that only root can change can be pinned",
        field, pinned);
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !(is_dir && (st.st_mode & S_ISVTX)))
    return Decision::deny(DenyReason::EnvironmentalIntegrity,
                          what + " is writable by group or others: only files that only root can change can be pinned",
                          field, pinned);
  return Decision::allow();
}

// Opens a pinned file after checking that only root can change it.
Result<int> open_pinned(const std::string& path, const std::string& field) {
  const std::string real = fs::canonical(path);
  if (real.empty())
    return Decision::deny(DenyReason::EnvironmentalIntegrity,
                          "pinned file " + path + " cannot be read: " + fs::errno_text(errno), field, path);
  // A symlink on the way is one more thing someone could re-point.
  if (real != path)
    return Decision::deny(DenyReason::EnvironmentalIntegrity,
                          "pinned file " + path + " is reached through a symbolic link; pin its real path " + real,
                          field, path);
  // Every directory from "/" down, then the file itself through an fd (no
  // symlink may have appeared since: O_NOFOLLOW, and the directories are
  // root's alone once checked, top down).
  for (size_t slash = 0; slash != std::string::npos; slash = real.find('/', slash + 1)) {
    const std::string dir = slash == 0 ? "/" : real.substr(0, slash);
    struct stat st {};
    if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Decision::deny(DenyReason::EnvironmentalIntegrity,
                            "pinned file " + path + ": " + dir + " is not a directory", field, path);
    if (Decision d = root_only(st, dir, true, field, path); !d) return d;
  }
  int fd = open(real.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return Decision::deny(DenyReason::EnvironmentalIntegrity,
                          "pinned file " + path + " cannot be read: " + fs::errno_text(errno), field, path);
  struct stat st {};
  Decision d = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
                   ? Decision::deny(DenyReason::EnvironmentalIntegrity,
                                    "pinned file " + path + " is not a regular file", field, path)
                   : root_only(st, path, false, field, path);
  if (!d) {
    close(fd);
    return d;
  }
  return fd;
}

}  // namespace

Decision check_pin_writers(const std::string& path, const std::string& field) {
  auto fd = open_pinned(path, field);
  if (!fd) return fd.error();
  close(*fd);
  return Decision::allow();
}

Decision check_pinned_file(const FilePin& pin, size_t index, const SandboxPolicy& sandbox) {
  const std::string at = "file[" + std::to_string(index) + "]";
  // The command itself must not be able to change what was pinned.
  for (const auto& w : sandbox.write) {
    std::string cw = fs::canonical(w);
    if (fs::path_within(pin.path, w) || (!cw.empty() && fs::path_within(pin.path, cw)))
      return Decision::deny(
          DenyReason::EnvironmentalIntegrity,
          "pinned file " + pin.path + " lies in the write grant " + w + ": the command could change it",
          "sandbox.write", w);
  }
  auto fd = open_pinned(pin.path, at + ".path");
  if (!fd) return fd.error();
  // Digest the very file whose owner and mode were checked.
  auto d = crypto::sha256_fd_hex(*fd);
  close(*fd);
  if (!d)
    return Decision::deny(DenyReason::EnvironmentalIntegrity, "pinned file " + pin.path + " cannot be read",
                          at + ".sha256", pin.path);
  if (*d != pin.sha256)
    return Decision::deny(DenyReason::EnvironmentalIntegrity, "pinned file " + pin.path + " has changed",
                          at + ".sha256", *d);
  return Decision::allow();
}

namespace {

// Executing the original file (lib/executable.h) needs Landlock's execute
// right on it. That widens nothing when exec = [] (the exec guard refuses
// every exec after gx's own) or when an exec grant already covers the file;
// otherwise the child could start its own program again with other
// arguments, so the copy is kept. Never for a file a write grant covers.
bool may_run_in_place(const SandboxPolicy& policy, const std::string& path) {
  const std::string file = fs::canonical(path);
  if (file.empty()) return false;
  auto covered = [&](const std::vector<std::string>& grants) {
    return std::any_of(grants.begin(), grants.end(), [&](const std::string& g) {
      const std::string c = fs::canonical(g);
      return !c.empty() && fs::path_within(file, c);
    });
  };
  if (covered(policy.write)) return false;
  return policy.exec.empty() || covered(policy.exec);
}

Result<ExecImage> load_image(const std::string& path, const std::string& expected, const SandboxPolicy& policy,
                             const DigestCache* digests) {
  if (!digests || !may_run_in_place(policy, path)) return ExecImage::load(path);
  // Root alone (not "root or the caller"): lib/executable.h says why.
  return ExecImage::load_in_place(path, InPlaceOptions{digests, expected, 0});
}

}  // namespace

Result<MatchedInvocation> match_invocation(const Artifact& artifact, const Invocation& inv,
                                           const DigestCache* digests) {
  const Scope& scope = artifact.scope;
  if (inv.argv.empty()) return Decision::deny(DenyReason::Usage, "no command given (gx run ART -- CMD ARGS...)");
  auto resolved = resolve_for_exec(inv.argv[0], env_lookup(inv.env, "PATH").value_or(""), inv.cwd);
  auto not_authorized_path = [&] {
    return Decision::deny(DenyReason::PolicyMismatch,
                          "command '" + inv.argv[0] + "' does not resolve to the authorized " + scope.path, "exec.path",
                          inv.argv[0]);
  };
  if (!resolved) return inv.show_resolution ? resolved.error() : not_authorized_path();
  const std::string* path = &resolved->path;
  if (*path != scope.path) {
    if (!inv.show_resolution) return not_authorized_path();
    return Decision::deny(DenyReason::PolicyMismatch,
                          "command resolves to " + *path + ", artifact authorizes " + scope.path, "exec.path", *path);
  }
  if (inv.argv.size() != scope.argv.size())
    return Decision::deny(DenyReason::PolicyMismatch,
                          "command has " + std::to_string(inv.argv.size()) +
                              " arguments (argv[0] included), artifact authorizes " + std::to_string(scope.argv.size()),
                          "exec.argv", std::to_string(inv.argv.size()));
  for (size_t i = 0; i < inv.argv.size(); ++i)
    if (!scope.argv[i].matches(inv.argv[i]))
      return Decision::deny(DenyReason::PolicyMismatch,
                            "argv[" + std::to_string(i) + "] differs: artifact authorizes " +
                                (scope.argv[i].glob ? "glob '" : "'") + scope.argv[i].text + "'",
                            "exec.argv[" + std::to_string(i) + "]", inv.argv[i]);
  std::string cwd = fs::canonical(inv.cwd);
  if (cwd.empty() || cwd != scope.cwd)
    return Decision::deny(DenyReason::PolicyMismatch, "working directory must be " + scope.cwd, "exec.cwd",
                          cwd.empty() || !inv.show_resolution ? inv.cwd : cwd);
  auto env = filter_environment(scope.env, inv.env);
  if (!env) return env.error();

  auto image = load_image(*path, scope.sha256, scope.sandbox, digests);
  if (!image) return image.error();
  if (image->sha256() != scope.sha256)
    return Decision::deny(DenyReason::DigestMismatch,
                          scope.path + " is not the authorized executable (content changed)", "exec.sha256",
                          image->sha256());
  MatchedInvocation m;
  m.cwd = cwd;
  m.env = env.take();
  if (image->is_script()) {
    if (scope.interpreter.empty())
      return Decision::deny(DenyReason::PolicyMismatch,
                            scope.path + " is a script but the artifact pins no interpreter", "exec.interpreter",
                            image->shebang().interpreter);
    if (image->shebang().interpreter != scope.interpreter)
      return Decision::deny(
          DenyReason::PolicyMismatch,
          "script's #! names " + image->shebang().interpreter + ", artifact authorizes " + scope.interpreter,
          "exec.interpreter", image->shebang().interpreter);
    auto interp = load_image(scope.interpreter, scope.interpreter_sha256, scope.sandbox, digests);
    if (!interp) return interp.error();
    if (interp->sha256() != scope.interpreter_sha256)
      return Decision::deny(DenyReason::DigestMismatch,
                            scope.interpreter + " is not the authorized interpreter (content changed)",
                            "exec.interpreter_sha256", interp->sha256());
    if (interp->is_script())
      return Decision::deny(DenyReason::PolicyMismatch, "interpreter " + scope.interpreter + " is itself a script",
                            "exec.interpreter", scope.interpreter);
    if (Decision d = add_loader(*interp, m.implicit_exec); !d) return d;
    // The script itself is never run from its own file: its interpreter
    // reads it after the exec, for as long as it runs, beyond any lease, and
    // the /dev/fd/N form below must hand over bytes nobody can change
    // (review helper-40). A script is small: its sealed copy costs little.
    if (image->in_place()) {
      auto copy = ExecImage::load(*path);
      if (!copy) return copy.error();
      if (copy->sha256() != scope.sha256)
        return Decision::deny(DenyReason::DigestMismatch,
                              scope.path + " is not the authorized executable (content changed)", "exec.sha256",
                              copy->sha256());
      image = std::move(copy);
    }
    // argv as the kernel would build it. The script by its path only when
    // no one but root or the caller can swap it before the interpreter
    // opens it; else the sealed copy as /dev/fd/N (the child inherits the
    // memfd under the same number).
    std::string why = script_path_unsafe_reason(resolved->as_exec, cwd, geteuid(), image->device(), image->inode());
    if (why.empty()) {
      // The rule goes on the file the interpreter will open: resolve the
      // path as given (physically), not its lexically normalised form.
      const std::string& as_exec = resolved->as_exec;
      std::string canon = fs::canonical(as_exec[0] == '/' ? as_exec : cwd + "/" + as_exec);
      if (canon.empty()) why = "cannot resolve " + as_exec;
      else m.script_read.push_back(canon);
    }
    if (why.empty()) {
      m.script_arg = resolved->as_exec;
    } else {
      m.script_arg = "/dev/fd/" + std::to_string(image->fd());
      m.script_fallback = why;
    }
    m.argv.push_back(scope.interpreter);
    if (!image->shebang().argument.empty()) m.argv.push_back(image->shebang().argument);
    m.argv.push_back(m.script_arg);
    for (size_t i = 1; i < inv.argv.size(); ++i) m.argv.push_back(inv.argv[i]);
    m.script = image.take();
    m.image = interp.take();
  } else {
    if (!scope.interpreter.empty())
      return Decision::deny(DenyReason::PolicyMismatch,
                            scope.path + " is not a script but the artifact pins an interpreter", "exec.interpreter",
                            scope.interpreter);
    if (Decision d = add_loader(*image, m.implicit_exec); !d) return d;
    m.argv = inv.argv;
    m.image = image.take();
  }
  for (size_t i = 0; i < scope.files.size(); ++i)
    if (Decision d = check_pinned_file(scope.files[i], i, scope.sandbox); !d) return d;
  return m;
}

}  // namespace gx
