// Time, in one place: the wall clock gx reads ("now" for verification,
// receipts, cache stamps) and the two RFC 3339 spellings it writes and
// reads. Everything is UTC with a mandatory "Z"; there is no local time.
//
//   artifacts, trust stores, revocation lists, gx init/state flags:
//     seconds, "2026-11-29T21:16:50Z" (parse_utc / format_utc)
//   receipts (and gx log --since):
//     microseconds, "2026-11-29T21:16:50.123456Z"; the reader also takes
//     the form without a fraction (format_receipt_time / parse_receipt_time)
//
// One spelling per instant: a parser accepts only text that its formatter
// gives back byte for byte (so "2026-02-30", "24:00:00" and ":60" leap
// seconds are refused, never normalised into another date).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gx {

// Seconds since the Unix epoch, UTC.
using UnixTime = int64_t;

// The wall clock (CLOCK_REALTIME) in seconds, microseconds, nanoseconds,
// all three from the same clock: now_unix is never a second behind a
// CLOCK_REALTIME read taken before it (time(2), which reads the clock as of
// the last tick, can be; tests/clock_test.cc).
UnixTime now_unix();
int64_t now_unix_us();
int64_t now_unix_ns();

// "YYYY-MM-DDTHH:MM:SSZ" <-> seconds; no fraction; not before 1970.
std::optional<UnixTime> parse_utc(std::string_view text);
std::string format_utc(UnixTime t);

// Receipt times: microseconds since the epoch <-> "YYYY-MM-DDTHH:MM:SS.ffffffZ".
std::string format_receipt_time(int64_t unix_us);
// Accepts that form, and also without fraction ("...:SSZ"); UTC "Z" mandatory.
std::optional<int64_t> parse_receipt_time(std::string_view text);

}  // namespace gx
