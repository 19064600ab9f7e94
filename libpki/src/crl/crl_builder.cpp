#include "crl/crl_builder.hpp"

#include <openssl/x509v3.h>

#include "cert/asn1_time.hpp"
#include "cert/general_name.hpp"
#include "fastpath/der_writer.hpp"
#include "ossl/check.hpp"

namespace pki::crl {

namespace {

// A serial as the store keeps it ("0a1b", lowercase hex) -> the INTEGER's
// magnitude, leading zero octets dropped (DER INTEGERs are minimal; OpenSSL
// adds the 0x00 that keeps a high first bit positive).
void serial_bytes(std::string_view hex, std::vector<unsigned char>& out) {
  const auto nibble = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw Error(ErrorCode::store, "revoked serial '" + std::string(hex) + "' is not hex");
  };
  // RFC 5280 4.1.2.2 allows 20 octets; the store may hold longer serials of
  // foreign certificates, but not absurd ones.
  if (hex.empty() || hex.size() > 128) {
    throw Error(ErrorCode::store, "revoked serial '" + std::string(hex) + "' has a bad length");
  }
  out.clear();
  std::size_t i = 0;
  if (hex.size() % 2 != 0) out.push_back(static_cast<unsigned char>(nibble(hex[i++])));
  for (; i < hex.size(); i += 2) {
    out.push_back(static_cast<unsigned char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  std::size_t zeros = 0;
  while (zeros + 1 < out.size() && out[zeros] == 0)
    ++zeros;
  out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(zeros));
}

bool valid_reason(int code) {
  // RFC 5280 5.3.1: 0..10, 7 unused.
  return code >= 0 && code <= 10 && code != 7;
}

ossl::Asn1OctetStringPtr octets(const ASN1_OCTET_STRING* from) {
  ossl::Asn1OctetStringPtr s(ossl::check_ptr(ASN1_OCTET_STRING_dup(from), "ASN1_OCTET_STRING_dup"));
  return s;
}

template <class T>
void add_crl_ext(X509_CRL* crl, int nid, T* value, bool critical, const char* what) {
  ossl::check(X509_CRL_add1_ext_i2d(crl, nid, value, critical ? 1 : 0, X509V3_ADD_APPEND), what);
}

// RFC 5280 5.2.6: freshestCRL has the syntax of cRLDistributionPoints
// (4.2.1.13); each URL is one distribution point with a fullName.
void add_freshest_crl(X509_CRL* crl, const std::vector<std::string>& urls) {
  ossl::CrlDistPointsPtr dps(ossl::check_ptr(sk_DIST_POINT_new_null(), "sk_DIST_POINT_new_null"));
  for (const auto& url : urls) {
    DIST_POINT* dp = ossl::check_ptr(DIST_POINT_new(), "DIST_POINT_new");
    if (sk_DIST_POINT_push(dps.get(), dp) == 0) {
      DIST_POINT_free(dp);
      ossl::fail(ErrorCode::crypto, "sk_DIST_POINT_push");
    }
    dp->distpoint = ossl::check_ptr(DIST_POINT_NAME_new(), "DIST_POINT_NAME_new");
    dp->distpoint->type = 0;  // fullName
    dp->distpoint->name.fullname =
        ossl::check_ptr(sk_GENERAL_NAME_new_null(), "sk_GENERAL_NAME_new_null");
    ossl::GeneralNamePtr name = to_general_name({SanType::uri, url});
    ossl::check(sk_GENERAL_NAME_push(dp->distpoint->name.fullname, name.get()),
                "sk_GENERAL_NAME_push");
    name.release();
  }
  // RFC 5280 5.2.6: "MUST be marked as non-critical by conforming CRL issuers".
  add_crl_ext(crl, NID_freshest_crl, dps.get(), false, "freshestCRL");
}

}  // namespace

CrlBuilder::CrlBuilder(const CrlHeader& h)
    : m_crl(ossl::check_ptr(X509_CRL_new(), "X509_CRL_new")),
      m_delta(h.delta_base.has_value()),
      m_serial(ossl::check_ptr(ASN1_INTEGER_new(), "ASN1_INTEGER_new")),
      m_date(ossl::check_ptr(ASN1_TIME_new(), "ASN1_TIME_new")),
      m_reason(ossl::check_ptr(ASN1_ENUMERATED_new(), "ASN1_ENUMERATED_new")),
      m_invalidity(ossl::check_ptr(ASN1_GENERALIZEDTIME_new(), "ASN1_GENERALIZEDTIME_new")) {
  if (h.issuer == nullptr) throw Error(ErrorCode::internal, "CRL without an issuer certificate");
  if (m_delta && !h.freshest_crl.empty()) {
    throw Error(ErrorCode::policy, "RFC 5280 5.2.6: a delta CRL carries no freshestCRL");
  }
  X509_CRL* crl = m_crl.get();
  // RFC 5280 5.1.2.1: v2 (1) because the CRL has extensions.
  ossl::check(X509_CRL_set_version(crl, X509_CRL_VERSION_2), "X509_CRL_set_version");
  // 5.1.2.3: the issuer is the CA certificate's subject, as encoded there.
  ossl::check(X509_CRL_set_issuer_name(crl, X509_get_subject_name(h.issuer)),
              "X509_CRL_set_issuer_name");
  // 5.1.2.4 / 5.1.2.5: UTCTime through 2049, GeneralizedTime from 2050
  // (to_asn1_time picks).
  ossl::check(X509_CRL_set1_lastUpdate(crl, to_asn1_time(h.this_update).get()),
              "X509_CRL_set1_lastUpdate");
  ossl::check(X509_CRL_set1_nextUpdate(crl, to_asn1_time(h.next_update).get()),
              "X509_CRL_set1_nextUpdate");

  // 5.2.1: authorityKeyIdentifier, the keyIdentifier method, which must
  // match the CA certificate's subjectKeyIdentifier.
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(h.issuer));
  if (ski == nullptr) {
    throw Error(ErrorCode::policy,
                "the CA certificate has no subjectKeyIdentifier, which its CRLs' "
                "authorityKeyIdentifier must repeat (RFC 5280 5.2.1)");
  }
  ossl::AuthorityKeyIdPtr akid(ossl::check_ptr(AUTHORITY_KEYID_new(), "AUTHORITY_KEYID_new"));
  akid->keyid = octets(ski).release();
  add_crl_ext(crl, NID_authority_key_identifier, akid.get(), false, "authorityKeyIdentifier");

