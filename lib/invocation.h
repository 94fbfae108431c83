// Matching the real invocation against an artifact's scope.
//
// Checked, in this order, each failure naming the field and the value:
//   exec.path     the command resolved as execvp(3) would, with the caller's
//                 PATH and cwd, must be exactly the authorized path
//   exec.argv     same length; each element equal (or matching its explicit
//                 glob)
//   exec.cwd      the canonical current directory, exactly
//   env           pinned values equal, required names present
//                 (environmental-integrity); the child gets ONLY the
//                 allowed and pinned names — everything else, including
//                 LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, BASH_ENV, ENV,
//                 PYTHONSTARTUP..., is stripped unless the artifact names it
//   exec.sha256   digest of the bytes gx will execute (a sealed memfd copy,
//                 or the original file's verified descriptor, see
//                 executable.h) — digest-mismatch
//   interpreter   for "#!" scripts: the #! line must name exec.interpreter,
//                 whose own copy must match exec.interpreter_sha256
//   file[i]       each pinned file (environmental-integrity), see below
//
// What a pin ([[file]]) guarantees. At the check, just before anything runs,
// the file at `path` has the pinned SHA-256. It also holds for the whole run
// against everyone but root, because a pin is refused unless
//   - `path` is the file's real path (no symbolic link on the way),
//   - the file is a regular file owned by uid 0, not writable by group or
//     others (so no ACL grants write either: the ACL mask is the group bits),
//   - every directory from "/" down is owned by uid 0 and not writable by
//     group or others, unless sticky (others cannot rename root's entries),
//   - no sandbox.write grant contains it (the command cannot change it).
// What it does not guarantee: processes running as root (uid 0 in gx's user
// namespace) outside the sandbox can still change the file during the run,
// and the check does not follow what the command opens (a pin covers one
// path; a file it includes by another path is not pinned). docs/security.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/artifact.h"
#include "lib/decision.h"
#include "lib/executable.h"

namespace gx {

struct Invocation {
  std::vector<std::string> argv;  // as the caller typed it (argv[0] unresolved)
  std::vector<std::string> env;   // "NAME=VALUE" of the caller
  std::string cwd;                // the caller's working directory
  // False for a caller that is not gx's own user (a broker's peer, a nested
  // run's child): gx resolves argv[0], PATH and cwd with ITS rights, so a
  // denial must not tell what they resolved to -- symlink targets, files in
  // directories the caller cannot list, /proc/PID/cwd of anyone (review
  // helper-28). Then every failure to resolve to the authorized path or cwd
  // is the same denial, naming only the caller's own strings.
  bool show_resolution = true;
};

struct MatchedInvocation {
  ExecImage image;                  // what execveat runs (the interpreter for scripts)
  std::optional<ExecImage> script;  // the script's sealed copy (verified; its fd is passed only in the fd form)
  // The script as the interpreter gets it (executable.h): its path when
  // script_path_unsafe_reason() allowed it -- then script_read holds the
  // canonical file, which the sandbox lets the child read -- else
  // "/dev/fd/N" and script_fallback says why (for a warning).
  std::string script_arg;
  std::vector<std::string> script_read;
  std::string script_fallback;
  std::vector<std::string> argv;           // final argv for the child (script: rewritten)
  std::vector<std::string> env;            // filtered environment for the child
  std::string cwd;                         // canonical
  std::vector<std::string> implicit_exec;  // ELF loader(s) the child must be able to map
  // The fd the child must inherit: the script's memfd in the fd form, else -1.
  int inherit_fd() const { return script && script_read.empty() ? script->fd() : -1; }
};

// Environment filtering alone (also used by gx learn): returns the child
// environment or an environmental-integrity denial.
Result<std::vector<std::string>> filter_environment(const EnvPolicy& policy, const std::vector<std::string>& env);

// With `digests`, the program (or a script's interpreter) is executed in
// place when only root can modify it (lib/executable.h,
// ExecImage::load_in_place) and that widens no sandbox grant; its digest
// may then come from the cache (lib/digest_cache.h). Without, always the
// copy. In place, the caller must grant Landlock's execute right on the
// image's descriptor (the kernel checks the file itself, not a copy).
Result<MatchedInvocation> match_invocation(const Artifact& artifact, const Invocation& inv,
                                           const DigestCache* digests = nullptr);

// "script handed to its interpreter as /dev/fd/N ($0 is not its path): WHY".
std::string script_fallback_warning(const std::string& script_arg, const std::string& why);
// The writer rules above for one path (also used by gx init --pin): allow,
// or environmental-integrity naming `field` and the offending file or
// directory.
Decision check_pin_writers(const std::string& path, const std::string& field);
// Writer rules, write grants, then the digest of pin `index`.
Decision check_pinned_file(const FilePin& pin, size_t index, const SandboxPolicy& sandbox);

// Value of NAME in a NAME=VALUE list.
std::optional<std::string> env_lookup(const std::vector<std::string>& env, std::string_view name);

}  // namespace gx
