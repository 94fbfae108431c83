// File helpers shared by every module that touches disk.
//
// Reads are bounded (every input has a documented size limit) and writes are
// atomic: a temporary file in the same directory, fsync, rename, fsync of the
// directory. A crash leaves either the old or the new file, never a mix.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/decision.h"
#include "lib/fd.h"

namespace gx::fs {

// Reads a whole regular file; denies with TooLarge beyond max_bytes and
// IoError (naming the path and errno) when it cannot be read. The open never
// blocks (O_NONBLOCK | O_NOCTTY): a FIFO, socket or device in place of a
// file is refused ("... is a fifo, not a regular file") instead of hanging
// gx, and it cannot become the controlling terminal.
Result<std::string> read_file(const std::string& path, size_t max_bytes);
// The same, but a symlink as the last component is refused (O_NOFOLLOW):
// for gx's own state files, which are never links.
Result<std::string> read_file_nofollow(const std::string& path, size_t max_bytes);

// OpenSSH StrictModes for files that define authority (trust store,
// revocation list): the file (symlinks resolved) must be a regular file,
// and it and every directory from its own up to "/" must be owned by root
// or the effective uid and not writable by group or others. One exception,
// for ancestors only (not the file's own directory): a root-owned sticky
// directory such as /tmp, where nobody else can rename or delete our
// entries. A missing file (missing_ok) checks its nearest existing
// directory and the ancestors. Denies IoError with one line naming the
// path, its owner and its mode.
// Checked before the file is read, by path: a swap between check and read
// needs write access to a directory the check just proved only root or the
// caller can write.
// Every symbolic link on the way (links_on_path) is checked too
// (check_links_strict).
Decision check_strict_modes(const std::string& path, bool missing_ok);
// StrictModes for the links on the way to `path` (links_on_path): each owned
// by root or the effective uid (in a sticky directory its owner may replace
// it), in a directory that passes the ancestor rule above. Otherwise
// someone else could re-point `path` after every check of where it leads.
Decision check_links_strict(const std::string& path);

enum class Overwrite { No, Yes };
// Atomically writes data to path with the given mode. With Overwrite::No an
// existing path is an error (and is left untouched).
Decision write_file_atomic(const std::string& path, std::string_view data, mode_t mode, Overwrite overwrite);

// mkdir -p with the given mode for created components.
Decision make_dirs(const std::string& path, mode_t mode);

bool exists(const std::string& path);
std::string dirname(const std::string& path);
// Absolute, lexically normalised path ("a/../b" -> "/cwd/b"); no symlink resolution.
std::string absolute(const std::string& path);
// absolute(path) with ".." taken as the kernel takes it: after a symlink,
// ".." leaves the link's target, not the directory holding the link. The
// part of the name up to its last ".." is resolved (realpath(3)) and the
// rest appended as given; a name without ".." is absolute(path). Where
// that part does not resolve, absolute(path).
// Security: for gx's own files (lib/paths.h with_defaults), which are used
// by one name and protected by it: lexically, /a/lnk/../cfg is /a/cfg, but
// the kernel opens <lnk's target>/../cfg, and gx protected the wrong
// directory (review helper-39).
std::string absolute_physical(const std::string& path);
// Where a file named through symlinks really lives: absolute(path), then,
// while the last one is a symlink, where it points (relative targets taken
// from its directory; at most 40 hops), and last, when there was a link,
// the kernel's canonical path if the chain ends at an existing file (a
// directory link on the way is left to the caller, who resolves the names
// it protects anyway). Deduplicated, in that order.
// Security: protecting a file (or its directory) by the name a user gave
// protects the link, not the file: `trust.toml -> /w/trust.toml` leaves
// /w writable. Callers protect every entry; a dangling chain still names
// where the file would be created.
std::vector<std::string> symlink_hops(const std::string& path);
// Every symbolic link the kernel follows resolving `path` (relative to the
// working directory; "." and ".." taken as the kernel takes them), each
// named as the directory entry that holds it: its directory's resolved
// path and its own name ("/a/cfg" for /a/cfg/trust.toml with
// cfg -> /real), in the order met, deduplicated, the links of a link's
// target included. A component that does not exist ends the walk. At most
// 40 links, as the kernel. Any other failure to look at a component
// (EACCES, ENAMETOOLONG, ELOOP) ends the walk with that component's entry
// as the last one named: protecting it fails closed (it cannot be placed,
// or gx cannot reach its own file through it either).
// Security: gx protects the files it resolves to, but a link anywhere on
// the way can be re-pointed by whoever may replace that entry, who then
// chooses gx's trust store or state directory. Callers protect each entry
// (ProtectedPaths::no_rename, check_strict_modes).
std::vector<std::string> links_on_path(const std::string& path);
// Canonical path with symlinks resolved (as realpath(3); one open(O_PATH)
// and one readlink of /proc/self/fd/N); empty on error, errno set.
std::string canonical(const std::string& path);
// The path the kernel names for open descriptor `fd` (readlink of
// /proc/self/fd/N): absolute, symlinks resolved. Empty when /proc cannot
// say, or when that name does not reach the same file as `fd` now (st_dev
// and st_ino) without following a symlink anywhere on the way.
// Security: why the name is checked. The kernel's name is relative to this
// process's root and mount namespace: a file opened through
// /proc/<pid>/root, or outside a chroot, is named by a path that here
// reaches some other file; a file removed or renamed over since it was
// opened is named "<old path> (deleted)". A check made on such a name would
// not be about the descriptor. A name that reaches the file only through a
// symlink is refused too: compared as a string with gx's protected paths it
// would not show that it is inside one (the link's target is).
std::string fd_path(int fd);
// Whether absolute `name` reaches the file `want` describes (st_dev, st_ino)
// with no symlink anywhere on the way (fd_path's check on its name).
bool reaches_without_links(const char* name, const struct stat& want);
// True when `inner` equals `outer` or lies below it (both canonical).
bool path_within(const std::string& inner, const std::string& outer);

std::string errno_text(int err);

// The value of the line "Name:<blanks><value>" in the text of a
// /proc/<pid>/status file (read with read_file), blanks skipped, up to the
// end of its line; nullopt when no line starts with "Name:".
std::optional<std::string_view> proc_status_field(std::string_view status, std::string_view name);

// ---- the state directory (see docs/security.md, "State directory") ----

// A directory resolved once: its canonical path (every symlink of the path
// the user gave resolved by realpath(3)) and a descriptor of it. Files in it
// are opened with open_in_dir (openat, never following a link).
struct OpenDir {
  std::string path;
  UniqueFd fd;
};

// Whether `name` exists in `dir` (a link counts; it is not followed).
bool exists_in(const OpenDir& dir, std::string_view name);

// The private directory gx keeps state in. Creates `path` (mkdir -p, 0700)
// when `create`, resolves it once, then checks like OpenSSH's StrictModes:
//   - the directory itself is a directory owned by the caller (euid) and not
//     writable by group or others;
//   - every ancestor up to "/" is owned by root or the caller and is not
//     writable by group or others, unless it has the sticky bit (like /tmp:
//     others cannot rename or delete what they do not own there).
// So nobody else can swap the directory or any component above it, and the
// checked path stays the opened one. Errors are IoError naming the path.
Result<OpenDir> open_private_dir(const std::string& path, bool create);
// The same resolution without the ownership checks, for read-only use
// (verifying someone else's log): nothing is created.
Result<OpenDir> open_dir_readonly(const std::string& path);

// openat(dir.fd, name) with O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY
// added to `flags`: a symlink is refused (ELOOP), a FIFO or device never
// blocks the open, and anything but a regular file is refused after fstat
// (IoError "... is a FIFO, not a regular file"). O_NONBLOCK is cleared
// before returning. `name` must be a single component.
Result<UniqueFd> open_in_dir(const OpenDir& dir, std::string_view name, int flags, mode_t mode = 0600);
// Reads a whole regular file of `dir` (open_in_dir rules) up to max_bytes.
// A missing file is nullopt; every other failure is an error.
Result<std::optional<std::string>> read_in_dir(const OpenDir& dir, std::string_view name, size_t max_bytes);
// "a FIFO", "a directory", ...: the kind of file st_mode describes.
std::string file_kind(mode_t mode);

}  // namespace gx::fs
