// Builds and signs one v2 CRL (RFC 5280 5) from a header and entries that
// arrive one at a time (from the store, streamed): nothing but the
// X509_CRL being built grows with the list.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ossl/handles.hpp"
#include "pki/clock.hpp"
#include "pki/store.hpp"

namespace pki::crl {

// What a CRL says about itself.
struct CrlHeader {
  const X509* issuer = nullptr;             // the CA certificate: issuer name and key identifier
  std::uint64_t number = 0;                 // cRLNumber
  std::optional<std::uint64_t> delta_base;  // a delta CRL: the base CRL's number
  TimePoint this_update{};
  TimePoint next_update{};
  std::vector<std::string> freshest_crl;  // expanded URLs; full CRLs only
};

// RFC 5280 5.3.1 CRLReason.
inline constexpr int kReasonUnspecified = 0;
inline constexpr int kReasonRemoveFromCrl = 8;

class CrlBuilder {
 public:
  // Error(policy) for an issuer without subjectKeyIdentifier (RFC 5280
  // 5.2.1 needs the key identifier) or freshest URLs on a delta (5.2.6).
  explicit CrlBuilder(const CrlHeader& header);

  // One entry. A released certificateHold (released_at set) becomes a
  // removeFromCRL entry dated at its release, allowed on a delta CRL only.
  // Error(store) for a reason code that RFC 5280 5.3.1 does not define.
  void add(const RevocationRecord& rec);
  std::size_t entries() const noexcept { return m_entries; }

  // Sorts the entries by serial, signs with `key` (`digest` by name, none for
  // Ed25519) and returns the DER. Once per builder. Error(internal) for a
  // serial listed twice.
  std::vector<std::uint8_t> sign(EVP_PKEY* key, const std::string& digest);

 private:
  ossl::X509CrlPtr m_crl;
  bool m_delta = false;
  bool m_signed = false;
  std::size_t m_entries = 0;
  // Scratch values reused for every entry: the X509_REVOKED setters copy.
  ossl::Asn1IntegerPtr m_serial;
  ossl::Asn1TimePtr m_date;
  ossl::Asn1EnumeratedPtr m_reason;
  ossl::Asn1GeneralizedTimePtr m_invalidity;
  std::vector<unsigned char> m_serial_bytes;
};

}  // namespace pki::crl
