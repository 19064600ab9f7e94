#include "cert/general_name.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <string>

#include "ossl/check.hpp"

namespace pki {

namespace {

bool is_ldh_label(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool is_dns_name(std::string_view name, bool allow_leading_dot) {
  if (allow_leading_dot && name.starts_with('.')) name.remove_prefix(1);
  if (name.empty() || name.size() > 253) return false;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t dot = name.find('.', pos);
    const std::string_view label =
        name.substr(pos, dot == std::string_view::npos ? dot : dot - pos);
    if (!is_ldh_label(label)) return false;
    if (dot == std::string_view::npos) return true;
    pos = dot + 1;
  }
}

bool is_printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

ossl::GeneralNamePtr ia5_name(int type, const std::string& value) {
  ossl::GeneralNamePtr gn(ossl::check_ptr(GENERAL_NAME_new(), "GENERAL_NAME_new"));
  ASN1_IA5STRING* s = ossl::check_ptr(ASN1_IA5STRING_new(), "ASN1_IA5STRING_new");
  if (ASN1_STRING_set(s, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_IA5STRING_free(s);
    ossl::fail(ErrorCode::crypto, "ASN1_STRING_set");
  }
  GENERAL_NAME_set0_value(gn.get(), type, s);
  return gn;
}

ossl::GeneralNamePtr ip_name(ASN1_OCTET_STRING* octets, const std::string& text) {
  if (octets == nullptr) {
    ossl::clear_errors();
    throw Error(ErrorCode::invalid_input, "invalid IP address '" + text + "'");
  }
  ossl::GeneralNamePtr gn(ossl::check_ptr(GENERAL_NAME_new(), "GENERAL_NAME_new"));
  GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, octets);
  return gn;
}

}  // namespace

std::string san_syntax_error(const SubjectAltName& san) {
  const std::string& v = san.value;
  switch (san.type) {
    case SanType::dns:
      // A leading "*." wildcard label is a DNS SAN form servers accept (RFC 6125 6.4.3).
      if (!is_dns_name(v.starts_with("*.") ? std::string_view(v).substr(2) : std::string_view(v),
                       false)) {
        return "invalid DNS name '" + v + "'";
      }
      return {};
    case SanType::email: {
      const auto at = v.find('@');
      if (at == std::string::npos || at == 0 || !is_printable_ascii(v) ||
          !is_dns_name(std::string_view(v).substr(at + 1), false)) {
        return "invalid e-mail address '" + v + "'";
      }
      return {};
    }
    case SanType::uri: {
      const auto colon = v.find(':');
      if (colon == std::string::npos || colon == 0 || !is_printable_ascii(v)) {
        return "invalid URI '" + v + "' (expected scheme:rest, ASCII)";
      }
      return {};
    }
    case SanType::ip: {
      unsigned char buf[16];
      if (inet_pton(AF_INET, v.c_str(), buf) != 1 && inet_pton(AF_INET6, v.c_str(), buf) != 1) {
        return "invalid IP address '" + v + "'";
      }
      return {};
    }
  }
  return "unknown SAN type";
}

ossl::GeneralNamePtr to_general_name(const SubjectAltName& san) {
  if (const std::string err = san_syntax_error(san); !err.empty()) {
    throw Error(ErrorCode::invalid_input, err);
  }
  switch (san.type) {
    case SanType::dns:
      return ia5_name(GEN_DNS, san.value);
    case SanType::email:
      return ia5_name(GEN_EMAIL, san.value);
    case SanType::uri:
      return ia5_name(GEN_URI, san.value);
    case SanType::ip:
      return ip_name(a2i_IPADDRESS(san.value.c_str()), san.value);
  }
  throw Error(ErrorCode::internal, "unknown SAN type");
}

ossl::GeneralNamePtr to_constraint_name(const SubjectAltName& san) {
  switch (san.type) {
    case SanType::dns:
      if (!is_dns_name(san.value, true)) {
        throw Error(ErrorCode::invalid_input, "invalid DNS name constraint '" + san.value + "'");
      }
      return ia5_name(GEN_DNS, san.value);
    case SanType::email:
      // RFC 5280 4.2.1.10: a mailbox, a host ("acme.example") or a domain (".acme.example").
      if (!is_printable_ascii(san.value)) {
        throw Error(ErrorCode::invalid_input, "invalid e-mail constraint '" + san.value + "'");
      }
      return ia5_name(GEN_EMAIL, san.value);
    case SanType::uri:
      if (!is_dns_name(san.value, true)) {
        throw Error(ErrorCode::invalid_input,
                    "invalid URI constraint '" + san.value + "' (a host or .domain)");
      }
      return ia5_name(GEN_URI, san.value);
    case SanType::ip:
      return ip_name(a2i_IPADDRESS_NC(san.value.c_str()),
                     san.value + " (expected CIDR, e.g. 10.0.0.0/8)");
  }
  throw Error(ErrorCode::internal, "unknown SAN type");
}

std::vector<SubjectAltName> from_general_names(const GENERAL_NAMES* names, int* unsupported) {
  std::vector<SubjectAltName> out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    int type = 0;
    const void* value = GENERAL_NAME_get0_value(gn, &type);
    const auto* str = static_cast<const ASN1_STRING*>(value);
    auto text = [&] {
      return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(str)),
                         static_cast<std::size_t>(ASN1_STRING_length(str)));
    };
    switch (type) {
      case GEN_DNS:
        out.push_back({SanType::dns, text()});
        break;
      case GEN_EMAIL:
        out.push_back({SanType::email, text()});
        break;
      case GEN_URI:
        out.push_back({SanType::uri, text()});
        break;
      case GEN_IPADD: {
        const int len = ASN1_STRING_length(str);
        char buf[INET6_ADDRSTRLEN] = {};
        const int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : -1;
        if (af < 0 || inet_ntop(af, ASN1_STRING_get0_data(str), buf, sizeof buf) == nullptr) {
          if (unsupported != nullptr) ++*unsupported;
          break;
        }
        out.push_back({SanType::ip, buf});
        break;
      }
      default:
        if (unsupported != nullptr) ++*unsupported;
    }
  }
  return out;
}

}  // namespace pki
