#include "pki/clock.hpp"

#include <charconv>
#include <cstdio>

#include "pki/error.hpp"

namespace pki {

using namespace std::chrono;

TimePoint SystemClock::now() const {
  return time_point_cast<seconds>(system_clock::now());
}

TimePoint forever() noexcept {
  return sys_days{year{9999} / December / 31} + hours{23} + minutes{59} + seconds{59};
}

bool is_forever(TimePoint t) noexcept {
  return t == forever();
}

std::string format_time(TimePoint t) {
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), long(hms.hours().count()),
                long(hms.minutes().count()), long(hms.seconds().count()));
  return buf;
}

TimePoint parse_time(std::string_view text) {
  int y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char z = 0;
  const std::string str(text);
  if (text.size() != 20 ||
      std::sscanf(str.c_str(), "%4d-%2u-%2uT%2u:%2u:%2u%c", &y, &mo, &d, &h, &mi, &s, &z) != 7 ||
      z != 'Z') {
    throw Error(ErrorCode::invalid_input,
                "invalid time '" + str + "': expected YYYY-MM-DDTHH:MM:SSZ (UTC)");
  }
  const year_month_day ymd{year{y}, month{mo}, day{d}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) {
    throw Error(ErrorCode::invalid_input, "invalid time '" + str + "': no such date or time");
  }
  return sys_days{ymd} + hours{h} + minutes{mi} + seconds{s};
}

std::chrono::seconds parse_duration(std::string_view text) {
  const std::string str(text);
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::invalid_input, "invalid duration '" + str + "': " + why +
                                               " (examples: 20y, 365d, 1y30d, 12h, 90min, 30s)");
  };
  if (text.empty()) throw bad("empty");
  seconds total{0};
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') throw bad("expected a number");
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(text.data() + i, text.data() + text.size(), n);
    if (ec != std::errc{} || p == text.data() + i) throw bad("expected a number");
    i = static_cast<std::size_t>(p - text.data());
    std::size_t j = i;
    while (j < text.size() && text[j] >= 'a' && text[j] <= 'z')
      ++j;
    const std::string_view unit = text.substr(i, j - i);
    i = j;
    std::int64_t mult = 0;
    if (unit == "y")
      mult = 365 * 86400;
    else if (unit == "w")
      mult = 7 * 86400;
    else if (unit == "d")
      mult = 86400;
    else if (unit == "h")
      mult = 3600;
    else if (unit == "min")
      mult = 60;
    else if (unit == "s")
      mult = 1;
    else if (unit == "m")
      throw bad("'m' is ambiguous: write 'min' for minutes or 'd' for days");
    else if (unit.empty())
      throw bad("a number needs a unit (y, w, d, h, min, s)");
    else
      throw bad("unknown unit '" + std::string(unit) + "'");
    // 10,000 years is far past 9999-12-31 from any date devpki can see.
    if (n > 10000LL * 365 * 86400 / mult) throw bad("too long");
    total += seconds{n * mult};
  }
  return total;
}

std::string format_duration(std::chrono::seconds d) {
  std::int64_t s = d.count();
  if (s == 0) return "0s";
  std::string out;
  const std::pair<std::int64_t, const char*> units[] = {
      {365 * 86400, "y"}, {86400, "d"}, {3600, "h"}, {60, "min"}, {1, "s"}};
  for (auto [mult, name] : units) {
    if (s >= mult) {
      out += std::to_string(s / mult) + name;
      s %= mult;
    }
  }
  return out;
}

}  // namespace pki
