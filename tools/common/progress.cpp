#include "common/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "common/batch_render.hpp"

namespace devpki {

namespace {
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr std::size_t kBarCells = 24;
}  // namespace

ProgressBar::ProgressBar(bool enabled) : m_enabled(enabled) {}

ProgressBar::~ProgressBar() {
  clear();
}

bool ProgressBar::stderr_is_terminal() {
  return ::isatty(STDERR_FILENO) == 1;
}

void ProgressBar::update(const pki::BatchProgress& p) {
  if (!m_enabled) return;
  const std::lock_guard lock(m_mutex);
  const auto now = Clock::now();
  if (!m_have_base) {
    m_have_base = true;
    m_base_time = now;
    m_base_done = p.done;
  }
  // The last report (done == total) is always drawn.
  if (m_drawn && p.done < p.total && now - m_last_draw < kRedrawInterval) return;
  m_last_draw = now;
  draw(p, now);
}

void ProgressBar::draw(const pki::BatchProgress& p, Clock::time_point now) {
  const std::uint64_t total = p.total;
  const std::uint64_t done = p.done < total ? p.done : total;
  const double fraction = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  const auto cells = static_cast<std::size_t>(fraction * kBarCells);
  // Appends, not operator+ on a literal: GCC 12 -O3 reports a false -Wrestrict there.
  std::string line = "[";
  line.append(cells, '#');
  line.append(kBarCells - cells, '.');
  line += "] ";
  line += format_count(done) + "/" + format_count(total);
  char pct[16];
  std::snprintf(pct, sizeof pct, " %3d%%", static_cast<int>(fraction * 100));
  line += pct;
  if (p.rejected != 0) line += "  " + format_count(p.rejected) + " rejected";
  const double elapsed = std::chrono::duration<double>(now - m_base_time).count();
  if (elapsed > 0.05 && done > m_base_done) {
    const double rate = static_cast<double>(done - m_base_done) / elapsed;
    line += "  " + format_rate(rate) + "/s";
    if (done < total) line += "  ETA " + format_seconds(static_cast<double>(total - done) / rate);
  }
  // Pad over what the previous, longer line left.
  const std::size_t width = line.size();
  if (width < m_width) line += std::string(m_width - width, ' ');
  m_width = width;
  std::fputc('\r', stderr);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  m_drawn = true;
}

void ProgressBar::clear() {
  const std::lock_guard lock(m_mutex);
  if (!m_drawn) return;
  std::fputc('\r', stderr);
  std::fputs(std::string(m_width, ' ').c_str(), stderr);
  std::fputc('\r', stderr);
  std::fflush(stderr);
  m_drawn = false;
  m_width = 0;
}

}  // namespace devpki
