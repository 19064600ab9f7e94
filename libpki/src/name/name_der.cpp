#include "name/name_der.hpp"

#include <openssl/objects.h>

#include <array>

#include "name/attribute_type.hpp"
#include "ossl/check.hpp"

namespace pki {

namespace {

int asn1_string_type(NameCharset charset) {
  switch (charset) {
    case NameCharset::printable:
      return V_ASN1_PRINTABLESTRING;
    case NameCharset::ia5:
      return V_ASN1_IA5STRING;
    case NameCharset::utf8:
      return V_ASN1_UTF8STRING;
  }
  return V_ASN1_UTF8STRING;
}

// A type devpki does not support is named by OpenSSL's short name if it has
// one ("businessCategory"), else by its dotted OID.
std::string type_name(const ASN1_OBJECT* obj) {
  const int nid = OBJ_obj2nid(obj);
  if (const AttributeType* t = find_attribute_type_by_nid(nid)) return std::string(t->name);
  if (nid != NID_undef) {
    if (const char* sn = OBJ_nid2sn(nid)) return sn;
  }
  std::array<char, 128> buf{};
  const int len = OBJ_obj2txt(buf.data(), static_cast<int>(buf.size()), obj, 1);
  if (len <= 0 || static_cast<std::size_t>(len) >= buf.size()) {
    ossl::fail(ErrorCode::invalid_input, "Name attribute with an unreadable OID");
  }
  return std::string(buf.data(), static_cast<std::size_t>(len));
}

}  // namespace

ossl::X509NamePtr to_x509_name(const DistinguishedName& name) {
  const Findings findings = name.validate();
  if (findings.has_errors()) {
    throw Error(ErrorCode::invalid_input,
                "cannot encode name '" + name.to_string() + "': " + findings.error_summary());
  }
  ossl::X509NamePtr out(ossl::check_ptr(X509_NAME_new(), "X509_NAME_new", ErrorCode::internal));
  for (const auto& a : name.attributes()) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(a.value.data());
    const int len = static_cast<int>(a.value.size());
    // An explicit V_ASN1_* type (not an MBSTRING_* flag) is stored as given,
    // without OpenSSL's string-table choices.
    if (const AttributeType* t = find_attribute_type(a.type)) {
      ossl::check(X509_NAME_add_entry_by_NID(out.get(), t->nid, asn1_string_type(t->charset), bytes,
                                             len, -1, 0),
                  "adding " + a.type + " to a Name");
      continue;
    }
    ossl::Asn1ObjectPtr obj(OBJ_txt2obj(a.type.c_str(), 0));
    if (!obj) {
      ossl::fail(ErrorCode::invalid_input, "unknown attribute type '" + a.type + "' (supported: " +
                                               supported_attribute_types() + ")");
    }
    ossl::check(
        X509_NAME_add_entry_by_OBJ(out.get(), obj.get(), V_ASN1_UTF8STRING, bytes, len, -1, 0),
        "adding " + a.type + " to a Name");
  }
  return out;
}

DistinguishedName from_x509_name(const X509_NAME* name) {
  std::vector<NameAttribute> attrs;
  int previous_set = -1;
  const int count = X509_NAME_entry_count(name);
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    // Entries of one multi-valued RDN share the set index.
    const int set = X509_NAME_ENTRY_set(entry);
    if (set == previous_set) {
      throw Error(ErrorCode::invalid_input, "multi-valued RDNs are not supported");
    }
    previous_set = set;
    std::string type = type_name(X509_NAME_ENTRY_get_object(entry));
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (len < 0) ossl::fail(ErrorCode::invalid_input, type + " value cannot be read as text");
    ossl::OpensslBytesPtr owner(utf8);
    attrs.push_back({std::move(type), std::string(reinterpret_cast<const char*>(utf8),
                                                  static_cast<std::size_t>(len))});
  }
  return DistinguishedName(std::move(attrs));
}

DistinguishedName DistinguishedName::from_der(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  ossl::X509NamePtr name(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  if (!name) ossl::fail(ErrorCode::invalid_input, "not a DER Name");
  if (p != der.data() + der.size()) {
    throw Error(ErrorCode::invalid_input, "DER Name is followed by trailing bytes");
  }
  return from_x509_name(name.get());
}

std::vector<std::uint8_t> DistinguishedName::to_der() const {
  const auto name = to_x509_name(*this);
  return ossl::to_der(i2d_X509_NAME, name.get(), "encoding Name");
}

}  // namespace pki
