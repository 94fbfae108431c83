// lib/clock: the wall clock and the two RFC 3339 spellings (artifact
// seconds, receipt microseconds), one spelling per instant.
#include "lib/clock.h"

#include <catch2/catch.hpp>
#include <ctime>

using namespace gx;

TEST_CASE("now_unix is never behind CLOCK_REALTIME read before it, across a second's start") {
  // time(2)'s vDSO lags CLOCK_REALTIME by up to a tick: over a second's
  // boundary it would read the second before. Watched for 1.1 s.
  timespec start{}, t{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  int64_t behind = 0, reads = 0;
  for (;;) {
    clock_gettime(CLOCK_REALTIME, &t);
    if (now_unix() < t.tv_sec) ++behind;
    ++reads;
    timespec m{};
    clock_gettime(CLOCK_MONOTONIC, &m);
    if ((m.tv_sec - start.tv_sec) * 1'000'000'000 + (m.tv_nsec - start.tv_nsec) > 1'100'000'000) break;
  }
  INFO(reads << " reads");
  CHECK(behind == 0);
}

TEST_CASE("time parsing is UTC with a mandatory Z and one spelling") {
  CHECK(parse_utc("2026-11-29T21:16:50Z") == 1'795'987'010);
  CHECK_FALSE(parse_utc("2026-11-29T21:16:50"));
  CHECK_FALSE(parse_utc("2026-11-29 21:16:50Z"));
  CHECK_FALSE(parse_utc("2026-02-30T00:00:00Z"));
  CHECK_FALSE(parse_utc("2026-11-29T21:16:50.5Z"));
  CHECK(format_utc(1'795'987'010) == "2026-11-29T21:16:50Z");
}

TEST_CASE("parse_utc: field ranges, leap days, the epoch") {
  CHECK(parse_utc("1970-01-01T00:00:00Z") == 0);
  CHECK_FALSE(parse_utc("1969-12-31T23:59:59Z"));  // UnixTime is never negative here
  CHECK(parse_utc("2024-02-29T00:00:00Z"));
  CHECK_FALSE(parse_utc("2025-02-29T00:00:00Z"));
  CHECK_FALSE(parse_utc("2026-04-31T00:00:00Z"));
  CHECK_FALSE(parse_utc("2026-13-01T00:00:00Z"));
  CHECK_FALSE(parse_utc("2026-00-01T00:00:00Z"));
  CHECK_FALSE(parse_utc("2026-01-01T24:00:00Z"));
  CHECK_FALSE(parse_utc("2026-01-01T00:60:00Z"));
  CHECK_FALSE(parse_utc("2026-01-01T00:00:60Z"));
  CHECK_FALSE(parse_utc("2026-01-01t00:00:00Z"));
  CHECK_FALSE(parse_utc("2026-01-01T00:00:00z"));
  CHECK_FALSE(parse_utc("+026-01-01T00:00:00Z"));
  CHECK_FALSE(parse_utc("2026-1-01T00:00:00Z "));
  CHECK_FALSE(parse_utc(""));
  for (UnixTime t : {UnixTime{0}, UnixTime{951'782'400}, UnixTime{1'795'987'010}, UnixTime{4'102'444'799}})
    CHECK(parse_utc(format_utc(t)) == t);
}

TEST_CASE("receipt times round-trip in UTC, with or without a fraction") {
  CHECK(format_receipt_time(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(format_receipt_time(1'795'987'010'123'456) == "2026-11-29T21:16:50.123456Z");
  CHECK(format_receipt_time(-1) == "1969-12-31T23:59:59.999999Z");
  CHECK(parse_receipt_time("2026-11-29T21:16:50Z") == int64_t{1795987010} * 1000000);
  CHECK(parse_receipt_time("2026-11-29T21:16:50.000001Z") == int64_t{1795987010} * 1000000 + 1);
  int64_t now = now_unix_us();
  CHECK(parse_receipt_time(format_receipt_time(now)) == now);
  CHECK_FALSE(parse_receipt_time("2026-11-29T21:16:50"));
  CHECK_FALSE(parse_receipt_time("2026-11-29 21:16:50Z"));
  CHECK_FALSE(parse_receipt_time("2026-11-29T21:16:50+01:00"));
  CHECK_FALSE(parse_receipt_time("2026-11-29T21:16:50.12345Z"));
  CHECK_FALSE(parse_receipt_time("2026-11-29T21:16:50,123456Z"));
  CHECK_FALSE(parse_receipt_time("2026-02-31T21:16:50.123456Z"));
}

TEST_CASE("the clocks agree with each other and with time(2)") {
  const int64_t before = static_cast<int64_t>(time(nullptr));
  const UnixTime s = now_unix();
  const int64_t us = now_unix_us();
  const int64_t ns = now_unix_ns();
  const int64_t after = static_cast<int64_t>(time(nullptr));
  const int64_t after_ns = now_unix_ns();
  CHECK(s >= before);
  CHECK(s <= after);
  CHECK(us / 1'000'000 >= before);
  CHECK(ns / 1000 >= us);
  CHECK(after_ns >= ns);
  // time(2) (and now_unix) read the coarse clock, updated once a tick: just
  // past a second boundary it may still give the second before, while
  // CLOCK_REALTIME gives the new one (seen in CI). So the precise clocks are
  // bounded by a precise reading, and time(2) trails it by at most a second.
  CHECK(us / 1'000'000 <= after_ns / 1'000'000'000);
  CHECK(after <= after_ns / 1'000'000'000);
  CHECK(after_ns / 1'000'000'000 - after <= 1);
}

TEST_CASE("UTC by arithmetic agrees with glibc's gmtime_r and timegm") {
  // Every day from 1970 to 2400 (leap centuries 2000 and 2400, common
  // 2100, 2200, 2300), at a time of day that moves with the day.
  char want[96];
  for (int64_t day = 0; day <= 157'000; ++day) {
    const int64_t t = day * 86400 + (day * 7919) % 86400;
    const time_t tt = static_cast<time_t>(t);
    tm g{};
    REQUIRE(gmtime_r(&tt, &g) != nullptr);
    std::snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02dZ", g.tm_year + 1900, g.tm_mon + 1, g.tm_mday,
                  g.tm_hour, g.tm_min, g.tm_sec);
    INFO(want);
    REQUIRE(format_utc(static_cast<UnixTime>(t)) == want);
    REQUIRE(parse_utc(want) == t);
  }
  CHECK(parse_utc("2100-02-28T23:59:59Z"));
  CHECK_FALSE(parse_utc("2100-02-29T00:00:00Z"));
  CHECK(parse_utc("2400-02-29T00:00:00Z"));
  CHECK(parse_utc("9999-12-31T23:59:59Z") == int64_t{253'402'300'799});
}
