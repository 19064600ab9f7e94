#include <openssl/pem.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "key/key_internal.hpp"
#include "ossl/check.hpp"

namespace pki {

namespace {

void free_pkey(void* p) {
  EVP_PKEY_free(static_cast<EVP_PKEY*>(p));
}

// A key file is a few KiB; anything far larger is not one.
constexpr std::size_t kMaxKeyFileBytes = 1 << 20;
constexpr std::string_view kEncryptedPkcs8Label = "-----BEGIN ENCRYPTED PRIVATE KEY-----";

// OpenSSL's PEM readers prompt on the terminal when given no callback; ours
// never prompts, and records that a passphrase was needed.
struct PassphraseRequest {
  std::optional<std::string_view> passphrase;
  bool asked = false;
};

int passphrase_callback(char* buf, int size, int /*rwflag*/, void* userdata) {
  auto* req = static_cast<PassphraseRequest*>(userdata);
  req->asked = true;
  if (!req->passphrase || req->passphrase->size() > static_cast<std::size_t>(size)) return -1;
  std::memcpy(buf, req->passphrase->data(), req->passphrase->size());
  return static_cast<int>(req->passphrase->size());
}

Error passphrase_required(const std::string& what) {
  return Error(ErrorCode::crypto, what + " is encrypted: a passphrase is required to read it");
}

Error wrong_passphrase(const std::string& what) {
  return Error(ErrorCode::crypto, "wrong passphrase for " + what);
}

PrivateKey decode_private_pem(std::string_view pem, std::optional<std::string_view> passphrase,
                              const std::string& what) {
  auto bio = ossl::mem_bio({reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size()});
  // Encrypted PKCS#8 is decrypted here rather than by PEM_read_bio_PrivateKey,
  // which caps scrypt at 32 MiB and so cannot read devpki's own scrypt keys.
  if (pem.find(kEncryptedPkcs8Label) != std::string_view::npos) {
    ossl::X509SigPtr sig(PEM_read_bio_PKCS8(bio.get(), nullptr, nullptr, nullptr));
    if (!sig) ossl::fail(ErrorCode::invalid_input, what + ": malformed ENCRYPTED PRIVATE KEY");
    if (!passphrase) throw passphrase_required(what);
    auto pkey = decrypt_pkcs8(sig.get(), *passphrase);
    if (!pkey) throw wrong_passphrase(what);
    return make_private_key(std::move(pkey));
  }
  PassphraseRequest req{passphrase};
  ossl::EvpPkeyPtr pkey(
      PEM_read_bio_PrivateKey_ex(bio.get(), nullptr, passphrase_callback, &req, nullptr, nullptr));
  if (pkey) return make_private_key(std::move(pkey));
  if (req.asked) {
    // Traditional "Proc-Type: 4,ENCRYPTED" PEM.
    ossl::clear_errors();
    if (!passphrase) throw passphrase_required(what);
    throw wrong_passphrase(what);
  }
  ossl::fail(ErrorCode::invalid_input, "no PEM private key found in " + what);
}

ossl::EvpPkeyPtr keygen(KeyAlgorithm alg) {
  switch (alg) {
    case KeyAlgorithm::ec_p256:
      return ossl::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    case KeyAlgorithm::ec_p384:
      return ossl::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
    case KeyAlgorithm::ed25519:
      return ossl::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    case KeyAlgorithm::rsa_2048:
      return ossl::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}));
    case KeyAlgorithm::rsa_3072:
      return ossl::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{3072}));
    case KeyAlgorithm::rsa_4096:
      return ossl::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{4096}));
  }
  throw Error(ErrorCode::internal, "unknown KeyAlgorithm");
}

}  // namespace

EVP_PKEY* pkey_of(const PrivateKey& key) {
  return ossl::check_ptr(static_cast<EVP_PKEY*>(key.native_handle()), "empty private key",
                         ErrorCode::internal);
}

PrivateKey make_private_key(ossl::EvpPkeyPtr pkey) {
  return PrivateKey::adopt(pkey.get());
}

