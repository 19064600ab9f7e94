// Device keys encoded from their raw material (fastpath.hpp).
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "fastpath/der_writer.hpp"
#include "fastpath/fastpath.hpp"
#include "ossl/check.hpp"

namespace pki::fastpath {

namespace {

using Bytes = der::Bytes;

// The DER around the key material is fixed for a named curve or Ed25519:
// SubjectPublicKeyInfo (RFC 5480 2, RFC 8410 4) and PKCS#8 as OpenSSL 3
// writes it (RFC 5915 ECPrivateKey version 1 with the public key and without
// the curve, which the PKCS#8 AlgorithmIdentifier already names; RFC 8410 7
// for Ed25519, version 0 without the public key). The unit tests compare
// every byte with i2d_PUBKEY and PEM_write_bio_PrivateKey.
constexpr std::array<std::uint8_t, 26> kP256Spki{
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
constexpr std::array<std::uint8_t, 36> kP256Pkcs8{
    0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86,
    0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20};
constexpr std::array<std::uint8_t, 5> kP256Pkcs8Pub{0xa1, 0x44, 0x03, 0x42, 0x00};

constexpr std::array<std::uint8_t, 23> kP384Spki{0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86,
                                                 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
                                                 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00};
constexpr std::array<std::uint8_t, 35> kP384Pkcs8{
    0x30, 0x81, 0xb6, 0x02, 0x01, 0x00, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86,
    0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22,
    0x04, 0x81, 0x9e, 0x30, 0x81, 0x9b, 0x02, 0x01, 0x01, 0x04, 0x30};
constexpr std::array<std::uint8_t, 5> kP384Pkcs8Pub{0xa1, 0x64, 0x03, 0x62, 0x00};

constexpr std::array<std::uint8_t, 12> kEd25519Spki{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                                    0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
constexpr std::array<std::uint8_t, 16> kEd25519Pkcs8{
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};

struct EcLayout {
  Bytes spki_prefix;
  Bytes pkcs8_prefix;  // up to the private scalar
  Bytes pkcs8_pub;     // between the scalar and the public point
  std::size_t scalar_len;
  std::size_t point_len;  // uncompressed: 04 || X || Y
};

const EcLayout kP256{kP256Spki, kP256Pkcs8, kP256Pkcs8Pub, 32, 65};
const EcLayout kP384{kP384Spki, kP384Pkcs8, kP384Pkcs8Pub, 48, 97};

void free_secret_bn(BIGNUM* b) {
  BN_clear_free(b);
}
using SecretBignumPtr = std::unique_ptr<BIGNUM, ossl::Free<BIGNUM, free_secret_bn>>;

// Wipes a stack buffer holding key material when leaving scope.
template <std::size_t N>
struct SecretBuffer {
  std::array<std::uint8_t, N> bytes{};
  SecretBuffer() = default;
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  ~SecretBuffer() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

void append(std::vector<std::uint8_t>& out, Bytes a, Bytes b) {
  out.reserve(a.size() + b.size());
  out.insert(out.end(), a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
}

void encode_ec(EVP_PKEY* pkey, const EcLayout& l, DeviceKey& out) {
  std::array<std::uint8_t, 97> point{};
  std::size_t point_len = 0;
  ossl::check(EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                              point.data(), point.size(), &point_len),
              "reading the EC public point");
  if (point_len != l.point_len || point[0] != 0x04) {
    throw Error(ErrorCode::internal, "unexpected EC public point encoding");
  }
  const Bytes pub(point.data(), point_len);

  BIGNUM* raw = nullptr;
  ossl::check(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &raw),
              "reading the EC private key");
  SecretBignumPtr scalar(raw);
  SecretBuffer<256> der;
  const std::size_t len = l.pkcs8_prefix.size() + l.scalar_len + l.pkcs8_pub.size() + pub.size();
  std::uint8_t* p = der.bytes.data();
  std::memcpy(p, l.pkcs8_prefix.data(), l.pkcs8_prefix.size());
  p += l.pkcs8_prefix.size();
  // ECPrivateKey carries the scalar padded to the order's size (RFC 5915 3).
  ossl::check(BN_bn2binpad(scalar.get(), p, static_cast<int>(l.scalar_len)),
              "encoding the EC private key");
  p += l.scalar_len;
  std::memcpy(p, l.pkcs8_pub.data(), l.pkcs8_pub.size());
  p += l.pkcs8_pub.size();
  std::memcpy(p, pub.data(), pub.size());

  append(out.spki_der, l.spki_prefix, pub);
  out.pkcs8_pem = pem_encode("PRIVATE KEY", {der.bytes.data(), len});
}

void encode_ed25519(EVP_PKEY* pkey, DeviceKey& out) {
  std::array<std::uint8_t, 32> pub{};
  std::size_t pub_len = pub.size();
  ossl::check(EVP_PKEY_get_raw_public_key(pkey, pub.data(), &pub_len),
              "reading the Ed25519 public key");
  SecretBuffer<kEd25519Pkcs8.size() + 32> der;
  std::memcpy(der.bytes.data(), kEd25519Pkcs8.data(), kEd25519Pkcs8.size());
  std::size_t priv_len = 32;
  ossl::check(
      EVP_PKEY_get_raw_private_key(pkey, der.bytes.data() + kEd25519Pkcs8.size(), &priv_len),
      "reading the Ed25519 private key");
  if (pub_len != 32 || priv_len != 32) {
    throw Error(ErrorCode::internal, "unexpected Ed25519 key length");
  }
  append(out.spki_der, kEd25519Spki, pub);
  out.pkcs8_pem = pem_encode("PRIVATE KEY", der.bytes);
}

// RSA key generation takes tens of milliseconds: the provider encoders are
// noise next to it.
void encode_generic(EVP_PKEY* pkey, DeviceKey& out) {
  out.spki_der = ossl::to_der(i2d_PUBKEY, pkey, "encoding SubjectPublicKeyInfo");
  // A secure-memory BIO: the buffer is wiped when freed.
  ossl::BioPtr bio(ossl::check_ptr(BIO_new(BIO_s_secmem()), "BIO_new"));
  ossl::check(PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr),
              "writing the private key PEM");
  out.pkcs8_pem = ossl::bio_string(bio.get());
}

ossl::EvpPkeyCtxPtr keygen_context(KeyAlgorithm alg) {
  const char* type = "EC";
  if (alg == KeyAlgorithm::ed25519) type = "ED25519";
  if (alg == KeyAlgorithm::rsa_2048 || alg == KeyAlgorithm::rsa_3072 ||
      alg == KeyAlgorithm::rsa_4096) {
    type = "RSA";
  }
  ossl::EvpPkeyCtxPtr ctx(ossl::check_ptr(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr),
                                          "EVP_PKEY_CTX_new_from_name"));
  ossl::check(EVP_PKEY_keygen_init(ctx.get()), "EVP_PKEY_keygen_init");
  switch (alg) {
    case KeyAlgorithm::ec_p256:
      ossl::check(EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256"), "setting the curve");
      break;
    case KeyAlgorithm::ec_p384:
      ossl::check(EVP_PKEY_CTX_set_group_name(ctx.get(), "P-384"), "setting the curve");
      break;
    case KeyAlgorithm::ed25519:
      break;
    case KeyAlgorithm::rsa_2048:
    case KeyAlgorithm::rsa_3072:
    case KeyAlgorithm::rsa_4096: {
      const int bits = alg == KeyAlgorithm::rsa_2048   ? 2048
                       : alg == KeyAlgorithm::rsa_3072 ? 3072
                                                       : 4096;
      ossl::check(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits), "setting the RSA size");
      break;
    }
  }
  return ctx;
}

// Fetched once and kept for the life of the process: freeing them from a
// static destructor could run after OpenSSL's own atexit cleanup.
const EVP_MD* fetch_md(const char* name) {
  return ossl::check_ptr(EVP_MD_fetch(nullptr, name, nullptr), name);
}

}  // namespace

const EVP_MD* sha1_md() {
  static const EVP_MD* const md = fetch_md("SHA1");
  return md;
}

const EVP_MD* sha256_md() {
  static const EVP_MD* const md = fetch_md("SHA256");
  return md;
}

std::size_t digest_into(const EVP_MD* md, der::Bytes data, std::uint8_t* out) {
  unsigned int len = 0;
  ossl::check(EVP_Digest(data.data(), data.size(), out, &len, md, nullptr), "digest");
  return len;
}

bool is_fixed_shape_spki(der::Bytes spki) {
  auto shaped = [&](Bytes prefix, std::size_t key_len) {
    return spki.size() == prefix.size() + key_len &&
           std::equal(prefix.begin(), prefix.end(), spki.begin());
  };
  return (shaped(kP256Spki, 65) && spki[kP256Spki.size()] == 0x04) ||
         (shaped(kP384Spki, 97) && spki[kP384Spki.size()] == 0x04) || shaped(kEd25519Spki, 32);
}

KeyGenerator::KeyGenerator(KeyAlgorithm alg) : m_alg(alg), m_ctx(keygen_context(alg)) {}
KeyGenerator::KeyGenerator(KeyGenerator&&) noexcept = default;
KeyGenerator& KeyGenerator::operator=(KeyGenerator&&) noexcept = default;
KeyGenerator::~KeyGenerator() = default;

DeviceKey KeyGenerator::generate() {
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_keygen(m_ctx.get(), &raw) <= 0) {
    ossl::fail(ErrorCode::crypto, "generating a " + std::string(to_string(m_alg)) + " key");
  }
  DeviceKey out;
  out.key.reset(raw);
  switch (m_alg) {
    case KeyAlgorithm::ec_p256:
      encode_ec(raw, kP256, out);
      break;
    case KeyAlgorithm::ec_p384:
      encode_ec(raw, kP384, out);
      break;
    case KeyAlgorithm::ed25519:
      encode_ed25519(raw, out);
      break;
    default:
      encode_generic(raw, out);
      break;
  }
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> h{};
  const std::size_t n = digest_into(sha256_md(), out.spki_der, h.data());
  out.spki_sha256_hex = ossl::hex({h.data(), n});
  return out;
}

std::string pem_encode(std::string_view label, std::span<const std::uint8_t> der) {
  constexpr std::string_view begin = "-----BEGIN ";
  constexpr std::string_view end = "-----END ";
  constexpr std::string_view dashes = "-----\n";
  const std::size_t b64 = 4 * ((der.size() + 2) / 3);
  const std::size_t lines = (b64 + 63) / 64;
  std::string out;
  out.reserve(2 * (begin.size() + label.size() + dashes.size()) + b64 + lines);
  out.append(begin).append(label).append(dashes);
  // 48 input bytes make one 64-column line, as PEM_write_bio writes it.
  SecretBuffer<65> line;
  for (std::size_t off = 0; off < der.size(); off += 48) {
    const std::size_t n = std::min<std::size_t>(48, der.size() - off);
    const int w = EVP_EncodeBlock(line.bytes.data(), der.data() + off, static_cast<int>(n));
    out.append(reinterpret_cast<const char*>(line.bytes.data()), static_cast<std::size_t>(w));
    out.push_back('\n');
  }
  out.append(end).append(label).append(dashes);
  return out;
}

}  // namespace pki::fastpath
