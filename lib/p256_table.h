// The P-256 generator's comb table, as constants.
//
// mbedTLS 2.28 multiplies by the generator G with a comb of window w = 4
// (MBEDTLS_ECP_WINDOW_SIZE 4, MBEDTLS_ECP_FIXED_POINT_OPTIM 1: Debian's
// build), whose 8 precomputed points it builds on the group's first
// multiplication by G (~4.8 M instructions) and caches in grp->T. That
// table is a pure function of the curve: T[i] = sum over the bits j of i of
// 2^(64 j) G, in affine coordinates. gx processes are short-lived, so every
// one of them paid for building it on its first signature or verification.
//
// install_p256_generator_table() puts the same 8 points into a freshly
// loaded group, exactly as mbedTLS leaves them after building them itself
// (X and Y, Z = 1 for T[0], T_size = 8, heap-allocated so that
// mbedtls_ecp_group_free frees them as its own). mbedTLS's arithmetic is
// unchanged; it only skips the precomputation.
//
// Contract: `grp` was just loaded with MBEDTLS_ECP_DP_SECP256R1 and has no
// table yet (grp->T == nullptr); otherwise nothing is changed and false is
// returned. Returns false (the group unchanged: mbedTLS then builds the
// table itself) when memory runs out. tests/crypto_test.cc proves the
// constants equal the table mbedTLS computes, entry by entry, and that
// multiplications and RFC 6979 signatures agree with and without them.
//
// Caveat: mbedTLS does not check a cached table's size against the window
// it picks, so a library built with another MBEDTLS_ECP_WINDOW_SIZE would
// read past a table of 8; p256_table.cc refuses to compile against such a
// configuration (static_assert on the headers gx is built with — with
// GX_STATIC_DEPS=ON, the library's own).
#pragma once

#include <mbedtls/ecp.h>

namespace gx::crypto {

inline constexpr size_t kP256GeneratorTableSize = 8;

bool install_p256_generator_table(mbedtls_ecp_group* grp);

// The constants themselves (affine X, Y of T[i], 32-byte big-endian), for tests.
struct P256AffineBytes {
  unsigned char x[32];
  unsigned char y[32];
};
extern const P256AffineBytes kP256GeneratorTable[kP256GeneratorTableSize];

}  // namespace gx::crypto
