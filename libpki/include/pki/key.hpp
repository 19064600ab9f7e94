// Key pairs: generation, PEM in and out, encrypted PKCS#8 at rest, SPKI
// fingerprints. Values are cheap to copy (shared, immutable OpenSSL handles).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pki {

// The key algorithms devpki issues for and accepts. The names are the ones
// profiles and flags use: "ec-p256", "ec-p384", "ed25519", "rsa-2048", ...
enum class KeyAlgorithm { ec_p256, ec_p384, ed25519, rsa_2048, rsa_3072, rsa_4096 };

std::string_view to_string(KeyAlgorithm alg) noexcept;
// Throws Error(invalid_input) naming the allowed values.
KeyAlgorithm parse_key_algorithm(std::string_view name);
const std::vector<KeyAlgorithm>& all_key_algorithms();

// What a public key is, as found (a CSR may carry anything).
struct KeyDescription {
  enum class Type { ec, ed25519, rsa, other };
  Type type = Type::other;
  int bits = 0;                  // RSA modulus / EC field size
  std::string curve;             // "P-256", "P-384", ... for named EC curves
  bool explicit_params = false;  // EC key with explicit (not named) domain parameters
  std::string openssl_name;      // OpenSSL's type name, for messages
  // The KeyAlgorithm this key is, if it is one devpki knows.
  std::optional<KeyAlgorithm> algorithm() const;
  std::string to_string() const;  // "ec-p256", "rsa-1024", "EC explicit parameters", ...
};

class PublicKey {
 public:
  // SubjectPublicKeyInfo, DER or PEM ("PUBLIC KEY"). Throws Error(invalid_input).
  static PublicKey from_der(std::span<const std::uint8_t> der);
  static PublicKey from_pem(std::string_view pem);

  std::vector<std::uint8_t> spki_der() const;
  std::string to_pem() const;
  // SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex (64 chars).
  std::string spki_sha256_hex() const;
  KeyDescription describe() const;
  bool operator==(const PublicKey& other) const;

  // EVP_PKEY*. The one escape hatch into OpenSSL; libpki's own code uses it.
  void* native_handle() const noexcept { return m_pkey.get(); }
  // Takes a reference on an EVP_PKEY* (for libpki internals). With
  // `spki_der`, the caller vouches that these are the key's SubjectPublicKeyInfo
  // bytes (as parsed from a CSR), which spares re-encoding the key later.
  static PublicKey adopt(void* evp_pkey);
  static PublicKey adopt(void* evp_pkey, std::vector<std::uint8_t> spki_der);

 private:
  std::shared_ptr<void> m_pkey;
  std::shared_ptr<const std::vector<std::uint8_t>> m_spki;  // when known
};

// How a private key is encrypted at rest (PKCS#8 EncryptedPrivateKeyInfo,
// AES-256-CBC). PBKDF2-HMAC-SHA256 by default, at OWASP 2023's 600,000
// iterations; scrypt as the alternative.
struct KeyEncryption {
  enum class Kdf { pbkdf2_sha256, scrypt };
  Kdf kdf = Kdf::pbkdf2_sha256;
  int pbkdf2_iterations = 600'000;
  // scrypt N = 2^17, r = 8, p = 1 (128 MiB) unless changed.
  std::uint64_t scrypt_n = 1u << 17;
  std::uint64_t scrypt_r = 8;
  std::uint64_t scrypt_p = 1;
};

class PrivateKey {
 public:
  static PrivateKey generate(KeyAlgorithm alg);
  // PEM private key: PKCS#8 (encrypted or not), or traditional "EC/RSA PRIVATE KEY".
  // An encrypted key without a passphrase, or a wrong passphrase: Error(crypto)
  // saying so. Plain PEM with a passphrase given is accepted.
  static PrivateKey from_pem(std::string_view pem,
                             std::optional<std::string_view> passphrase = std::nullopt);
  static PrivateKey load(const std::filesystem::path& file,
                         std::optional<std::string_view> passphrase = std::nullopt);

  PublicKey public_key() const;
  KeyAlgorithm algorithm() const;

  // Unencrypted PKCS#8 PEM ("PRIVATE KEY").
  std::string to_pem() const;
  // Encrypted PKCS#8 PEM ("ENCRYPTED PRIVATE KEY"). An empty passphrase is refused.
  std::string to_encrypted_pem(std::string_view passphrase, const KeyEncryption& enc = {}) const;

  void* native_handle() const noexcept { return m_pkey.get(); }
  static PrivateKey adopt(void* evp_pkey);

 private:
  std::shared_ptr<void> m_pkey;
};

// Writes a secret (a private key PEM) to `file`: created 0600 before any byte is
// written, through a temporary name, fsync'd, renamed. Refuses to replace an
// existing file unless `overwrite`. Throws Error(conflict) / Error(io).
void write_secret_file(const std::filesystem::path& file, std::string_view content,
                       bool overwrite = false);

}  // namespace pki
