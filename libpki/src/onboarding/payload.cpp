// The onboarding payload "DP1|<device id>|<setup code>|<anchor>|<endpoint>|<check>",
// its Luhn mod 128 check, the Crockford manual code with its Luhn mod 32
// check character, and base64url fingerprints. See pki/onboarding.hpp.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.hpp"
#include "pki/error.hpp"
#include "pki/issuance.hpp"
#include "pki/onboarding.hpp"

namespace pki {

namespace {

constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kHex = "0123456789abcdef";
constexpr std::size_t kSetupCodeLength = 12;
constexpr std::size_t kFingerprintHexLength = 64;
constexpr std::size_t kFingerprintB64Length = 43;  // 32 bytes, no padding
constexpr std::size_t kMaxEndpointLength = 200;
constexpr std::size_t kFieldCount = 6;

[[noreturn]] void bad(const std::string& message) {
  throw Error(ErrorCode::invalid_input, message);
}

std::string quoted(std::string_view text) {
  std::string out = "'";
  out += printable(text);
  out += '\'';
  return out;
}

int crockford_value(char c) noexcept {
  const auto pos = kCrockford.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_lower_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// Luhn mod N (https://en.wikipedia.org/wiki/Luhn_mod_N_algorithm) over code
// points 0..N-1: from the rightmost character leftwards the factor is 2, 1,
// 2, 1, ...; a doubled code point's digits in base N are summed
// (addend / N + addend % N); the check code point makes the total 0 mod N.
//
// Doubling-and-folding is a permutation of 0..N-1, so every single changed
// character changes the sum: all single substitutions are caught. An adjacent
// transposition of a and b is missed only when (fold(2a) - a) == (fold(2b) -
// b) mod N, which for a != b happens for the pair {0, N-1} and no other (the
// analogue of 09 <-> 90 in decimal Luhn). Transpositions two apart (abc ->
// cba: same factor), twin errors and longer changes can go unnoticed.
std::uint32_t luhn_check(const std::vector<std::uint32_t>& points, std::uint32_t n) {
  std::uint32_t factor = 2;
  std::uint32_t sum = 0;
  for (auto it = points.rbegin(); it != points.rend(); ++it) {
    std::uint32_t addend = factor * *it;
    addend = addend / n + addend % n;
    sum += addend;
    factor = factor == 2 ? 1 : 2;
  }
  return (n - sum % n) % n;
}

std::vector<std::uint32_t> ascii_points(std::string_view text) {
  std::vector<std::uint32_t> points;
  points.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b > 0x7F) {
      bad("payload check: byte 0x" + std::string{kHex[b >> 4], kHex[b & 0xF]} + " at position " +
          std::to_string(i + 1) + " is not ASCII");
    }
    points.push_back(b);
  }
  return points;
}

std::string two_hex(std::uint32_t v) {
  return std::string{kHex[(v >> 4) & 0xF], kHex[v & 0xF]};
}

// ---- fields -------------------------------------------------------------------------------

void check_device_id(const std::string& id) {
  try {
    validate_device_id(id);
  } catch (const Error& e) {
    bad(std::string("payload device id: ") + e.what());
  }
}

void check_setup_code(std::string_view code) {
  if (code.size() != kSetupCodeLength) {
    bad("payload setup code " + quoted(code) + ": expected 12 Crockford base32 characters, got " +
        std::to_string(code.size()));
  }
  for (std::size_t i = 0; i < code.size(); ++i) {
    if (crockford_value(code[i]) < 0) {
      bad("payload setup code " + quoted(code) + ": character " + quoted(code.substr(i, 1)) +
          " at position " + std::to_string(i + 1) +
          " is not an upper-case Crockford base32 character (0-9 A-Z without I L O U)");
    }
  }
}

void check_endpoint(std::string_view url) {
  std::string where = "payload endpoint ";
  where += quoted(url);
  where += ": ";
  if (url.size() > kMaxEndpointLength) {
    bad(where + "longer than " + std::to_string(kMaxEndpointLength) + " characters (" +
        std::to_string(url.size()) + ")");
  }
  for (std::size_t i = 0; i < url.size(); ++i) {
    const auto b = static_cast<unsigned char>(url[i]);
    if (b < 0x21 || b > 0x7E || b == '|') {
      bad(where + "character " + quoted(url.substr(i, 1)) + " at position " +
          std::to_string(i + 1) + " is not allowed (printable ASCII without spaces or '|')");
    }
  }
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    bad(where + "must start with https:// (or http:// for tests)");
  }
  const std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  if (host.empty()) bad(where + "has no host after the scheme");
}

void check_check_field(std::string_view check) {
  if (check.size() != 2 || !is_lower_hex(check[0]) || !is_lower_hex(check[1])) {
    bad("payload check field " + quoted(check) + ": expected 2 lower-case hex digits");
  }
}