PrivateKey PrivateKey::adopt(void* evp_pkey) {
  auto* pkey = ossl::check_ptr(static_cast<EVP_PKEY*>(evp_pkey), "PrivateKey::adopt(nullptr)",
                               ErrorCode::internal);
  ossl::check(EVP_PKEY_up_ref(pkey), "EVP_PKEY_up_ref", ErrorCode::internal);
  PrivateKey key;
  key.m_pkey = std::shared_ptr<void>(pkey, free_pkey);
  return key;
}

PrivateKey PrivateKey::generate(KeyAlgorithm alg) {
  auto pkey = keygen(alg);
  if (!pkey) ossl::fail(ErrorCode::crypto, "generating a " + std::string(to_string(alg)) + " key");
  return make_private_key(std::move(pkey));
}

PrivateKey PrivateKey::from_pem(std::string_view pem, std::optional<std::string_view> passphrase) {
  return decode_private_pem(pem, passphrase, "private key");
}

PrivateKey PrivateKey::load(const std::filesystem::path& file,
                            std::optional<std::string_view> passphrase) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) {
      throw Error(ErrorCode::not_found, "private key file " + file.string() + " does not exist");
    }
    throw Error(ErrorCode::io, "cannot read private key file " + file.string());
  }
  std::string pem;
  pem.resize(kMaxKeyFileBytes + 1);
  in.read(pem.data(), static_cast<std::streamsize>(pem.size()));
  pem.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) throw Error(ErrorCode::io, "cannot read private key file " + file.string());
  if (pem.size() > kMaxKeyFileBytes) {
    throw Error(ErrorCode::invalid_input, file.string() + " is too large to be a private key");
  }
  struct Cleanse {
    std::string& s;
    ~Cleanse() { OPENSSL_cleanse(s.data(), s.size()); }
  } cleanse{pem};
  return decode_private_pem(pem, passphrase, file.string());
}

// Shares the handle: converting to a public-only EVP_PKEY costs an
// encode/decode round trip per key, which minting cannot afford. Only public
// material ever leaves a PublicKey (SPKI DER/PEM).
PublicKey PrivateKey::public_key() const {
  return PublicKey::adopt(pkey_of(*this));
}

KeyAlgorithm PrivateKey::algorithm() const {
  const KeyDescription d = public_key().describe();
  if (auto alg = d.algorithm()) return *alg;
  std::string allowed;
  for (auto a : all_key_algorithms()) {
    allowed += allowed.empty() ? "" : ", ";
    allowed += to_string(a);
  }
  throw Error(ErrorCode::policy,
              "key is " + d.to_string() + ", not one devpki uses (allowed: " + allowed + ")");
}

std::string PrivateKey::to_pem() const {
  ossl::BioPtr bio(ossl::check_ptr(BIO_new(BIO_s_mem()), "BIO_new", ErrorCode::internal));
  // OpenSSL 3 writes PKCS#8 PrivateKeyInfo ("PRIVATE KEY") for every key type.
  ossl::check(
      PEM_write_bio_PrivateKey(bio.get(), pkey_of(*this), nullptr, nullptr, 0, nullptr, nullptr),
      "writing PRIVATE KEY PEM");
  return ossl::bio_string(bio.get());
}

std::string PrivateKey::to_encrypted_pem(std::string_view passphrase,
                                         const KeyEncryption& enc) const {
  if (passphrase.empty()) {
    throw Error(ErrorCode::invalid_input,
                "refusing to encrypt a private key with an empty passphrase");
  }
  auto sig = encrypt_pkcs8(pkey_of(*this), passphrase, enc);
  ossl::BioPtr bio(ossl::check_ptr(BIO_new(BIO_s_mem()), "BIO_new", ErrorCode::internal));
  ossl::check(PEM_write_bio_PKCS8(bio.get(), sig.get()), "writing ENCRYPTED PRIVATE KEY PEM");
  return ossl::bio_string(bio.get());
}

}  // namespace pki
