#include "core/text.hpp"

#include <array>
#include <cstdio>

namespace pki {

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) {
      std::array<char, 8> hex{};
      std::snprintf(hex.data(), hex.size(), "\\x%02X", b);
      out += hex.data();
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace pki