std::vector<std::string_view> split_fields(std::string_view text) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (;;) {
    const auto bar = text.find('|', start);
    if (bar == std::string_view::npos) {
      fields.push_back(text.substr(start));
      return fields;
    }
    fields.push_back(text.substr(start, bar - start));
    start = bar + 1;
  }
}

// Returns the bytes of a base64url text (no padding); throws with `what` naming the field.
std::vector<std::uint8_t> base64url_decode(std::string_view b64, const std::string& what) {
  if (b64.size() % 4 == 1) bad(what + ": " + std::to_string(b64.size()) + " is not a valid length");
  std::vector<std::uint8_t> out;
  out.reserve(b64.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < b64.size(); ++i) {
    const auto pos = kBase64Url.find(b64[i]);
    if (pos == std::string_view::npos) {
      bad(what + ": character " + quoted(b64.substr(i, 1)) + " at position " +
          std::to_string(i + 1) + " is not base64url (A-Z a-z 0-9 - _, no padding)");
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
    }
  }
  // The leftover bits of the last character must be zero: one encoding per value.
  if ((acc & ((1U << bits) - 1U)) != 0) {
    bad(what + ": the last character " + quoted(b64.substr(b64.size() - 1)) +
        " has bits set past the end of the data (not a canonical encoding)");
  }
  return out;
}

std::string base64url_encode(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const std::uint8_t b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kBase64Url[(acc >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += kBase64Url[(acc << (6 - bits)) & 0x3F];
  return out;
}

std::string normalize_typed_code(std::string_view typed) {
  std::string code;
  code.reserve(typed.size());
  for (const char c : typed) {
    if (c == '-' || c == ' ') continue;
    char u = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    if (u == 'I' || u == 'L') u = '1';
    if (u == 'O') u = '0';
    code += u;
  }
  return code;
}

}  // namespace

// ---- check characters ---------------------------------------------------------------------

char crockford_check(std::string_view code) {
  std::vector<std::uint32_t> points;
  points.reserve(code.size());
  for (std::size_t i = 0; i < code.size(); ++i) {
    const int v = crockford_value(code[i]);
    if (v < 0) {
      bad("setup code character " + quoted(code.substr(i, 1)) + " at position " +
          std::to_string(i + 1) +
          " is not an upper-case Crockford base32 character (0-9 A-Z without I L O U)");
    }
    points.push_back(static_cast<std::uint32_t>(v));
  }
  return kCrockford[luhn_check(points, 32)];
}

std::string payload_check(std::string_view text) {
  return two_hex(luhn_check(ascii_points(text), 128));
}

// ---- manual code --------------------------------------------------------------------------

std::string manual_code(std::string_view setup_code) {
  if (setup_code.size() != kSetupCodeLength) {
    bad("setup code " + quoted(setup_code) + ": expected 12 Crockford base32 characters, got " +
        std::to_string(setup_code.size()));
  }
  const char check = crockford_check(setup_code);
  std::string out;
  out.reserve(16);
  out.append(setup_code.substr(0, 4));
  out += '-';
  out.append(setup_code.substr(4, 4));
  out += '-';
  out.append(setup_code.substr(8, 4));
  out += '-';
  out += check;
  return out;
}

std::string parse_setup_code(std::string_view typed) {
  const std::string code = normalize_typed_code(typed);
  if (code.size() != kSetupCodeLength && code.size() != kSetupCodeLength + 1) {
    bad("setup code " + quoted(typed) +
        ": expected 12 characters (13 with the check character), got " +
        std::to_string(code.size()) + " without dashes and spaces");
  }
  for (const char c : code) {
    if (crockford_value(c) < 0) {
      bad("setup code " + quoted(typed) + ": " + quoted(std::string_view(&c, 1)) +
          " is not a setup code character (Crockford base32: 0-9 and A-Z without I L O U)");
    }
  }
  const std::string setup = code.substr(0, kSetupCodeLength);
  if (code.size() == kSetupCodeLength + 1) {
    const char expected = crockford_check(setup);
    if (code.back() != expected) {
      std::string msg = "setup code ";
      msg += quoted(typed);
      msg += ": check character ";
      msg += code.back();
      msg += " does not match (expected ";
      msg += expected;
      msg += "): the code was mistyped";
      bad(msg);
    }
  }
  return setup;
}

// ---- fingerprints -------------------------------------------------------------------------

std::string fingerprint_to_base64url(std::string_view hex) {
  if (hex.size() != kFingerprintHexLength) {
    bad("anchor fingerprint " + quoted(hex) + ": expected 64 hex digits (SHA-256), got " +
        std::to_string(hex.size()));
  }
  std::vector<std::uint8_t> bytes;
  bytes.reserve(32);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_value(hex[i]);
    const int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      bad("anchor fingerprint " + quoted(hex) + ": not hex at position " +
          std::to_string(i + (hi < 0 ? 1 : 2)));
    }
    bytes.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return base64url_encode(bytes);
}

