// Names of the profile enums as profiles and flags spell them.
#include <array>
#include <utility>

#include "pki/error.hpp"
#include "profile/profile_internal.hpp"

namespace pki {

namespace {

constexpr std::array<std::pair<SanType, std::string_view>, 4> kSanTypes{{
    {SanType::dns, "dns"},
    {SanType::ip, "ip"},
    {SanType::email, "email"},
    {SanType::uri, "uri"},
}};

// RFC 5280 4.2.1.3 names. X.509 (2008) renamed nonRepudiation to
// contentCommitment; both are accepted, the RFC name is printed.
constexpr std::array<std::pair<KeyUsage, std::string_view>, 8> kKeyUsages{{
    {KeyUsage::digital_signature, "digitalSignature"},
    {KeyUsage::non_repudiation, "nonRepudiation"},
    {KeyUsage::non_repudiation, "contentCommitment"},
    {KeyUsage::key_encipherment, "keyEncipherment"},
    {KeyUsage::data_encipherment, "dataEncipherment"},
    {KeyUsage::key_agreement, "keyAgreement"},
    {KeyUsage::key_cert_sign, "keyCertSign"},
    {KeyUsage::crl_sign, "cRLSign"},
}};

constexpr std::array<std::pair<Rekey, std::string_view>, 3> kRekeys{{
    {Rekey::required, "required"},
    {Rekey::allowed, "allowed"},
    {Rekey::forbidden, "forbidden"},
}};

template <class Table>
std::string names_of(const Table& table) {
  std::string out;
  for (const auto& [value, name] : table) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

template <class Table>
std::string_view name_of(const Table& table, decltype(table[0].first) value) noexcept {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

template <class Table>
auto value_of(const Table& table, std::string_view name, const char* what) {
  for (const auto& [value, n] : table) {
    if (n == name) return value;
  }
  throw Error(ErrorCode::invalid_input, "unknown " + std::string(what) + " '" + std::string(name) +
                                            "' (allowed: " + names_of(table) + ")");
}

}  // namespace

std::string_view to_string(SanType t) noexcept {
  return name_of(kSanTypes, t);
}
SanType parse_san_type(std::string_view name) {
  return value_of(kSanTypes, name, "SAN type");
}

std::string_view to_string(KeyUsage u) noexcept {
  return name_of(kKeyUsages, u);
}
KeyUsage parse_key_usage(std::string_view name) {
  return value_of(kKeyUsages, name, "key usage");
}

std::string_view to_string(Rekey r) noexcept {
  return name_of(kRekeys, r);
}

namespace profile_detail {

Rekey parse_rekey(std::string_view name) {
  return value_of(kRekeys, name, "rekey value");
}
std::string allowed_rekey_names() {
  return names_of(kRekeys);
}
std::string allowed_san_type_names() {
  return names_of(kSanTypes);
}
std::string allowed_key_usage_names() {
  return names_of(kKeyUsages);
}

}  // namespace profile_detail

}  // namespace pki
