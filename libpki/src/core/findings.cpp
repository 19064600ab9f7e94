#include "pki/findings.hpp"

#include <algorithm>

namespace pki {

void Findings::error(std::string id, std::string message) {
  m_items.push_back({Severity::error, std::move(id), std::move(message)});
}

void Findings::warning(std::string id, std::string message) {
  m_items.push_back({Severity::warning, std::move(id), std::move(message)});
}

void Findings::append(const Findings& other) {
  m_items.insert(m_items.end(), other.m_items.begin(), other.m_items.end());
}

bool Findings::has_errors() const noexcept {
  return std::any_of(m_items.begin(), m_items.end(),
                     [](const Finding& f) { return f.severity == Severity::error; });
}

bool Findings::contains(std::string_view id) const noexcept {
  return std::any_of(m_items.begin(), m_items.end(), [&](const Finding& f) { return f.id == id; });
}

std::string Findings::error_summary() const {
  std::string out;
  for (const auto& f : m_items) {
    if (f.severity != Severity::error) continue;
    if (!out.empty()) out += "; ";
    out += f.message;
    out += " [" + f.id + "]";
  }
  return out;
}

}  // namespace pki
