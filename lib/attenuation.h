// Attenuation: a child artifact's scope is a subset of its parent's in
// every dimension (docs/lineage.md). check_attenuation decides it for one
// link of a chain (lib/lineage.h runs it on every link); narrow_to_parent
// pre-fills `gx init --parent`'s template within the parent's bounds.
#pragma once

#include <string>
#include <vector>

#include "lib/artifact.h"
#include "lib/decision.h"
#include "lib/landlock.h"

namespace gx {

// Where a parent's trees are, as canonical paths fixed once: its cwd and,
// index-aligned with its sandbox lists, the names its read, write, exec and
// exec_writable paths resolve to. A child's paths are compared with these,
// never with the parent's path strings resolved again: a parent running
// with write access could otherwise swap a tree inside its own write tree
// for a symlink to anywhere and so move its bounds (docs/lineage.md).
//   * a running parent (the supervisor of a nested run): the names its own
//     ruleset was built on (PreparedRuleset::names), fixed when it started,
//     and its cwd resolved then (bounds_of_run);
//   * a parent that is not running (gx verify/run/init --parent): resolved
//     when the chain is checked (resolve_bounds).
// A name that is empty or not absolute (unresolvable, "(removed)") bounds
// nothing.
struct TreeBounds {
  std::string cwd;
  GrantNames trees;
};
// canonical_or_planned of each of the artifact's paths, now.
TreeBounds resolve_bounds(const Artifact& a);
// A running artifact's bounds: the names of its own rules.
TreeBounds bounds_of_run(const Artifact& a, const GrantNames& ruleset_names);

// The subset rule, dimension by dimension; allow or lineage-inconsistency
// with field "<dimension>" and value "child <c> / parent <p>". Rules
// (docs/lineage.md):
//   exec          the child's executable (and #! interpreter) is the
//                 parent's own (path + sha256), or a
//                 [[delegation.executable]] of the parent (path + sha256),
//                 or lies inside one of the parent's sandbox.exec trees;
//   argv          against the parent's own argv when the child runs the
//                 parent's executable, against the delegated executable's
//                 argv when it has one, unbounded for an exec-tree program
//                 the parent could run itself with any argv. Same length;
//                 element by element: an exact child argument must be
//                 equal to, or matched by the glob of, the parent's; a
//                 child glob is accepted only when it is textually equal to
//                 the parent's glob or the parent's glob is "*";
//   env           allow: each name allowed by the parent; pin: pinned to
//                 the same value or allowed by the parent, and every name
//                 the parent pins, pinned by the child (to that value);
//                 require: every name the parent requires, the child
//                 requires too;
//   cwd           the parent's cwd or below it, or inside a parent read or
//                 write tree;
//   paths         read inside a parent read or write tree; write inside a
//                 parent write tree; exec inside a parent exec tree;
//                 exec_writable inside the parent's exec_writable (path
//                 prefix containment on canonical paths, components whole:
//                 the child's resolved now, the parent's its TreeBounds);
//   files         every file the parent pins, the child pins to the same digest;
//   syscalls      every syscall the child allows, the parent allows (groups
//                 resolved from seccomp/syscall_groups data, plus
//                 allow_syscalls, minus deny_syscalls; no filter is built,
//                 so this works where libseccomp cannot); a parent's kill
//                 default_action stays kill;
//   ioctls        every request the child allows (groups and names
//                 resolved to numbers), the parent allows;
//   network       none stays none; TCP connect and bind ports a subset;
//                 unix_sockets only if the parent has them;
//   enforcement   min_landlock_abi not lower, allow_downgrade a subset,
//                 log_denials kept when the parent has it;
//   time          [not_before, not_after] inside the parent's;
//   uses          max_uses <= the parent's;
//   identity      every binding (uid, hostname, machine_id) of the parent,
//                 with the same value; any top-level table gx's lineage
//                 does not model (such as [run]) equal in both;
//   delegation    the child's max_depth below the parent's; every
//                 executable it delegates allowed by the parent's exec rule;
//                 nested_runs only if the parent has it.
// The parent's trees, cwd and exec trees are `parent_bounds`; the child's
// paths are resolved now (canonical_or_planned), which is an early answer
// only: what counts for a run is check_grants_within on its ruleset.
Decision check_attenuation(const Artifact& parent, const TreeBounds& parent_bounds, const Artifact& child);
// A parent that is not running: check_attenuation(parent, resolve_bounds(parent), child).
Decision check_attenuation(const Artifact& parent, const Artifact& child);

// The paths rule of check_attenuation, on the names the child's own
// ruleset was built on (PreparedRuleset::names): every read, write, exec
// and exec_writable grant of `child` whose rules went on a descriptor named
// N needs N inside the matching parent bounds, else lineage-inconsistency
// naming the field (sandbox.read[9]) and the path as written, with the
// name it opened as. Run after prepare_ruleset, before the ruleset is
// enforced or anything started: the check is on what the rules are on,
// so a symlink flipped at a child's path between the lineage check and the
// open gets no rule outside the parent. A read grant skipped as absent has
// no rule; it is compared by its planned name. gx's own execute grants
// (GrantNames::implicit_exec: an ELF interpreter, the program run in place)
// must lie outside the parent's write trees: the kernel opens an
// interpreter by name, and the parent keeps running.
Decision check_grants_within(const TreeBounds& parent_bounds, const SandboxPolicy& child, const GrantNames& opened);

// gx init --parent: narrows a freshly made child template to fit inside
// `parent` where that can be done by dropping or clipping (time window,
// uses, environment, paths, groups, ioctls, network, bindings, pins) and
// names the parent. What cannot be narrowed (an executable the parent does
// not allow, a cwd outside it, a table this module does not model) is left
// for check_attenuation to report. Re-renders and re-parses the body.
Result<Artifact> narrow_to_parent(Artifact child, const Artifact& parent);

}  // namespace gx
