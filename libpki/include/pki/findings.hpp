// Lint and verification results as data (BoringSSL's CertErrors): a list of
// {severity, id, message}. Callers decide whether a finding stops them.
#pragma once

#include <string>
#include <vector>

namespace pki {

enum class Severity { warning, error };

struct Finding {
  Severity severity = Severity::error;
  std::string id;       // stable identifier, e.g. "serial.too_long"
  std::string message;  // what a person can act on
};

class Findings {
 public:
  void error(std::string id, std::string message);
  void warning(std::string id, std::string message);
  void append(const Findings& other);

  bool has_errors() const noexcept;
  bool empty() const noexcept { return m_items.empty(); }
  bool contains(std::string_view id) const noexcept;
  const std::vector<Finding>& items() const noexcept { return m_items; }
  // "message [id]; message [id]" of the errors only, for an Error message.
  std::string error_summary() const;

 private:
  std::vector<Finding> m_items;
};

}  // namespace pki
