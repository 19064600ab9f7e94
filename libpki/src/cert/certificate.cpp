#include "pki/certificate.hpp"

#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert/asn1_time.hpp"
#include "cert/general_name.hpp"
#include "core/fs.hpp"
#include "name/name_der.hpp"
#include "ossl/check.hpp"
#include "ossl/der.hpp"
#include "ossl/handles.hpp"

namespace pki {

namespace {

X509* x(const std::shared_ptr<void>& p) {
  return static_cast<X509*>(p.get());
}

std::shared_ptr<void> own(X509* cert) {
  return std::shared_ptr<void>(cert, [](void* p) { X509_free(static_cast<X509*>(p)); });
}

constexpr std::size_t kMaxCertBytes = 64 * 1024;

}  // namespace

Certificate Certificate::adopt(void* x509) {
  Certificate c;
  c.m_x509 = own(static_cast<X509*>(x509));
  return c;
}

Certificate Certificate::from_der(std::span<const std::uint8_t> der) {
  if (der.size() > kMaxCertBytes) {
    throw Error(ErrorCode::invalid_input, "certificate larger than 64 KiB");
  }
  ossl::check_der_structure(der, "certificate");
  const unsigned char* p = der.data();
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (cert == nullptr) ossl::fail(ErrorCode::invalid_input, "malformed certificate");
  return adopt(cert);
}

Certificate Certificate::from_pem(std::string_view pem) {
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(pem.data()),
                                            pem.size());
  return from_der(ossl::pem_or_der(bytes, {"CERTIFICATE"}, "certificate"));
}

Certificate Certificate::load(const std::filesystem::path& file) {
  const auto bytes = fs::read_file(file, kMaxCertBytes * 2);
  try {
    return from_der(ossl::pem_or_der(bytes, {"CERTIFICATE"}, "certificate"));
  } catch (const Error& e) {
    throw Error(e.code(), file.string() + ": " + e.what());
  }
}

std::vector<Certificate> Certificate::from_pem_bundle(std::string_view pem) {
  std::vector<Certificate> out;
  const std::string_view begin = "-----BEGIN CERTIFICATE-----";
  const std::string_view end = "-----END CERTIFICATE-----";
  std::size_t pos = 0;
  while ((pos = pem.find(begin, pos)) != std::string_view::npos) {
    const std::size_t stop = pem.find(end, pos);
    if (stop == std::string_view::npos) {
      throw Error(ErrorCode::invalid_input, "unterminated PEM certificate in bundle");
    }
    out.push_back(from_pem(pem.substr(pos, stop + end.size() - pos)));
    pos = stop + end.size();
  }
  if (out.empty()) throw Error(ErrorCode::invalid_input, "no PEM certificate found");
  return out;
}

std::vector<std::uint8_t> Certificate::der() const {
  return ossl::to_der<X509>(i2d_X509, x(m_x509), "encode certificate");
}

std::string Certificate::to_pem() const {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  ossl::check(PEM_write_bio_X509(bio.get(), x(m_x509)), "PEM_write_bio_X509");
  return ossl::bio_string(bio.get());
}

DistinguishedName Certificate::subject() const {
  return from_x509_name(X509_get_subject_name(x(m_x509)));
}

DistinguishedName Certificate::issuer() const {
  return from_x509_name(X509_get_issuer_name(x(m_x509)));
}

std::string Certificate::serial_hex() const {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(x(m_x509));
  return normalize_serial_hex(ossl::hex(std::span<const std::uint8_t>(
      ASN1_STRING_get0_data(serial), static_cast<std::size_t>(ASN1_STRING_length(serial)))));
}

TimePoint Certificate::not_before() const {
  return from_asn1_time(X509_get0_notBefore(x(m_x509)));
}
TimePoint Certificate::not_after() const {
  return from_asn1_time(X509_get0_notAfter(x(m_x509)));
}

PublicKey Certificate::public_key() const {
  EVP_PKEY* k = ossl::check_ptr(X509_get0_pubkey(x(m_x509)), "certificate public key",
                                ErrorCode::invalid_input);
  return PublicKey::adopt(k);
}

std::string Certificate::ski_hex() const {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(x(m_x509));
  if (ski == nullptr) {
    ossl::clear_errors();
    return {};
  }
  return ossl::hex({ASN1_STRING_get0_data(ski), static_cast<std::size_t>(ASN1_STRING_length(ski))});
}

std::string Certificate::aki_hex() const {
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(x(m_x509));
  if (aki == nullptr) {
    ossl::clear_errors();
    return {};
  }
  return ossl::hex({ASN1_STRING_get0_data(aki), static_cast<std::size_t>(ASN1_STRING_length(aki))});
}

bool Certificate::is_ca() const {
  return (X509_get_extension_flags(x(m_x509)) & EXFLAG_CA) != 0;
}

std::optional<int> Certificate::path_len() const {
  const long pl = X509_get_pathlen(x(m_x509));
  if (pl < 0) return std::nullopt;
  return static_cast<int>(pl);
}

std::vector<SubjectAltName> Certificate::sans() const {
  int crit = 0;
  ossl::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(x(m_x509), NID_subject_alt_name, &crit, nullptr)));
  if (!names) return {};
  return from_general_names(names.get());
}

std::vector<KeyUsage> Certificate::key_usage() const {
  std::vector<KeyUsage> out;
  const std::uint32_t ku = X509_get_key_usage(x(m_x509));
  if (ku == UINT32_MAX) return out;  // extension absent
  const std::pair<std::uint32_t, KeyUsage> bits[] = {
      {KU_DIGITAL_SIGNATURE, KeyUsage::digital_signature},
      {KU_NON_REPUDIATION, KeyUsage::non_repudiation},
      {KU_KEY_ENCIPHERMENT, KeyUsage::key_encipherment},
      {KU_DATA_ENCIPHERMENT, KeyUsage::data_encipherment},
      {KU_KEY_AGREEMENT, KeyUsage::key_agreement},
      {KU_KEY_CERT_SIGN, KeyUsage::key_cert_sign},
      {KU_CRL_SIGN, KeyUsage::crl_sign}};
  for (auto [bit, usage] : bits) {
    if ((ku & bit) != 0) out.push_back(usage);
  }
  return out;
}

std::string Certificate::fingerprint_sha256_hex() const {
  return ossl::hex(ossl::sha256(der()));
}

std::string Certificate::signature_algorithm() const {
  const int nid = X509_get_signature_nid(x(m_x509));
  return nid == NID_undef ? "unknown" : OBJ_nid2ln(nid);
}

bool Certificate::is_self_signed() const {
  const int rc = X509_self_signed(x(m_x509), 1);
  ossl::clear_errors();
  return rc == 1;
}

std::string normalize_serial_hex(std::string_view text) {
  std::string_view t = text;
  if (t.starts_with("0x") || t.starts_with("0X")) t.remove_prefix(2);
  std::string digits;
  for (char c : t) {
    if (c == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      throw Error(ErrorCode::invalid_input,
                  "invalid serial '" + std::string(text) + "': expected hexadecimal digits");
    }
    digits += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (digits.empty() || digits.size() > 40) {
    throw Error(ErrorCode::invalid_input,
                "invalid serial '" + std::string(text) + "': expected 1 to 20 bytes of hex");
  }
  const auto first = digits.find_first_not_of('0');
  if (first == std::string::npos) return "00";
  digits.erase(0, first);
  if (digits.size() % 2 != 0) digits.insert(digits.begin(), '0');
  return digits;
}

}  // namespace pki
