// An issued certificate as an immutable value, cheap to copy.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pki/clock.hpp"
#include "pki/key.hpp"
#include "pki/name.hpp"
#include "pki/profile.hpp"

namespace pki {

class Certificate {
 public:
  // Exactly one certificate, strict DER (no trailing bytes) or exactly one PEM
  // block. Error(invalid_input) otherwise.
  static Certificate from_der(std::span<const std::uint8_t> der);
  static Certificate from_pem(std::string_view pem);
  // PEM or DER, as found in a file.
  static Certificate load(const std::filesystem::path& file);
  // One or more PEM certificates (a chain file), in file order.
  static std::vector<Certificate> from_pem_bundle(std::string_view pem);

  std::vector<std::uint8_t> der() const;
  std::string to_pem() const;

  DistinguishedName subject() const;
  DistinguishedName issuer() const;
  std::string serial_hex() const;  // lowercase, as the store keys it
  TimePoint not_before() const;
  TimePoint not_after() const;
  PublicKey public_key() const;
  std::string ski_hex() const;  // empty if absent
  std::string aki_hex() const;  // keyIdentifier, empty if absent
  bool is_ca() const;
  std::optional<int> path_len() const;
  std::vector<SubjectAltName> sans() const;
  std::vector<KeyUsage> key_usage() const;
  std::string fingerprint_sha256_hex() const;  // of the DER
  std::string signature_algorithm() const;     // "ecdsa-with-SHA384", ...
  bool is_self_signed() const;                 // subject == issuer and the signature verifies

  // X509* (shared; do not free). libpki internals and embedders only.
  void* native_handle() const noexcept { return m_x509.get(); }
  static Certificate adopt(void* x509);  // takes ownership of one reference

 private:
  std::shared_ptr<void> m_x509;
};

// Serial numbers as hex text: lowercase, leading zero bytes stripped.
// Accepts "0A:1b", "0x0a1b", "0a1b". Error(invalid_input) on anything else.
std::string normalize_serial_hex(std::string_view text);

}  // namespace pki
