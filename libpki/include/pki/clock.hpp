// Time is injected so that validity, rotation and CRL freshness are testable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace pki {

using TimePoint = std::chrono::sys_seconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
};

class FixedClock final : public Clock {
 public:
  explicit FixedClock(TimePoint t) : m_now(t) {}
  TimePoint now() const override { return m_now; }
  void set(TimePoint t) { m_now = t; }
  void advance(std::chrono::seconds d) { m_now += d; }

 private:
  TimePoint m_now;
};

// 99991231235959Z: "no well-defined expiration date" (RFC 5280 4.1.2.5, IEEE 802.1AR).
TimePoint forever() noexcept;
bool is_forever(TimePoint t) noexcept;

// ISO 8601 UTC, "2026-11-27T01:31:37Z".
std::string format_time(TimePoint t);
// Parses the format_time() form; throws Error(invalid_input).
TimePoint parse_time(std::string_view text);

// Durations as people write them in profiles and flags: one or more
// <number><unit> groups, "20y", "365d", "1y30d", "12h", "90min", "30s".
// y = 365 days, w = 7 days, d, h, min, s. A bare "m" is refused: it reads as
// months to some and minutes to others. "forever" is the caller's business.
// Throws Error(invalid_input) naming the text.
std::chrono::seconds parse_duration(std::string_view text);
std::string format_duration(std::chrono::seconds d);

}  // namespace pki
