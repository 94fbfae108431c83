// For tests/cli/learn.sh: one fixed argv whose behaviour is chosen by a FILE,
// so the same authorized invocation can later try something new.
//
//   learn_probe FLAGFILE INPUT OUTDIR [ELSEWHERE]
//
// Always: prints "mode=<flag>", the INPUT's first line, and writes
// OUTDIR/result.txt. Then, by the flag file's first word:
//   plain   nothing more
//   net     socket(AF_INET, SOCK_STREAM), connect to 127.0.0.1:9; on a socket
//           creates OUTDIR/net-marker and prints "socket ok", else prints
//           "socket: <error>" and exits 3
//   escape  creates ELSEWHERE/escaped; on failure prints the error, exits 4
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int write_file(const char* dir, const char* name, const char* text) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE* f = fopen(path, "w");
  if (!f) return -1;
  fputs(text, f);
  return fclose(f);
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: learn_probe FLAGFILE INPUT OUTDIR [ELSEWHERE]\n");
    return 2;
  }
  char flag[64] = "";
  FILE* f = fopen(argv[1], "r");
  if (!f || fscanf(f, "%63s", flag) != 1) {
    fprintf(stderr, "learn_probe: cannot read %s\n", argv[1]);
    return 2;
  }
  fclose(f);
  printf("mode=%s\n", flag);
  char line[256] = "";
  f = fopen(argv[2], "r");
  if (!f || !fgets(line, sizeof line, f)) {
    printf("input: %s\n", strerror(errno));
    return 2;
  }
  fclose(f);
  printf("input: %s", line);
  if (write_file(argv[3], "result.txt", line) != 0) {
    printf("result: %s\n", strerror(errno));
    return 2;
  }
  fflush(stdout);
  if (strcmp(flag, "net") == 0) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
      printf("socket: %s\n", strerror(errno));
      return 3;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(9);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(s, (struct sockaddr*)&a, sizeof a);
    printf("socket ok, connect %s\n", rc == 0 ? "ok" : strerror(errno));
    write_file(argv[3], "net-marker", "x\n");
    close(s);
  } else if (strcmp(flag, "escape") == 0) {
    if (argc < 5 || write_file(argv[4], "escaped", "x\n") != 0) {
      printf("escape: %s\n", strerror(errno));
      return 4;
    }
    printf("escape ok\n");
  }
  return 0;
}
