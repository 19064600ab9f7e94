// QR-code onboarding: the payload printed on a device's label (or shown on
// its screen) that a companion app scans to enroll the device, its manual
// code for typing when the camera fails, and the label rendered with
// libqrencode as PNG, SVG or text.
//
// Payload, version 1 (docs/provisioning.md "QR payload format"):
//
//   DP1|<device id>|<setup code>|<anchor>|<endpoint>|<check>
//
//   device id   as validate_device_id (1..64 of [A-Za-z0-9._:-])
//   setup code  12 Crockford base32 characters (upper case), 60 bits: the
//               one-time secret (pki/enrollment.hpp), redeemed once
//   anchor      the SHA-256 fingerprint of the trust anchor the app pins
//               (the DER certificate's), base64url without padding: 43 chars
//   endpoint    the enrollment URL, https:// (http:// accepted for tests),
//               at most 200 characters, printable ASCII without '|' or spaces
//   check       2 lower-case hex digits: the Luhn mod 128 check character of
//               every character before it (their ASCII codes, including the
//               '|' before the check); any single changed character is caught
//
// Manual code: the setup code in three groups of four plus a Luhn mod 32
// check character over the Crockford alphabet: "7K3M-9QXD-2F4T-R".
#pragma once

#include <string>
#include <string_view>

namespace pki {

struct OnboardingPayload {
  int version = 1;
  std::string device_id;
  std::string setup_code;
  std::string anchor_sha256;  // hex (64), as Certificate::fingerprint_sha256_hex
  std::string endpoint;
};

// Error(invalid_input) naming the field that cannot go into a payload.
std::string encode_payload(const OnboardingPayload& p);
// Error(invalid_input) naming what is wrong: not a devpki payload, an
// unsupported version ("DP2 ... this devpki reads DP1"), the number of
// fields, a field's syntax, or the check ("check characters 3f do not match
// (expected 41): the payload was changed or mistyped").
OnboardingPayload parse_payload(std::string_view text);
bool looks_like_payload(std::string_view text) noexcept;  // starts with "DP<digit>"

// Setup codes: 12 characters of the Crockford alphabet 0123456789ABCDEFGHJKMNPQRSTVWXYZ.
std::string manual_code(std::string_view setup_code);  // "XXXX-XXXX-XXXX-C"
// Reads a typed code: 12 characters (no check) or 13 (with the check
// character), case and dashes/spaces ignored, I and L read as 1, O as 0
// (Crockford). Returns the 12-character setup code. Error(invalid_input)
// for the wrong length, a character outside the alphabet or a check
// character that does not match.
std::string parse_setup_code(std::string_view typed);
// Luhn mod N check character over the Crockford alphabet (N = 32).
char crockford_check(std::string_view code);
// Luhn mod 128 over ASCII (the payload check), as 2 lower-case hex digits.
std::string payload_check(std::string_view text);

// base64url without padding of a 64-hex-digit SHA-256, and back.
std::string fingerprint_to_base64url(std::string_view hex);
std::string fingerprint_from_base64url(std::string_view b64);

enum class QrFormat { png, svg, text };
QrFormat parse_qr_format(std::string_view s);  // Error(invalid_input) naming png, svg, text
std::string_view to_string(QrFormat f) noexcept;
std::string_view file_extension(QrFormat f) noexcept;  // "png", "svg", "txt"

struct QrLabel {
  std::string payload;
  std::string caption;      // the device id, printed under the code (SVG, text)
  std::string manual_code;  // printed under the caption (SVG, text)
};

// The label as file content. The QR code: libqrencode (it picks byte, alphanumeric or numeric
// segments), error correction level M, a 4-module quiet zone.
//   png   1-bit grayscale, 8 pixels per module (libpng), the code only
//   svg   one <path> of the dark modules, 8 units per module, the caption and
//         manual code as <text> under it
//   text  the payload, the manual code and the code drawn with Unicode half
//         blocks (two modules per character row), for a terminal
// Error(invalid_input) when the payload does not fit a QR code.
std::string render_label(const QrLabel& label, QrFormat format);

}  // namespace pki
