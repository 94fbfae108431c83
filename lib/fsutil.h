// File helpers shared by every module that touches disk.
//
// Reads are bounded (every input has a documented size limit) and writes are
// atomic: a temporary file in the same directory, fsync, rename, fsync of the
// directory. A crash leaves either the old or the new file, never a mix.
#pragma once

#include <sys/types.h>

#include <string>

#include "lib/decision.h"

namespace gx::fs {

// Reads a whole regular file; denies with TooLarge beyond max_bytes and
// IoError (naming the path and errno) when it cannot be read.
Result<std::string> read_file(const std::string& path, size_t max_bytes);

enum class Overwrite { No, Yes };
// Atomically writes data to path with the given mode. With Overwrite::No an
// existing path is an error (and is left untouched).
Decision write_file_atomic(const std::string& path, std::string_view data, mode_t mode,
                           Overwrite overwrite);

// mkdir -p with the given mode for created components.
Decision make_dirs(const std::string& path, mode_t mode);

bool exists(const std::string& path);
std::string dirname(const std::string& path);
// Absolute, lexically normalised path ("a/../b" -> "/cwd/b"); no symlink resolution.
std::string absolute(const std::string& path);
// Canonical path with symlinks resolved (realpath); empty on error.
std::string canonical(const std::string& path);
// True when `inner` equals `outer` or lies below it (both canonical).
bool path_within(const std::string& inner, const std::string& outer);

std::string errno_text(int err);

}  // namespace gx::fs
