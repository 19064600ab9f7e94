#include "csr/spki_fast.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <string>

#include "ossl/check.hpp"

namespace pki::csr_detail {

namespace {

// DER prefixes up to and including the BIT STRING's unused-bits octet (0) and,
// for EC, the uncompressed-point marker 04 (SEC 1 2.3.3). The outer lengths
// fix the total size, so prefix + size identifies the shape exactly.
// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes) }
constexpr std::array<std::uint8_t, 27> kP256Prefix = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
    0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
// SEQUENCE { SEQUENCE { id-ecPublicKey, secp384r1 }, BIT STRING (98 bytes) }
constexpr std::array<std::uint8_t, 24> kP384Prefix = {
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
    0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00, 0x04};
// SEQUENCE { SEQUENCE { id-Ed25519 }, BIT STRING (33 bytes) } (RFC 8410 4)
constexpr std::array<std::uint8_t, 12> kEd25519Prefix = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                                         0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

template <std::size_t N>
bool has_shape(std::span<const std::uint8_t> spki, const std::array<std::uint8_t, N>& prefix) {
  // The first two octets are SEQUENCE and its short-form length.
  return spki.size() == std::size_t{2} + prefix[1] &&
         std::equal(prefix.begin(), prefix.end(), spki.begin());
}

[[noreturn]] void undecodable() {
  ossl::fail(ErrorCode::invalid_input, "CSR public key cannot be decoded");
}

// A parameters-only key of the named curve, made once per thread. Building a
// key from (group name, point) with EVP_PKEY_fromdata constructs the EC_GROUP
// every time (~12 of its ~20 us: Montgomery setup, a modular inversion);
// duplicating a key that already has the group copies it instead.
ossl::EvpPkeyPtr curve_template(const char* group) {
  ossl::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    ossl::fail(ErrorCode::crypto, "creating the EC key import context");
  }
  // OSSL_PARAM wants a non-const pointer; fromdata only reads it.
  std::string name = group;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, name.data(), 0),
      OSSL_PARAM_construct_end(),
  };
  EVP_PKEY* key = nullptr;
  ossl::check(EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_KEY_PARAMETERS, params),
              "creating the EC curve parameters");
  return ossl::EvpPkeyPtr(key);
}

ossl::EvpPkeyPtr ec_from_point(EVP_PKEY* curve, std::span<const std::uint8_t> point) {
  ossl::EvpPkeyPtr key(EVP_PKEY_dup(curve));
  if (!key) ossl::fail(ErrorCode::crypto, "copying the EC curve parameters");
  // What TLS does with a peer's ECDHE share: the point is decoded with
  // EC_POINT_oct2point, which refuses coordinates out of range and points not
  // on the curve, the same check (and refusal) as the SubjectPublicKeyInfo
  // decoder's.
  if (EVP_PKEY_set1_encoded_public_key(key.get(), point.data(), point.size()) != 1) undecodable();
  return key;
}

}  // namespace

std::optional<KeyAlgorithm> known_spki_algorithm(std::span<const std::uint8_t> spki) {
  if (has_shape(spki, kP256Prefix)) return KeyAlgorithm::ec_p256;
  if (has_shape(spki, kP384Prefix)) return KeyAlgorithm::ec_p384;
  if (has_shape(spki, kEd25519Prefix)) return KeyAlgorithm::ed25519;
  return std::nullopt;
}

bool is_known_spki(std::span<const std::uint8_t> spki) {
  return known_spki_algorithm(spki).has_value();
}

ossl::EvpPkeyPtr decode_known_spki(std::span<const std::uint8_t> spki) {
  if (has_shape(spki, kP256Prefix)) {
    thread_local const ossl::EvpPkeyPtr curve = curve_template("P-256");
    return ec_from_point(curve.get(), spki.subspan(kP256Prefix.size() - 1));
  }
  if (has_shape(spki, kP384Prefix)) {
    thread_local const ossl::EvpPkeyPtr curve = curve_template("P-384");
    return ec_from_point(curve.get(), spki.subspan(kP384Prefix.size() - 1));
  }
  if (has_shape(spki, kEd25519Prefix)) {
    const auto raw = spki.subspan(kEd25519Prefix.size());
    ossl::EvpPkeyPtr key(
        EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, raw.data(), raw.size()));
    if (!key) undecodable();
    return key;
  }
  ossl::fail(ErrorCode::internal, "decode_known_spki: not a known SubjectPublicKeyInfo shape");
}

}  // namespace pki::csr_detail
