// The one exception type libpki throws. Verdicts (lint, verification) are data,
// see findings.hpp; an Error means the operation did not happen.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace pki {

enum class ErrorCode {
  invalid_input,  // the caller's input is malformed (CSR, name, YAML, flag value)
  policy,         // well-formed, but a profile or RFC 5280 rule forbids it
  not_found,      // a CA, profile, certificate or file that does not exist
  conflict,       // would duplicate something that must be unique (serial, device, name)
  crypto,         // OpenSSL refused (bad passphrase, signature failure)
  io,             // file system
  store,          // the inventory database
  internal,       // a bug in devpki
};

std::string_view to_string(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), m_code(code) {}
  ErrorCode code() const noexcept { return m_code; }

 private:
  ErrorCode m_code;
};

}  // namespace pki
