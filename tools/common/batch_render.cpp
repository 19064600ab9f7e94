#include "common/batch_render.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "common/cli.hpp"

namespace devpki {

std::string format_count(std::uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string format_rate(double r) {
  if (!(r > 0) || !std::isfinite(r)) return "0";
  char buf[32];
  if (r < 10) {
    std::snprintf(buf, sizeof buf, "%.2f", r);
  } else if (r < 100) {
    std::snprintf(buf, sizeof buf, "%.1f", r);
  } else {
    // Round to three significant figures.
    const double scale = std::pow(10.0, std::floor(std::log10(r)) - 2);
    return format_count(static_cast<std::uint64_t>(std::llround(r / scale) * scale));
  }
  return buf;
}

std::string format_seconds(double s) {
  if (!(s > 0) || !std::isfinite(s)) s = 0;
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  } else if (s < 3600) {
    const auto t = static_cast<long long>(std::llround(s));
    std::snprintf(buf, sizeof buf, "%lld min %02lld s", t / 60, t % 60);
  } else {
    const auto t = static_cast<long long>(std::llround(s / 60));
    std::snprintf(buf, sizeof buf, "%lld h %02lld min", t / 60, t % 60);
  }
  return buf;
}

double issue_rate(const pki::BatchResult& r) {
  return r.seconds > 0 ? static_cast<double>(r.issued) / r.seconds : 0.0;
}

std::string summary_text(const pki::BatchResult& r, std::string_view tool) {
  std::ostringstream o;
  o << tool << ": batch " << r.batch_id << " " << pki::to_string(r.state) << ": " << r.issued
    << " issued, " << r.rejected << " rejected";
  if (r.already != 0) o << ", " << r.already << " issued by earlier runs";
  if (r.recovered != 0 || r.abandoned != 0) {
    o << " (after the interruption: " << r.recovered << " recovered, " << r.abandoned
      << " abandoned)";
  }
  o << " in " << format_seconds(r.seconds) << " (" << format_rate(issue_rate(r)) << "/s) -> "
    << r.out.string();
  return o.str();
}

namespace {
std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) v = 0;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
}  // namespace

std::string summary_json(const pki::BatchResult& r, std::uint64_t rejected_total) {
  std::ostringstream o;
  o << "{\"batch_id\":" << json_string(r.batch_id)
    << ",\"state\":" << json_string(pki::to_string(r.state))
    << ",\"out\":" << json_string(r.out.string()) << ",\"total\":" << r.total
    << ",\"issued\":" << r.issued << ",\"rejected\":" << r.rejected
    << ",\"rejected_total\":" << rejected_total << ",\"already\":" << r.already
    << ",\"recovered\":" << r.recovered << ",\"abandoned\":" << r.abandoned
    << ",\"seconds\":" << fixed(r.seconds, 3) << ",\"rate\":" << fixed(issue_rate(r), 1)
    << ",\"warnings\":[";
  bool first = true;
  for (const auto& f : r.warnings.items()) {
    o << (first ? "" : ",") << "{\"id\":" << json_string(f.id)
      << ",\"message\":" << json_string(f.message) << "}";
    first = false;
  }
  o << "]}";
  return o.str();
}

std::string batch_json(const pki::BatchRecord& b) {
  std::ostringstream o;
  o << "{\"id\":" << json_string(b.id) << ",\"ca\":" << json_string(b.ca)
    << ",\"profile\":" << json_string(b.profile) << ",\"state\":" << json_string(b.state)
    << ",\"count\":" << b.count << ",\"created\":" << json_string(pki::format_time(b.created_at))
    << ",\"updated\":" << json_string(pki::format_time(b.updated_at))
    << ",\"out\":" << json_string(b.out_dir) << "}";
  return o.str();
}

}  // namespace devpki
