#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>

#include <array>
#include <cctype>

#include "key/key_internal.hpp"
#include "ossl/check.hpp"

namespace pki {

namespace {

std::string utf8_param(const EVP_PKEY* pkey, const char* name) {
  std::array<char, 80> buf{};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, name, buf.data(), buf.size(), &len) != 1) {
    // Absent is an answer here (an explicit-parameters key has no group name).
    ossl::clear_errors();
    return {};
  }
  return std::string(buf.data(), len);
}

// OpenSSL names groups "prime256v1"; profiles and people say "P-256".
std::string nist_curve_name(const std::string& group) {
  const int nid = OBJ_txt2nid(group.c_str());
  const char* nist = nid == NID_undef ? nullptr : EC_curve_nid2nist(nid);
  ossl::clear_errors();
  return nist != nullptr ? std::string(nist) : group;
}

}  // namespace

KeyDescription PublicKey::describe() const {
  const EVP_PKEY* pkey = pkey_of(*this);
  KeyDescription d;
  const char* type_name = EVP_PKEY_get0_type_name(pkey);
  d.openssl_name = type_name != nullptr ? type_name : "unknown";
  d.bits = EVP_PKEY_get_bits(pkey);
  if (EVP_PKEY_is_a(pkey, "EC")) {
    d.type = KeyDescription::Type::ec;
    const std::string group = utf8_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME);
    // OpenSSL 3 matches explicit parameters to a known curve and then reports
    // its name, but keeps the encoding "explicit": both must be looked at.
    // RFC 5480 2.1.1: specifiedCurve MUST NOT be used in PKIX.
    const std::string encoding = utf8_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING);
    d.explicit_params = group.empty() || encoding == OSSL_PKEY_EC_ENCODING_EXPLICIT;
    if (!d.explicit_params) d.curve = nist_curve_name(group);
  } else if (EVP_PKEY_is_a(pkey, "ED25519")) {
    d.type = KeyDescription::Type::ed25519;
  } else if (EVP_PKEY_is_a(pkey, "RSA")) {
    d.type = KeyDescription::Type::rsa;
  }
  return d;
}

std::optional<KeyAlgorithm> KeyDescription::algorithm() const {
  switch (type) {
    case Type::ec:
      if (explicit_params) return std::nullopt;
      if (curve == "P-256") return KeyAlgorithm::ec_p256;
      if (curve == "P-384") return KeyAlgorithm::ec_p384;
      return std::nullopt;
    case Type::ed25519:
      return KeyAlgorithm::ed25519;
    case Type::rsa:
      if (bits == 2048) return KeyAlgorithm::rsa_2048;
      if (bits == 3072) return KeyAlgorithm::rsa_3072;
      if (bits == 4096) return KeyAlgorithm::rsa_4096;
      return std::nullopt;
    case Type::other:
      return std::nullopt;
  }
  return std::nullopt;
}

std::string KeyDescription::to_string() const {
  switch (type) {
    case Type::ec: {
      if (explicit_params) return "EC explicit parameters";
      // "P-521" -> "ec-p521", in the style of the KeyAlgorithm names.
      std::string out = "ec-";
      for (char c : curve) {
        if (c != '-') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      return out;
    }
    case Type::ed25519:
      return "ed25519";
    case Type::rsa:
      return "rsa-" + std::to_string(bits);
    case Type::other:
      return openssl_name;
  }
  return openssl_name;
}

}  // namespace pki
