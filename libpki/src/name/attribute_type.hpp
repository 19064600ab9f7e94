// The attribute types devpki puts in names: OpenSSL short name, NID, the
// RFC 5280 Appendix A upper bound and the ASN.1 string type it is encoded as.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pki {

enum class NameCharset { utf8, printable, ia5 };

struct AttributeType {
  std::string_view name;       // canonical: OpenSSL's short name ("CN", "serialNumber")
  std::string_view long_name;  // also accepted when parsing ("commonName")
  int nid;
  std::size_t max_chars;  // upper bound in characters
  NameCharset charset;
};

// Case-insensitive, by short name, long name or dotted OID. nullptr if devpki
// does not support the type.
const AttributeType* find_attribute_type(std::string_view name);
const AttributeType* find_attribute_type_by_nid(int nid);
// "C, ST, L, O, ..." for messages.
std::string supported_attribute_types();

}  // namespace pki
