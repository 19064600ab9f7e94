// The progress bar devpki-mint and devpki-renew draw on stderr while a batch runs: done/total,
// percentage, rate and ETA on one line redrawn with '\r', at most ten times a
// second. Only when stderr is a terminal and the output is not --json.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

#include "pki/batch.hpp"

namespace devpki {

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled);
  ~ProgressBar();  // clears a bar still drawn (a batch that failed half-way)
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // The engine's progress callback; safe to call from several threads.
  void update(const pki::BatchProgress& p);
  // Removes the bar from the terminal.
  void clear();

  // stderr is a terminal.
  static bool stderr_is_terminal();

 private:
  using Clock = std::chrono::steady_clock;
  void draw(const pki::BatchProgress& p, Clock::time_point now);

  std::mutex m_mutex;
  bool m_enabled = false;
  bool m_drawn = false;
  std::size_t m_width = 0;  // of the last line drawn
  Clock::time_point m_last_draw{};
  // The first report: the rate counts from here (a resumed batch starts
  // with the devices earlier runs issued).
  bool m_have_base = false;
  Clock::time_point m_base_time{};
  std::uint64_t m_base_done = 0;
};

}  // namespace devpki
