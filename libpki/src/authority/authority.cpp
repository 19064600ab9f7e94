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

}  // namespace

// Signs the draft's certificate in place and hands it out. Nothing has read
// OpenSSL's extension cache of the unsigned certificate (the lint decodes
// explicitly), so the returned object is as good as one parsed from its DER.
// A draft is signed once: a second signature would change a certificate
// already handed out.
Certificate DraftAccess::sign(const Draft& draft, EVP_PKEY* key) {
  if (draft.m_signed->exchange(true)) {
    throw Error(ErrorCode::internal, "a draft can be signed only once");
  }
  auto* tbs = static_cast<X509*>(draft.native_handle());
  sign_tbs(tbs, key, draft.m_digest);
  ossl::check(X509_up_ref(tbs), "X509_up_ref", ErrorCode::internal);
  return Certificate::adopt(tbs);
}

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
  // The constructor proved the signer's key is the certificate's.
  return DraftAccess::sign(draft, static_cast<EVP_PKEY*>(m_signer->native_handle()));
}

Certificate Authority::self_sign(const CertificateSpec& spec, const Signer& signer,
                                 std::string* serial_hex, Findings* warnings) {
  if (!(signer.public_key() == spec.public_key)) {
    throw Error(ErrorCode::internal, "self-signed certificate for a key the signer does not hold");
  }
  const Draft d = make_draft(spec, IssuerView{});
  if (serial_hex != nullptr) *serial_hex = d.serial_hex();
  if (warnings != nullptr) warnings->append(d.findings());
  return DraftAccess::sign(d, static_cast<EVP_PKEY*>(signer.native_handle()));
}

}  // namespace pki
