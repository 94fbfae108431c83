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

// "YYYY-MM-DDTHH:MM:SS" (19 bytes) of whole seconds, UTC.
std::string format_seconds(int64_t secs) {
  time_t tt = static_cast<time_t>(secs);
  tm t{};
  gmtime_r(&tt, &t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
                t.tm_min, t.tm_sec);
  return buf;
}

// The one reader: "YYYY-MM-DDTHH:MM:SS" [".ffffff" when allowed] "Z" ->
// microseconds. Field ranges are checked first (timegm must not see
// nonsense), then the seconds are formatted back and must match: timegm
// normalises Feb 31 into March and :60 into the next minute.
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
  tm t{};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = se;
  const int64_t secs = timegm(&t);
  if (format_seconds(secs) != s.substr(0, 19)) return std::nullopt;
  return secs * 1'000'000 + frac;
}

}  // namespace

UnixTime now_unix() { return static_cast<UnixTime>(time(nullptr)); }
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
