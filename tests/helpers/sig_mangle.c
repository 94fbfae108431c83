/* sig_mangle MODE: reads one DER ECDSA P-256 signature on stdin, writes a
 * variant on stdout. For tests that need other spellings of a signature
 * (gx accepts exactly one: strict DER, low S).
 *   low-s     normalise: s = n - s when s > n/2 (what gx signs), DER
 *   high-s    the malleable twin: s = n - s when s <= n/2, DER
 *   ber-len   same values, sequence length in long form (0x81 LEN): BER
 *   pad-r     same values, r with a superfluous leading 0x00: BER
 *   trailing  the signature followed by one 0x00 byte
 * Exit 0 on success, 2 on usage or input errors. */
#include <stdio.h>
#include <string.h>

static const unsigned char kN[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                     0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

/* Parses SEQUENCE { INTEGER, INTEGER } (lenient) into 32-byte big-endian. */
static int parse(const unsigned char* p, size_t n, unsigned char r[32], unsigned char s[32]) {
  if (n < 2 || p[0] != 0x30) return -1;
  size_t i = 2;
  if (p[1] == 0x81) i = 3;
  unsigned char* outs[2] = {r, s};
  for (int k = 0; k < 2; ++k) {
    if (i + 2 > n || p[i] != 0x02) return -1;
    size_t len = p[i + 1];
    i += 2;
    if (i + len > n) return -1;
    const unsigned char* v = p + i;
    size_t l = len;
    while (l > 0 && *v == 0) {
      ++v;
      --l;
    }
    if (l > 32) return -1;
    memset(outs[k], 0, 32);
    memcpy(outs[k] + 32 - l, v, l);
    i += len;
  }
  return 0;
}

/* a > b as 32-byte big-endian numbers */
static int greater(const unsigned char a[32], const unsigned char b[32]) { return memcmp(a, b, 32) > 0; }

/* s = n - s */
static void negate(unsigned char s[32]) {
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int d = kN[i] - s[i] - borrow;
    borrow = d < 0;
    s[i] = (unsigned char)(d + (borrow ? 256 : 0));
  }
}

static size_t put_int(unsigned char* out, const unsigned char v[32], int extra_zero) {
  size_t skip = 0;
  while (skip < 31 && v[skip] == 0) ++skip;
  size_t zeros = (size_t)((v[skip] & 0x80) ? 1 : 0) + (size_t)(extra_zero ? 1 : 0);
  out[0] = 0x02;
  out[1] = (unsigned char)(32 - skip + zeros);
  size_t o = 2;
  while (zeros-- > 0) out[o++] = 0;
  memcpy(out + o, v + skip, 32 - skip);
  return o + 32 - skip;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: sig_mangle low-s|high-s|ber-len|pad-r|trailing < sig.der > out.der\n");
    return 2;
  }
  unsigned char in[256], r[32], s[32], half[32], body[160], out[200];
  size_t n = fread(in, 1, sizeof in, stdin);
  if (n == 0 || n == sizeof in || parse(in, n, r, s) != 0) {
    fprintf(stderr, "sig_mangle: not an ECDSA signature\n");
    return 2;
  }
  const char* mode = argv[1];
  if (strcmp(mode, "trailing") == 0) {
    in[n] = 0;
    fwrite(in, 1, n + 1, stdout);
    return 0;
  }
  /* half = floor(n / 2) */
  int carry = 0;
  for (int i = 0; i < 32; ++i) {
    half[i] = (unsigned char)((kN[i] >> 1) | (carry ? 0x80 : 0));
    carry = kN[i] & 1;
  }
  if (strcmp(mode, "low-s") == 0) {
    if (greater(s, half)) negate(s);
  } else if (strcmp(mode, "high-s") == 0) {
    if (!greater(s, half)) negate(s);
  } else if (strcmp(mode, "ber-len") != 0 && strcmp(mode, "pad-r") != 0) {
    fprintf(stderr, "sig_mangle: unknown mode %s\n", mode);
    return 2;
  }
  size_t b = put_int(body, r, strcmp(mode, "pad-r") == 0);
  b += put_int(body + b, s, 0);
  size_t o = 0;
  out[o++] = 0x30;
  if (strcmp(mode, "ber-len") == 0) out[o++] = 0x81;
  out[o++] = (unsigned char)b;
  memcpy(out + o, body, b);
  fwrite(out, 1, o + b, stdout);
  return 0;
}
