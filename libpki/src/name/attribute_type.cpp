#include "name/attribute_type.hpp"

#include <openssl/objects.h>

#include <array>

#include "ossl/check.hpp"

namespace pki {

namespace {

// RFC 5280 Appendix A: ub-country-name-alpha-length 2, ub-state-name 128,
// ub-locality-name 128, ub-organization-name 64, ub-organizational-unit-name 64,
// ub-common-name 64, ub-serial-number 64, ub-emailaddress-length 255,
// ub-title 64, ub-name 32768 (givenName, surname), ub-pseudonym 128.
// RFC 5280 4.1.2.6: emailAddress and (RFC 4519) domainComponent are IA5String;
// 4.1.2.4: countryName and serialNumber are PrintableString.
constexpr std::array<AttributeType, 15> kTypes{{
    {"C", "countryName", NID_countryName, 2, NameCharset::printable},
    {"ST", "stateOrProvinceName", NID_stateOrProvinceName, 128, NameCharset::utf8},
    {"L", "localityName", NID_localityName, 128, NameCharset::utf8},
    {"O", "organizationName", NID_organizationName, 64, NameCharset::utf8},
    {"OU", "organizationalUnitName", NID_organizationalUnitName, 64, NameCharset::utf8},
    {"CN", "commonName", NID_commonName, 64, NameCharset::utf8},
    {"serialNumber", "serialNumber", NID_serialNumber, 64, NameCharset::printable},
    {"emailAddress", "emailAddress", NID_pkcs9_emailAddress, 255, NameCharset::ia5},
    // RFC 4519 2.4 has no bound; a DC is one DNS label (RFC 1035 2.3.4: 63 octets).
    {"DC", "domainComponent", NID_domainComponent, 63, NameCharset::ia5},
    // RFC 4519 2.39 has no bound; a generous one keeps names sane.
    {"UID", "userId", NID_userId, 256, NameCharset::utf8},
    {"title", "title", NID_title, 64, NameCharset::utf8},
    {"GN", "givenName", NID_givenName, 32768, NameCharset::utf8},
    {"SN", "surname", NID_surname, 32768, NameCharset::utf8},
    {"pseudonym", "pseudonym", NID_pseudonym, 128, NameCharset::utf8},
    // X.520 has no bound; ETSI EN 319 412-1 values are short ("VATDE-123456789").
    {"organizationIdentifier", "organizationIdentifier", NID_organizationIdentifier, 128,
     NameCharset::utf8},
}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_dotted_oid(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (char c : s) {
    if (c != '.' && (c < '0' || c > '9')) return false;
  }
  return true;
}

}  // namespace

const AttributeType* find_attribute_type(std::string_view name) {
  for (const auto& t : kTypes) {
    if (iequals(name, t.name) || iequals(name, t.long_name)) return &t;
  }
  // RFC 4514 3: an attributeType may be a numericoid ("2.5.4.3").
  if (is_dotted_oid(name)) {
    ossl::Asn1ObjectPtr obj(OBJ_txt2obj(std::string(name).c_str(), 1));
    if (!obj) {
      ossl::clear_errors();
      return nullptr;
    }
    return find_attribute_type_by_nid(OBJ_obj2nid(obj.get()));
  }
  return nullptr;
}

const AttributeType* find_attribute_type_by_nid(int nid) {
  for (const auto& t : kTypes) {
    if (t.nid == nid) return &t;
  }
  return nullptr;
}

std::string supported_attribute_types() {
  std::string out;
  for (const auto& t : kTypes) {
    if (!out.empty()) out += ", ";
    out += t.name;
  }
  return out;
}

}  // namespace pki
