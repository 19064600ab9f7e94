#include "pki/authority.hpp"

#include <openssl/x509.h>

#include <algorithm>

#include "cert/asn1_time.hpp"
#include "cert/builder.hpp"
#include "ossl/check.hpp"

namespace pki {

namespace {

X509* x509_of(const Certificate& c) {
  return static_cast<X509*>(c.native_handle());
}

IssuerView view_of(const std::vector<Certificate>& chain) {
  IssuerView v;
  v.cert = x509_of(chain.front());
  for (const auto& c : chain)
    v.chain.push_back(x509_of(c));
  return v;
}

Draft make_draft(const CertificateSpec& spec, const IssuerView& issuer) {
  Findings notes;
  const auto serial = random_serial();
  ossl::X509Ptr tbs = build_tbs(spec, issuer, serial, notes);
  Findings lint = lint_tbs(tbs.get(), issuer);
  if (lint.has_errors()) {
    throw Error(ErrorCode::policy, "certificate refused: " + lint.error_summary());
  }
  notes.append(lint);
  return DraftAccess::make(std::move(tbs), ossl::hex(serial), spec, std::move(notes));
}

Certificate finish(X509* tbs, EVP_PKEY* key, const std::string& digest, EVP_PKEY* verify_with) {
  sign_tbs(tbs, key, digest);
  // A signature that does not verify under the issuer's certificate means the
  // signer and the CA certificate disagree: never hand that out.
  if (X509_verify(tbs, verify_with) != 1) {
    ossl::fail(ErrorCode::crypto,
               "the new certificate's signature does not verify with the CA key");
  }
  // Re-read from DER: the value returned is exactly what was encoded.
  return Certificate::from_der(ossl::to_der<X509>(i2d_X509, tbs, "encode certificate"));
}

}  // namespace

Draft DraftAccess::make(ossl::X509Ptr tbs, std::string serial_magnitude_hex,
                        const CertificateSpec& spec, Findings notes) {
  Draft d;
  X509* x = tbs.release();
  d.m_tbs = std::shared_ptr<void>(x, [](void* p) { X509_free(static_cast<X509*>(p)); });
  d.m_serial_hex = normalize_serial_hex(serial_magnitude_hex);
  d.m_not_before = from_asn1_time(X509_get0_notBefore(x));
  d.m_not_after = from_asn1_time(X509_get0_notAfter(x));
  d.m_subject = spec.subject.to_string();
  d.m_spki_sha256 = spec.public_key.spki_sha256_hex();
  d.m_digest = spec.profile.signature_digest;
  d.m_findings = std::move(notes);
  return d;
}

Authority::Authority(std::string name, std::vector<Certificate> chain,
                     std::shared_ptr<const Signer> signer)
    : m_name(std::move(name)), m_chain(std::move(chain)), m_signer(std::move(signer)) {
  if (m_chain.empty() || !m_signer)
    throw Error(ErrorCode::internal, "authority without certificate or signer");
  const Certificate& cert = m_chain.front();
  if (!cert.is_ca()) {
    throw Error(ErrorCode::policy, "certificate of '" + m_name + "' is not a CA certificate");
  }
  const auto usage = cert.key_usage();
  if (!usage.empty() &&
      std::find(usage.begin(), usage.end(), KeyUsage::key_cert_sign) == usage.end()) {
    throw Error(ErrorCode::policy, "certificate of '" + m_name + "' lacks keyCertSign");
  }
  if (!(m_signer->public_key() == cert.public_key())) {
    throw Error(ErrorCode::policy, "the key of '" + m_name + "' (" + m_signer->description() +
                                       ") does not match its certificate");
  }
}

Draft Authority::draft(const CertificateSpec& spec) const {
  return make_draft(spec, view_of(m_chain));
}

Certificate Authority::sign(const Draft& draft) const {
  return finish(static_cast<X509*>(draft.native_handle()),
                static_cast<EVP_PKEY*>(m_signer->native_handle()), draft.m_digest,
                X509_get0_pubkey(x509_of(certificate())));
}

Certificate Authority::self_sign(const CertificateSpec& spec, const Signer& signer,
                                 std::string* serial_hex, Findings* warnings) {
  if (!(signer.public_key() == spec.public_key)) {
    throw Error(ErrorCode::internal, "self-signed certificate for a key the signer does not hold");
  }
  const Draft d = make_draft(spec, IssuerView{});
  if (serial_hex != nullptr) *serial_hex = d.serial_hex();
  if (warnings != nullptr) warnings->append(d.findings());
  return finish(static_cast<X509*>(d.native_handle()),
                static_cast<EVP_PKEY*>(signer.native_handle()), d.m_digest,
                static_cast<EVP_PKEY*>(spec.public_key.native_handle()));
}

}  // namespace pki