  // 5.2.3: cRLNumber, non-critical.
  ossl::Asn1IntegerPtr number(ossl::check_ptr(ASN1_INTEGER_new(), "ASN1_INTEGER_new"));
  ossl::check(ASN1_INTEGER_set_uint64(number.get(), h.number), "ASN1_INTEGER_set_uint64");
  add_crl_ext(crl, NID_crl_number, number.get(), false, "cRLNumber");

  if (m_delta) {
    // 5.2.4: deltaCRLIndicator "MUST be marked critical", naming the base.
    ossl::Asn1IntegerPtr base(ossl::check_ptr(ASN1_INTEGER_new(), "ASN1_INTEGER_new"));
    ossl::check(ASN1_INTEGER_set_uint64(base.get(), *h.delta_base), "ASN1_INTEGER_set_uint64");
    add_crl_ext(crl, NID_delta_crl, base.get(), true, "deltaCRLIndicator");
  } else if (!h.freshest_crl.empty()) {
    add_freshest_crl(crl, h.freshest_crl);
  }
}

void CrlBuilder::add(const RevocationRecord& rec) {
  if (m_signed) throw Error(ErrorCode::internal, "entry added to a signed CRL");
  const bool removal = rec.released_at.has_value();
  if (removal && !m_delta) {
    throw Error(ErrorCode::internal, "released hold " + rec.serial_hex + " offered for a full CRL");
  }
  const int reason = removal ? kReasonRemoveFromCrl : rec.reason;
  if (!valid_reason(reason) || (!removal && reason == kReasonRemoveFromCrl)) {
    throw Error(ErrorCode::store, "revocation of " + rec.serial_hex + " has reason code " +
                                      std::to_string(rec.reason) +
                                      ", which RFC 5280 5.3.1 does not define");
  }

  ossl::X509RevokedPtr rev(ossl::check_ptr(X509_REVOKED_new(), "X509_REVOKED_new"));
  serial_bytes(rec.serial_hex, m_serial_bytes);
  ossl::check(ASN1_STRING_set(m_serial.get(), m_serial_bytes.data(),
                              static_cast<int>(m_serial_bytes.size())),
              "ASN1_STRING_set");
  ossl::check(X509_REVOKED_set_serialNumber(rev.get(), m_serial.get()),
              "X509_REVOKED_set_serialNumber");
  // A removeFromCRL entry is dated when the hold was released: that is the
  // change the delta reports.
  const TimePoint date = removal ? *rec.released_at : rec.revoked_at;
  ossl::check_ptr(ASN1_TIME_set(m_date.get(), static_cast<time_t>(date.time_since_epoch().count())),
                  "ASN1_TIME_set");
  ossl::check(X509_REVOKED_set_revocationDate(rev.get(), m_date.get()),
              "X509_REVOKED_set_revocationDate");
  // 5.3.1: "the reason code CRL entry extension SHOULD be absent instead of
  // using the unspecified (0) reasonCode value".
  if (reason != kReasonUnspecified) {
    ossl::check(ASN1_ENUMERATED_set(m_reason.get(), reason), "ASN1_ENUMERATED_set");
    ossl::check(
        X509_REVOKED_add1_ext_i2d(rev.get(), NID_crl_reason, m_reason.get(), 0, X509V3_ADD_APPEND),
        "reasonCode");
  }
  // 5.3.2: invalidityDate, a GeneralizedTime, non-critical. Meaningless on
  // a removeFromCRL entry.
  if (rec.invalidity_date && !removal) {
    ossl::check_ptr(ASN1_GENERALIZEDTIME_set(
                        m_invalidity.get(),
                        static_cast<time_t>(rec.invalidity_date->time_since_epoch().count())),
                    "ASN1_GENERALIZEDTIME_set");
    ossl::check(X509_REVOKED_add1_ext_i2d(rev.get(), NID_invalidity_date, m_invalidity.get(), 0,
                                          X509V3_ADD_APPEND),
                "invalidityDate");
  }
  ossl::check(X509_CRL_add0_revoked(m_crl.get(), rev.get()), "X509_CRL_add0_revoked");
  rev.release();
  ++m_entries;
}

