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
//                 see executable.h) — digest-mismatch
//   interpreter   for "#!" scripts: the #! line must name exec.interpreter,
//                 whose own copy must match exec.interpreter_sha256
//   file[i]       each pinned dependency's digest (environmental-integrity)
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
  std::vector<std::string> argv;    // final argv for the child (script: rewritten)
  std::vector<std::string> env;     // filtered environment for the child
  std::string cwd;                  // canonical
  std::vector<std::string> implicit_exec;  // ELF loader(s) the child must be able to map
  // The fd the child must inherit: the script's memfd in the fd form, else -1.
  int inherit_fd() const { return script && script_read.empty() ? script->fd() : -1; }
};

// Environment filtering alone (also used by gx learn): returns the child
// environment or an environmental-integrity denial.
Result<std::vector<std::string>> filter_environment(const EnvPolicy& policy, const std::vector<std::string>& env);

Result<MatchedInvocation> match_invocation(const Artifact& artifact, const Invocation& inv);

// "script handed to its interpreter as /dev/fd/N ($0 is not its path): WHY".
std::string script_fallback_warning(const std::string& script_arg, const std::string& why);

// Value of NAME in a NAME=VALUE list.
std::optional<std::string> env_lookup(const std::vector<std::string>& env, std::string_view name);

}  // namespace gx
