// parse_crl: a CRL read back (tests, `show`-like output). Parsing only; the
// signature is not checked here.
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert/asn1_time.hpp"
#include "ossl/check.hpp"
#include "ossl/der.hpp"
#include "pki/crl.hpp"
#include "pki/name.hpp"

namespace pki {

namespace {

// An INTEGER extension (cRLNumber, deltaCRLIndicator): nullopt when absent.
std::optional<std::uint64_t> integer_ext(X509_CRL* crl, int nid, const char* what) {
  int crit = 0;
  ossl::Asn1IntegerPtr value(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, nid, &crit, nullptr)));
  if (!value) {
    if (crit == -1) {
      ossl::clear_errors();
      return std::nullopt;
    }
    ossl::fail(ErrorCode::invalid_input,
               std::string("CRL ") + what + (crit == -2 ? " appears twice" : " is malformed"));
  }
  std::uint64_t v = 0;
  if (ASN1_INTEGER_get_uint64(&v, value.get()) != 1) {
    ossl::fail(ErrorCode::invalid_input, std::string("CRL ") + what + " is out of range");
  }
  return v;
}

std::string issuer_text(const X509_NAME* name) {
  const auto der = ossl::to_der<X509_NAME>(i2d_X509_NAME, name, "i2d_X509_NAME");
  try {
    return DistinguishedName::from_der(der).to_string();
  } catch (const Error&) {
    // Attribute types devpki does not know: OpenSSL's RFC 2253 text (the
    // predecessor of RFC 4514, same syntax).
    ossl::BioPtr bio(ossl::check_ptr(BIO_new(BIO_s_mem()), "BIO_new"));
    ossl::check(X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) >= 0 ? 1 : 0,
                "X509_NAME_print_ex");
    return ossl::bio_string(bio.get());
  }
}

}  // namespace

CrlInfo parse_crl(const std::vector<std::uint8_t>& bytes) {
  const std::vector<std::uint8_t> der = ossl::pem_or_der(bytes, {PEM_STRING_X509_CRL}, "CRL");
  ossl::check_der_structure(der, "CRL");
  const unsigned char* p = der.data();
  ossl::X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl || p != der.data() + der.size()) ossl::fail(ErrorCode::invalid_input, "not a CRL");

  CrlInfo info;
  info.number = integer_ext(crl.get(), NID_crl_number, "cRLNumber").value_or(0);
  info.delta_base = integer_ext(crl.get(), NID_delta_crl, "deltaCRLIndicator");
  info.issuer = issuer_text(X509_CRL_get_issuer(crl.get()));
  info.this_update = from_asn1_time(X509_CRL_get0_lastUpdate(crl.get()));
  // RFC 5280 5.1.2.5 makes nextUpdate mandatory for conforming CAs; a CRL
  // without one is shown with the zero time.
  if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get())) {
    info.next_update = from_asn1_time(next);
  }
  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  info.entries = revoked == nullptr ? 0 : static_cast<std::size_t>(sk_X509_REVOKED_num(revoked));
  return info;
}

}  // namespace pki