std::vector<std::uint8_t> CrlBuilder::sign(EVP_PKEY* key, const std::string& digest) {
  if (m_signed) throw Error(ErrorCode::internal, "a CRL is signed once");
  m_signed = true;
  X509_CRL* crl = m_crl.get();
  // Sorted by serial: not required by RFC 5280, but lookups (OpenSSL's own
  // X509_CRL_get0_by_serial) sort anyway, and a fixed order makes two CRLs
  // with the same entries comparable.
  ossl::check(X509_CRL_sort(crl), "X509_CRL_sort");
  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 1; i < sk_X509_REVOKED_num(revoked); ++i) {
    const ASN1_INTEGER* a = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i - 1));
    const ASN1_INTEGER* b = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i));
    if (ASN1_INTEGER_cmp(a, b) == 0) {
      throw Error(ErrorCode::internal, "serial listed twice on one CRL");
    }
  }
  const bool no_digest = EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448");
  const EVP_MD* md = no_digest ? nullptr : EVP_get_digestbyname(digest.c_str());
  if (!no_digest && md == nullptr) {
    throw Error(ErrorCode::invalid_input, "unknown signature digest '" + digest + "'");
  }
  // X509_CRL_sign followed by i2d_X509_CRL encodes the whole entry list
  // twice (to sign, then to output): for 100,000 entries that was 45% of
  // `devpki-ca crl`. Instead X509_CRL_sign runs on the CRL with its entries
  // set aside, which is cheap and sets both AlgorithmIdentifiers exactly as
  // OpenSSL chooses them for this key and digest; the entries go back, the
  // to-be-signed part is encoded once by OpenSSL (i2d_re_X509_CRL_tbs), signed
  // with the same key and digest, and wrapped in the three-element
  // CertificateList SEQUENCE (RFC 5280 5.1) here. The unit tests check the
  // result with X509_CRL_verify and the openssl binary.
  // No stack at all for a CRL without entries.
  STACK_OF(X509_REVOKED)* list = X509_CRL_get_REVOKED(crl);
  std::vector<X509_REVOKED*> aside;
  if (list != nullptr) {
    aside.reserve(static_cast<std::size_t>(sk_X509_REVOKED_num(list)));
    for (int i = 0; i < sk_X509_REVOKED_num(list); ++i)
      aside.push_back(sk_X509_REVOKED_value(list, i));
    sk_X509_REVOKED_zero(list);
  }
  const int signed_ok = X509_CRL_sign(crl, key, md);
  for (X509_REVOKED* r : aside) {
    if (sk_X509_REVOKED_push(list, r) <= 0) {
      // Not in the stack: freed here so nothing leaks; the CRL is lost anyway.
      X509_REVOKED_free(r);
      ossl::fail(ErrorCode::internal, "sk_X509_REVOKED_push");
    }
  }
  if (signed_ok <= 0) ossl::fail(ErrorCode::crypto, "signing the CRL failed");

  // i2d_re_ marks the cached encoding stale first, so the entries put back
  // are encoded (they are sorted already: the stack keeps its order).
  const int tbs_len = i2d_re_X509_CRL_tbs(crl, nullptr);
  if (tbs_len <= 0) ossl::fail(ErrorCode::internal, "i2d_re_X509_CRL_tbs");
  std::vector<std::uint8_t> tbs(static_cast<std::size_t>(tbs_len));
  unsigned char* p = tbs.data();
  if (i2d_re_X509_CRL_tbs(crl, &p) != tbs_len)
    ossl::fail(ErrorCode::internal, "i2d_re_X509_CRL_tbs");
  const ASN1_BIT_STRING* unused_sig = nullptr;
  const X509_ALGOR* alg = nullptr;
  X509_CRL_get0_signature(crl, &unused_sig, &alg);
  const std::vector<std::uint8_t> alg_der =
      ossl::to_der<X509_ALGOR>(i2d_X509_ALGOR, alg, "i2d_X509_ALGOR");

  ossl::EvpMdCtxPtr ctx(ossl::check_ptr(EVP_MD_CTX_new(), "EVP_MD_CTX_new"));
  ossl::check(EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key), "EVP_DigestSignInit");
  std::size_t sig_len = 0;
  ossl::check(EVP_DigestSign(ctx.get(), nullptr, &sig_len, tbs.data(), tbs.size()),
              "EVP_DigestSign");
  std::vector<std::uint8_t> sig(sig_len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &sig_len, tbs.data(), tbs.size()) <= 0) {
    ossl::fail(ErrorCode::crypto, "signing the CRL failed");
  }
  sig.resize(sig_len);

  namespace der = fastpath::der;
  const std::size_t bits = 1 + sig.size();  // unused-bits octet, then the signature
  const std::size_t content = tbs.size() + alg_der.size() + der::tlv_size(bits);
  std::vector<std::uint8_t> out;
  out.reserve(der::tlv_size(content));
  der::put_header(out, 0x30, content);
  der::put(out, tbs);
  der::put(out, alg_der);
  der::put_header(out, 0x03, bits);
  out.push_back(0);
  der::put(out, sig);
  return out;
}

}  // namespace pki::crl
