// Shared by the Landlock unit tests (landlock_test, landlock_paths_test): a
// scratch tree with a granted, a denied and a writable directory.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <system_error>

#include "lib/fsutil.h"

namespace gx::test {

struct TempTree {
  std::string root;
  std::string granted, denied, wdir;
  TempTree() {
    char tmpl[] = "/tmp/gx-ll-XXXXXX";
    root = mkdtemp(tmpl);
    granted = root + "/granted";
    denied = root + "/denied";
    wdir = root + "/wdir";
    for (const auto& d : {granted, denied, wdir}) mkdir(d.c_str(), 0755);
    for (const auto& d : {granted, denied, wdir})
      REQUIRE(fs::write_file_atomic(d + "/f", "content", 0644, fs::Overwrite::Yes));
  }
  ~TempTree() {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
};

}  // namespace gx::test
