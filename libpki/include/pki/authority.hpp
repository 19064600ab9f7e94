// A certificate authority as an object (Botan's X509_CA): its constructor
// refuses a certificate that cannot issue, and signing is const. It turns a
// fully decided CertificateSpec into a to-be-signed Draft (build + check), and
// a Draft into a Certificate (sign). Reserving the serial in the store between
// the two is the caller's step (issuance.hpp does it).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pki/certificate.hpp"
#include "pki/findings.hpp"
#include "pki/profile.hpp"
#include "pki/signer.hpp"

namespace pki {

namespace fastpath {
class CertTemplate;  // signs with the CA key without a Draft (internal batch fast path)
}
namespace crl {
struct Signing;  // signs CRLs with the CA key (libpki/src/crl)
}

// Everything a certificate will contain, decided before any encoding: the
// profile supplies the extensions, the caller the subject, key, SANs and time.
struct CertificateSpec {
  ProfileSpec profile;
  DistinguishedName subject;
  PublicKey public_key;
  std::vector<SubjectAltName> sans;  // final list (profile `add` + allowed CSR values)
  TimePoint not_before{};            // already backdated
  TimePoint not_after{};             // forever() for "no expiry"
  // Variables for URL templates (CRL DP, AIA): {ca} and the home's variables.
  std::map<std::string, std::string> variables;
};

// A built and checked certificate, not yet signed. Opaque outside libpki.
class Draft {
 public:
  const std::string& serial_hex() const noexcept { return m_serial_hex; }
  TimePoint not_before() const noexcept { return m_not_before; }
  TimePoint not_after() const noexcept { return m_not_after; }
  const std::string& subject() const noexcept { return m_subject; }
  const std::string& spki_sha256() const noexcept { return m_spki_sha256; }
  // Warnings from build and check (errors make draft() throw instead).
  const Findings& findings() const noexcept { return m_findings; }
  void* native_handle() const noexcept { return m_tbs.get(); }  // X509*

 private:
  friend class Authority;
  friend struct DraftAccess;
  std::shared_ptr<void> m_tbs;
  std::string m_serial_hex;
  TimePoint m_not_before{};
  TimePoint m_not_after{};
  std::string m_subject;
  std::string m_spki_sha256;
  std::string m_digest;
  Findings m_findings;
  // Shared by copies: the certificate is signed once (see Authority::sign).
  std::shared_ptr<std::atomic<bool>> m_signed = std::make_shared<std::atomic<bool>>(false);
};

class Authority {
 public:
  // `chain` is the CA's own certificate followed by its issuers up to the
  // root (the root alone for a root). Error(policy) when the certificate is
  // not a CA, lacks keyCertSign, or the signer's key does not match it.
  Authority(std::string name, std::vector<Certificate> chain, std::shared_ptr<const Signer> signer);

  // Builds the to-be-signed certificate with a fresh random serial and checks
  // it against RFC 5280 and this CA (validity inside the CA's, name
  // constraints of every CA in the chain, pathLen). Error(policy) listing
  // every failed check; nothing is signed.
  Draft draft(const CertificateSpec& spec) const;
  // Signs in place; a draft is signed once (Error(internal) the second time).
  Certificate sign(const Draft& draft) const;

  // A self-signed root: drafts and signs with `key` in one step (no store
  // involved: the caller records it).
  static Certificate self_sign(const CertificateSpec& spec, const Signer& signer,
                               std::string* serial_hex = nullptr, Findings* warnings = nullptr);

  const std::string& name() const noexcept { return m_name; }
  const Certificate& certificate() const noexcept { return m_chain.front(); }
  const std::vector<Certificate>& chain() const noexcept { return m_chain; }

 private:
  friend class fastpath::CertTemplate;
  friend struct crl::Signing;
  std::string m_name;
  std::vector<Certificate> m_chain;
  std::shared_ptr<const Signer> m_signer;
};

}  // namespace pki
