#include "pki/error.hpp"

namespace pki {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_input:
      return "invalid_input";
    case ErrorCode::policy:
      return "policy";
    case ErrorCode::not_found:
      return "not_found";
    case ErrorCode::conflict:
      return "conflict";
    case ErrorCode::crypto:
      return "crypto";
    case ErrorCode::io:
      return "io";
    case ErrorCode::store:
      return "store";
    case ErrorCode::internal:
      return "internal";
  }
  return "internal";
}

}  // namespace pki
