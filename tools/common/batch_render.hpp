// How the batch tools (devpki-mint, devpki-renew) show numbers, a finished batch and the batch
// list.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pki/batch.hpp"
#include "pki/store.hpp"

namespace devpki {

// 1234567 -> "1,234,567".
std::string format_count(std::uint64_t n);
// Three significant figures, grouped: 19607.8 -> "19,600", 12.34 -> "12.3".
std::string format_rate(double per_second);
// "0.4 s", "5.1 s", "2 min 05 s", "1 h 02 min".
std::string format_seconds(double seconds);
// Certificates issued per second by this run (0 when nothing was timed).
double issue_rate(const pki::BatchResult& r);

// "<tool>: batch ID complete: N issued, N rejected in 5.1 s (19,600/s) -> out/"
std::string summary_text(const pki::BatchResult& r, std::string_view tool);
// One JSON object (docs/devpki-mint.md "JSON output"). `rejected_total`:
// the batch's rejects over all its runs.
std::string summary_json(const pki::BatchResult& r, std::uint64_t rejected_total);

std::string batch_json(const pki::BatchRecord& b);

}  // namespace devpki
