// What secrets.cpp shares with redeem.cpp: the home's enrollment key, the
// keyed hash, and the token syntax.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pki/enrollment.hpp"
#include "pki/home.hpp"

namespace pki::enrollment {

// keys/enrollment.key: 32 random bytes as hex, made (0600) on first use
// when `create`; nullopt when it does not exist and !create (no secret was
// ever issued: lookups write nothing). Error(store) for a file that is not one.
std::optional<std::vector<std::uint8_t>> home_key(const Home& home, bool create);
// HMAC-SHA256(home key, "<kind>:<canonical secret>"), lower-case hex;
// nullopt when there is no key and !create_key.
std::optional<std::string> secret_hash(const Home& home, SecretKind kind,
                                       std::string_view canonical, bool create_key);
// The same with the key at hand.
std::string keyed_hash(std::span<const std::uint8_t> key, SecretKind kind,
                       std::string_view canonical);
std::string new_token();       // "dpt_" + 26 + 4 base32 characters
std::string new_setup_code();  // 12 Crockford base32 characters
// The token in lower case; Error(invalid_input) "malformed token: ..." for
// a wrong prefix, length, alphabet or check.
std::string canonical_token(std::string_view text);

}  // namespace pki::enrollment
