// try_hello [ARGS...]: prints "hello" and exits 0; ignores its arguments.
// The "authorized binary" of the race tests (try_marker is the other one).
#include <stdio.h>

int main(void) {
  printf("hello\n");
  return 0;
}