std::string fingerprint_from_base64url(std::string_view b64) {
  const std::string what = "anchor fingerprint " + quoted(b64);
  if (b64.size() != kFingerprintB64Length) {
    bad(what + ": expected 43 base64url characters (SHA-256, no padding), got " +
        std::to_string(b64.size()));
  }
  const auto bytes = base64url_decode(b64, what);
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes)
    hex += two_hex(b);
  return hex;
}

// ---- payload ------------------------------------------------------------------------------

bool looks_like_payload(std::string_view text) noexcept {
  return text.size() >= 3 && text[0] == 'D' && text[1] == 'P' && text[2] >= '0' && text[2] <= '9';
}

std::string encode_payload(const OnboardingPayload& p) {
  if (p.version != 1) {
    bad("payload version " + std::to_string(p.version) +
        " is not supported: this devpki writes DP1");
  }
  check_device_id(p.device_id);
  check_setup_code(p.setup_code);
  std::string anchor;
  try {
    anchor = fingerprint_to_base64url(p.anchor_sha256);
  } catch (const Error& e) {
    bad(std::string("payload ") + e.what());
  }
  check_endpoint(p.endpoint);

  std::string out = "DP1|";
  out += p.device_id;
  out += '|';
  out += p.setup_code;
  out += '|';
  out += anchor;
  out += '|';
  out += p.endpoint;
  out += '|';
  out += payload_check(out);
  return out;
}

// Checked in this order, so that the message names the first thing wrong:
//   1. the structure: the "DP" prefix, the version tag ("DP1"), printable
//      ASCII only, and 6 '|'-separated fields;
//   2. the check field's syntax, then the check characters themselves: a
//      changed or mistyped character is reported as such rather than as a
//      field that happens to look malformed after the change;
//   3. each field's syntax, left to right (device id, setup code, anchor,
//      endpoint).
// A payload with a wrong check whose fields are also malformed is therefore
// reported as a check mismatch.
OnboardingPayload parse_payload(std::string_view text) {
  if (text.empty()) bad("not a devpki payload: it is empty");
  if (!text.starts_with("DP")) {
    bad("not a devpki payload: it starts with " + quoted(text.substr(0, 8)) +
        ", a devpki payload starts with DP1|");
  }
  const std::string_view tag = text.substr(0, text.find('|'));
  const std::string_view digits = tag.substr(2);
  const bool numeric = !digits.empty() && digits.size() <= 9 &&
                       digits.find_first_not_of("0123456789") == std::string_view::npos;
  if (!numeric) {
    bad("not a devpki payload: " + quoted(tag.substr(0, 16)) +
        " is not a version tag (DP1 followed by '|')");
  }
  if (digits != "1") {
    std::string msg(tag);
    msg += " is not supported: this devpki reads DP1";
    bad(msg);
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x20 || b > 0x7E) {
      bad("payload: character " + quoted(text.substr(i, 1)) + " at position " +
          std::to_string(i + 1) + " is not printable ASCII");
    }
  }
  const auto fields = split_fields(text);
  if (fields.size() != kFieldCount) {
    bad("payload: expected 6 '|'-separated fields (DP1|device id|setup code|anchor|endpoint|check)"
        ", got " +
        std::to_string(fields.size()));
  }

  const std::string_view check = fields[5];
  check_check_field(check);
  const std::string expected = payload_check(text.substr(0, text.size() - check.size()));
  if (check != expected) {
    std::string msg = "payload: check characters ";
    msg += check;
    msg += " do not match (expected ";
    msg += expected;
    msg += "): the payload was changed or mistyped";
    bad(msg);
  }

  OnboardingPayload p;
  p.version = 1;
  p.device_id = std::string(fields[1]);
  check_device_id(p.device_id);
  check_setup_code(fields[2]);
  p.setup_code = std::string(fields[2]);
  try {
    p.anchor_sha256 = fingerprint_from_base64url(fields[3]);
  } catch (const Error& e) {
    bad(std::string("payload ") + e.what());
  }
  check_endpoint(fields[4]);
  p.endpoint = std::string(fields[4]);
  return p;
}

// ---- QR formats ---------------------------------------------------------------------------

QrFormat parse_qr_format(std::string_view s) {
  if (s == "png") return QrFormat::png;
  if (s == "svg") return QrFormat::svg;
  if (s == "text") return QrFormat::text;
  bad("unknown QR format " + quoted(s) + ": use png, svg or text");
}

std::string_view to_string(QrFormat f) noexcept {
  switch (f) {
    case QrFormat::png:
      return "png";
    case QrFormat::svg:
      return "svg";
    case QrFormat::text:
      return "text";
  }
  return "unknown";
}

std::string_view file_extension(QrFormat f) noexcept {
  switch (f) {
    case QrFormat::png:
      return "png";
    case QrFormat::svg:
      return "svg";
    case QrFormat::text:
      return "txt";
  }
  return "bin";
}

}  // namespace pki
