#include <doctest/doctest.h>

#include "pki/clock.hpp"
#include "pki/error.hpp"

using namespace pki;
using namespace std::chrono;

TEST_CASE("parse_duration accepts unit groups") {
  struct Case {
    const char* text;
    std::int64_t seconds;
  };
  const Case cases[] = {
      {"30s", 30},
      {"90min", 5400},
      {"12h", 43200},
      {"365d", 365 * 86400},
      {"2w", 14 * 86400},
      {"20y", 20LL * 365 * 86400},
      {"1y30d", 395LL * 86400},
      {"0s", 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK(parse_duration(c.text).count() == c.seconds);
  }
}

TEST_CASE("parse_duration refuses what people mistype") {
  for (const std::string text : {"", "10", "m", "6m", "10x", "d", "-1d", "1.5d", "99999999y"}) {
    CAPTURE(text);
    CHECK_THROWS_AS(parse_duration(text), Error);
  }
  try {
    parse_duration("6m");
    FAIL("6m was accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("ambiguous") != std::string::npos);
    CHECK(e.code() == ErrorCode::invalid_input);
  }
}

TEST_CASE("format_duration round-trips") {
  for (const std::string text : {"30s", "1y30d", "12h", "1h1min1s"}) {
    CAPTURE(text);
    CHECK(parse_duration(format_duration(parse_duration(text))) == parse_duration(text));
  }
}

TEST_CASE("time formatting and forever") {
  const TimePoint t = sys_days{2026y / November / 27} + 1h + 31min + 37s;
  CHECK(format_time(t) == "2026-11-27T01:31:37Z");
  CHECK(parse_time("2026-11-27T01:31:37Z") == t);
  CHECK(format_time(forever()) == "9999-12-31T23:59:59Z");
  CHECK(is_forever(forever()));
  CHECK_FALSE(is_forever(t));
  CHECK_THROWS_AS(parse_time("2026-02-30T00:00:00Z"), Error);
  CHECK_THROWS_AS(parse_time("2026-11-27 01:31:37"), Error);
}

TEST_CASE("FixedClock is what tests inject") {
  FixedClock clock(sys_days{2030y / January / 1});
  clock.advance(hours(25));
  CHECK(format_time(clock.now()) == "2030-01-02T01:00:00Z");
}
