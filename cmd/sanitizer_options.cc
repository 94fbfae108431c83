// Sanitizer builds only (GX_SANITIZE=address,...); compiles to nothing otherwise.
//
// LeakSanitizer's exit-time check stops every thread with ptrace, and every
// gx seccomp filter denies ptrace. A gx started inside a gx sandbox (a nested
// run) would end with "LeakSanitizer has encountered a fatal error" instead of
// its own result. So leak checking is off where a seccomp filter is already
// installed when gx starts, and stays on everywhere else (ASAN_OPTIONS, parsed
// after this, still overrides it).
#if defined(__SANITIZE_ADDRESS__)
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// Called during the sanitizer runtime's own start-up: a raw syscall, since
// libc's prctl is intercepted and the interceptors are not ready yet. A
// filter may deny prctl itself (the call fails): that, too, means a filter.
extern "C" const char* __lsan_default_options();
extern "C" const char* __lsan_default_options() {
  return syscall(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0) != 0 ? "detect_leaks=0" : "";
}
#endif
