#include "issuance/san_match.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace pki {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool glob(std::string_view p, std::string_view v, std::string_view stop_chars) {
  if (p.empty()) return v.empty();
  if (p.front() == '*') {
    // '*' matches at least one character, none of stop_chars.
    for (std::size_t n = 1; n <= v.size(); ++n) {
      if (stop_chars.find(v[n - 1]) != std::string_view::npos) break;
      if (glob(p.substr(1), v.substr(n), stop_chars)) return true;
    }
    return false;
  }
  return !v.empty() && p.front() == v.front() && glob(p.substr(1), v.substr(1), stop_chars);
}

bool ip_in(std::string_view pattern, std::string_view value) {
  const std::string pat(pattern);
  const auto slash = pat.find('/');
  const std::string base = pat.substr(0, slash);
  unsigned char net[16] = {}, addr[16] = {};
  int family = AF_INET;
  std::size_t bytes = 4;
  if (inet_pton(AF_INET, base.c_str(), net) != 1) {
    if (inet_pton(AF_INET6, base.c_str(), net) != 1) return false;
    family = AF_INET6;
    bytes = 16;
  }
  if (inet_pton(family, std::string(value).c_str(), addr) != 1) return false;
  int bits = static_cast<int>(bytes * 8);
  if (slash != std::string::npos) {
    try {
      bits = std::stoi(pat.substr(slash + 1));
    } catch (...) {
      return false;
    }
    if (bits < 0 || bits > static_cast<int>(bytes * 8)) return false;
  }
  for (std::size_t i = 0; i < bytes && bits > 0; ++i, bits -= 8) {
    const unsigned mask = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;
    if ((net[i] & mask) != (addr[i] & mask)) return false;
  }
  return true;
}

}  // namespace

bool san_matches(SanType type, std::string_view pattern, std::string_view value) {
  switch (type) {
    case SanType::dns:
      return glob(lower(pattern), lower(value), ".");
    case SanType::email: {
      const auto at = value.rfind('@');
      const auto pat = pattern.rfind('@');
      if (at == std::string_view::npos || pat == std::string_view::npos) return false;
      return glob(pattern.substr(0, pat), value.substr(0, at), "@/") &&
             glob(lower(pattern.substr(pat)), lower(value.substr(at)), "@/");
    }
    case SanType::uri:
      return glob(pattern, value, "/@");
    case SanType::ip:
      return ip_in(pattern, value);
  }
  return false;
}

}  // namespace pki
