#pragma once

#include <string_view>

#include "pki/profile.hpp"

namespace pki {

// Does `value` (of `type`) match `pattern`? For dns, '*' matches exactly one
// non-empty label; for email and uri, '*' matches a run without '/' or '@';
// for ip, the pattern is an address or a CIDR block. Case-insensitive for dns
// and the domain part of email (RFC 4343, RFC 5321 2.4).
bool san_matches(SanType type, std::string_view pattern, std::string_view value);

}  // namespace pki
