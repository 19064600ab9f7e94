// pki/jitp.hpp: the certificate fields templates read (subject.<attr>,
// issuer.<attr>, san.*, eku, serial, key).
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <optional>

#include "core/text.hpp"
#include "name/attribute_type.hpp"
#include "ossl/check.hpp"
#include "pki/error.hpp"
#include "pki/jitp.hpp"
#include "profile/profile_internal.hpp"

namespace pki {

namespace {

// The name an attribute type is compared by: devpki's canonical short name
// ("commonName" and "cn" are "CN"), else OpenSSL's short name, else the
// dotted OID as written. Empty when it is none of these.
std::string attribute_key(std::string_view type) {
  if (const AttributeType* t = find_attribute_type(type)) return std::string(t->name);
  if (type.empty()) return {};
  const int nid = OBJ_txt2nid(std::string(type).c_str());
  ossl::clear_errors();
  if (nid != NID_undef) {
    if (const char* sn = OBJ_nid2sn(nid)) return sn;
  }
  return profile_detail::is_dotted_oid(type) ? std::string(type) : std::string();
}

std::vector<std::string> name_values(const DistinguishedName& dn, std::string_view type) {
  const std::string key = attribute_key(type);
  std::vector<std::string> out;
  for (const auto& a : dn.attributes()) {
    if (attribute_key(a.type) == key) out.push_back(a.value);
  }
  return out;
}

std::vector<std::string> eku_values(const Certificate& cert) {
  int crit = -1;
  ossl::ExtendedKeyUsagePtr eku(static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(
      static_cast<const X509*>(cert.native_handle()), NID_ext_key_usage, &crit, nullptr)));
  if (!eku) {
    ossl::clear_errors();
    // -1: absent; -2: more than one; otherwise it did not decode.
    if (crit == -1) return {};
    throw Error(ErrorCode::invalid_input,
                "the certificate's extendedKeyUsage extension cannot be read");
  }
  const auto& names = profile_detail::extended_key_usage_names();
  std::vector<std::string> out;
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    const ASN1_OBJECT* obj = sk_ASN1_OBJECT_value(eku.get(), i);
    const int nid = OBJ_obj2nid(obj);
    const char* sn = nid == NID_undef ? nullptr : OBJ_nid2sn(nid);
    if (sn != nullptr && std::find(names.begin(), names.end(), sn) != names.end()) {
      out.emplace_back(sn);
      continue;
    }
    std::array<char, 128> buf{};
    const int len = OBJ_obj2txt(buf.data(), static_cast<int>(buf.size()), obj, 1);
    if (len <= 0 || static_cast<std::size_t>(len) >= buf.size()) {
      ossl::fail(ErrorCode::invalid_input, "extendedKeyUsage with an unreadable OID");
    }
    out.emplace_back(buf.data(), static_cast<std::size_t>(len));
  }
  return out;
}

std::optional<SanType> san_type(std::string_view field) {
  if (field == "san.dns") return SanType::dns;
  if (field == "san.uri") return SanType::uri;
  if (field == "san.email") return SanType::email;
  if (field == "san.ip") return SanType::ip;
  return std::nullopt;
}

// "subject.CN" -> "CN" (for subject. and issuer. fields), else empty.
std::string_view name_attribute(std::string_view field, std::string_view prefix) {
  if (field.size() <= prefix.size() || field.substr(0, prefix.size()) != prefix) return {};
  return field.substr(prefix.size());
}

}  // namespace

bool is_known_field(std::string_view field) noexcept {
  try {
    if (field == "eku" || field == "serial" || field == "key" || san_type(field)) return true;
    for (std::string_view prefix : {"subject.", "issuer."}) {
      const std::string_view attr = name_attribute(field, prefix);
      if (!attr.empty()) return !attribute_key(attr).empty();
    }
  } catch (...) {  // allocation: not a field we can read
  }
  return false;
}

std::vector<std::string> certificate_field(const Certificate& cert, std::string_view field) {
  if (!is_known_field(field)) {
    std::string msg = "unknown certificate field '";
    msg += printable(field);
    msg +=
        "' (subject.<attr>, issuer.<attr>, san.dns, san.uri, san.email, san.ip, eku, serial, "
        "key)";
    throw Error(ErrorCode::invalid_input, msg);
  }
  if (field == "eku") return eku_values(cert);
  if (field == "serial") return {cert.serial_hex()};
  if (field == "key") return {cert.public_key().describe().to_string()};
  if (const auto type = san_type(field)) {
    std::vector<std::string> out;
    for (const auto& san : cert.sans()) {
      if (san.type == *type) out.push_back(san.value);
    }
    return out;
  }
  if (const auto attr = name_attribute(field, "subject."); !attr.empty()) {
    return name_values(cert.subject(), attr);
  }
  return name_values(cert.issuer(), name_attribute(field, "issuer."));
}

}  // namespace pki
