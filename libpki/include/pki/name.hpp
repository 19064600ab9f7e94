// Distinguished names: parsed from "/O=Acme/CN=x" (OpenSSL's -subj form) or RFC
// 4514 strings ("CN=x,O=Acme"), validated, rendered, encoded.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pki/findings.hpp"

namespace pki {

struct NameAttribute {
  std::string type;   // short name as OpenSSL knows it: "CN", "O", "OU", "C", "serialNumber", ...
  std::string value;  // UTF-8

  bool operator==(const NameAttribute&) const = default;
};

// A name in issuance order: the first attribute is the most significant (C or O
// first, CN last), as in the "/O=Acme/CN=x" form. Multi-valued RDNs are not
// supported (rejected when parsing).
class DistinguishedName {
 public:
  DistinguishedName() = default;
  explicit DistinguishedName(std::vector<NameAttribute> attrs) : m_attrs(std::move(attrs)) {}

  // Picks the syntax: a leading '/' means the slash form, otherwise RFC 4514
  // (whose string order is reversed: "CN=x,O=Acme" is O then CN).
  // Escapes: "\/" and "\," in the slash form; RFC 4514 escapes and \XX hex pairs.
  // Unknown attribute types, empty values, missing '=' and multi-valued RDNs
  // are Error(invalid_input). The result is also validate()d.
  static DistinguishedName parse(std::string_view text);
  // DER Name (SEQUENCE OF RDN). Error(invalid_input) if malformed.
  static DistinguishedName from_der(std::span<const std::uint8_t> der);

  // Length, character-set and encoding rules (RFC 5280 Appendix A upper bounds,
  // valid UTF-8, no control characters such as NUL or newline, C is two letters,
  // PrintableString for C and serialNumber).
  Findings validate() const;

  const std::vector<NameAttribute>& attributes() const noexcept { return m_attrs; }
  bool empty() const noexcept { return m_attrs.empty(); }
  std::optional<std::string> get(std::string_view type) const;  // first value of that type
  // "/O=Acme/CN=x"
  std::string to_slash_string() const;
  // RFC 4514: "CN=x,O=Acme"
  std::string to_string() const;
  // DER of the Name: UTF8String for text attributes, PrintableString for C and
  // serialNumber (RFC 5280 4.1.2.4 / 4.1.2.6).
  std::vector<std::uint8_t> to_der() const;

  bool operator==(const DistinguishedName&) const = default;

 private:
  std::vector<NameAttribute> m_attrs;
};

}  // namespace pki
