// Build and check steps of the issuance pipeline: a CertificateSpec becomes an
// unsigned X509 (build), which the lint then checks as encoded (check). The
// lint reads the encoded certificate, not the spec, so a builder bug shows up
// as a finding rather than as a bad certificate.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "ossl/handles.hpp"
#include "pki/authority.hpp"

namespace pki {

struct IssuerView {
  const X509* cert = nullptr;      // nullptr: self-signed (the certificate is its own issuer)
  std::vector<const X509*> chain;  // cert and its issuers, for name constraints
};

// `serial` is the big-endian magnitude (top bit clear). `notes` receives
// warnings (validity clamped, key usage adapted to the key type).
ossl::X509Ptr build_tbs(const CertificateSpec& spec, const IssuerView& issuer,
                        std::span<const std::uint8_t> serial, Findings& notes);

// RFC 5280 and devpki rules on the encoded to-be-signed certificate.
Findings lint_tbs(const X509* tbs, const IssuerView& issuer);

// 16 bytes from the CSPRNG, top bit cleared, non-zero (DESIGN.md "Serials").
std::vector<std::uint8_t> random_serial();

// Signs in place with `key`, digest by name ("sha256", ...; ignored for Ed25519).
void sign_tbs(X509* tbs, EVP_PKEY* key, const std::string& digest);

}  // namespace pki

namespace pki {
// The one way to fill a Draft (its fields are private to keep it immutable).
struct DraftAccess {
  static Draft make(ossl::X509Ptr tbs, std::string serial_magnitude_hex,
                    const CertificateSpec& spec, Findings notes);
  static Certificate sign(const Draft& draft, EVP_PKEY* key);
};
}  // namespace pki
