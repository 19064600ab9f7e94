// PKCS#10 certification requests: parsed strictly, proof of possession
// verified. What a CSR *asks for* is recorded so that the authority can refuse
// it; nothing but the key and allowed SAN values is ever copied into a certificate.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "pki/key.hpp"
#include "pki/name.hpp"
#include "pki/profile.hpp"

namespace pki {

struct CsrLimits {
  std::size_t max_bytes = 32 * 1024;  // PEM or DER as given
  std::size_t max_sans = 64;
  std::size_t max_extensions = 16;
};

class CertificationRequest {
 public:
  // PEM ("CERTIFICATE REQUEST" / "NEW CERTIFICATE REQUEST", exactly one block)
  // or DER (exactly one object, strict DER: no trailing bytes, no BER
  // indefinite lengths or other non-canonical encodings). Then checks, each an
  // Error(invalid_input) or Error(policy) naming the problem: version 0;
  // proof-of-possession signature valid; signature not with MD5 or SHA-1;
  // key RSA 2048..4096 bits, named-curve EC (no explicit parameters), or
  // Ed25519; subject passes DistinguishedName::validate(); no duplicate
  // extensions; no unknown critical extension; at most max_sans SANs.
  static CertificationRequest parse(std::span<const std::uint8_t> data,
                                    const CsrLimits& limits = {});

  const DistinguishedName& subject() const noexcept { return m_subject; }
  const PublicKey& public_key() const noexcept { return m_key; }
  const std::vector<SubjectAltName>& sans() const noexcept { return m_sans; }
  // basicConstraints cA=TRUE requested.
  bool asks_ca() const noexcept { return m_asks_ca; }
  // keyUsage with keyCertSign or cRLSign requested.
  bool asks_cert_sign() const noexcept { return m_asks_cert_sign; }
  const std::string& signature_algorithm() const noexcept { return m_sig_alg; }
  const std::vector<std::uint8_t>& der() const noexcept { return m_der; }

 private:
  DistinguishedName m_subject;
  PublicKey m_key;
  std::vector<SubjectAltName> m_sans;
  bool m_asks_ca = false;
  bool m_asks_cert_sign = false;
  std::string m_sig_alg;
  std::vector<std::uint8_t> m_der;
};

}  // namespace pki
