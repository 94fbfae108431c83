#include "lib/clock.h"

#include <time.h>

#include <cstdio>

namespace gx {
namespace {

int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Civil dates by arithmetic (H. Hinnant's days_from_civil/civil_from_days,
// proleptic Gregorian), not gmtime_r/timegm: glibc's first call of either
// in a process loads the time zone (/etc/localtime) that UTC never needs --
// an open and a read in every gx run and every broker worker (issue #14).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t y;
  unsigned m, d;
};

Civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

// "YYYY-MM-DDTHH:MM:SS" (19 bytes) of whole seconds, UTC.
std::string format_seconds(int64_t secs) {
  int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  const Civil c = civil_from_days(days);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d", static_cast<long long>(c.y), c.m, c.d,
                static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60), static_cast<int>(rem % 60));
  return buf;
}

// The one reader: "YYYY-MM-DDTHH:MM:SS" [".ffffff" when allowed] "Z" ->
// microseconds. Field ranges are checked first, then the seconds are
// formatted back and must match: that refuses Feb 31 and Feb 29 of a
// common year (days_from_civil would carry them into March).
std::optional<int64_t> parse_rfc3339_us(std::string_view s, bool fraction_allowed) {
  if (s.size() != 20 && !(fraction_allowed && s.size() == 27)) return std::nullopt;
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s.back() != 'Z')
    return std::nullopt;
  auto num = [&](size_t pos, size_t len) -> int {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), se = num(17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59)
    return std::nullopt;
  int frac = 0;
  if (s.size() == 27) {
    if (s[19] != '.' || (frac = num(20, 6)) < 0) return std::nullopt;
  }
  const int64_t secs =
      days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + se;
  if (format_seconds(secs) != s.substr(0, 19)) return std::nullopt;
  return secs * 1'000'000 + frac;
}

}  // namespace

// Not time(2): its vDSO reads the clock as of the last timer tick, up to a
// tick behind CLOCK_REALTIME, so just after a second begins it can name the
// one before -- an artifact's not_before a second before a `date` taken
// first (tests/cli/validity_flags.sh), a second behind its own receipts.
UnixTime now_unix() { return static_cast<UnixTime>(realtime_ns() / 1'000'000'000); }
int64_t now_unix_us() { return realtime_ns() / 1000; }
int64_t now_unix_ns() { return realtime_ns(); }

std::optional<UnixTime> parse_utc(std::string_view text) {
  auto us = parse_rfc3339_us(text, false);
  if (!us || *us < 0) return std::nullopt;
  return *us / 1'000'000;
}

std::string format_utc(UnixTime t) { return format_seconds(t) + "Z"; }

std::string format_receipt_time(int64_t unix_us) {
  int64_t secs = unix_us / 1'000'000;
  int64_t frac = unix_us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, ".%06lldZ", static_cast<long long>(frac));
  return format_seconds(secs) + buf;
}

std::optional<int64_t> parse_receipt_time(std::string_view text) { return parse_rfc3339_us(text, true); }

}  // namespace gx
