// try_memfd_exec FILE [ARGS...]: copies FILE into a fresh memfd and
// execveat()s it with [FILE, ARGS...] — running code that no Landlock exec
// rule covers. Prints the errno name of the failing step ("memfd_create:
// EPERM") and exits 1; on success FILE's own output follows.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

extern char** environ;

static int fail(const char* step) {
  printf("%s: %s\n", step, strerrorname_np(errno));
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  int src = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (src < 0) return fail("open");
  struct stat st;
  if (fstat(src, &st) != 0) return fail("fstat");
  int mfd = memfd_create("payload", MFD_CLOEXEC);
  if (mfd < 0) return fail("memfd_create");
  off_t off = 0;
  while (off < st.st_size)
    if (sendfile(mfd, src, &off, (size_t)(st.st_size - off)) <= 0) return fail("sendfile");
  execveat(mfd, "", argv + 1, environ, AT_EMPTY_PATH);
  return fail("execveat");
}
