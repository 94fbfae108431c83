#include "cmd/common.h"

#include <cstdio>

namespace gx::cli {

int exit_code_for(const Decision& d) {
  switch (d.reason) {
    case DenyReason::None: return kExitOk;
    case DenyReason::IoError:
    case DenyReason::Usage: return kExitError;
    default: return kExitDenied;
  }
}

int report_denial(const Decision& d) {
  int code = exit_code_for(d);
  if (code == kExitError)
    std::fprintf(stderr, "gx: error: %s\n", d.explain().c_str());
  else
    std::fprintf(stderr, "gx: denied (%s): %s\n", std::string(d.code()).c_str(), d.explain().c_str());
  return code;
}

int report_error(const std::string& message) {
  std::fprintf(stderr, "gx: error: %s\n", message.c_str());
  return kExitError;
}

}  // namespace gx::cli
