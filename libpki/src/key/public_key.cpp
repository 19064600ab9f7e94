#include <openssl/pem.h>

#include "key/key_internal.hpp"
#include "ossl/check.hpp"

namespace pki {

namespace {

void free_pkey(void* p) {
  EVP_PKEY_free(static_cast<EVP_PKEY*>(p));
}

// Refuses trailing bytes: two readers of the same bytes must never disagree
// about which key they hold.
ossl::EvpPkeyPtr decode_spki(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  ossl::EvpPkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey) ossl::fail(ErrorCode::invalid_input, "not a DER SubjectPublicKeyInfo");
  if (p != der.data() + der.size()) {
    throw Error(ErrorCode::invalid_input, "SubjectPublicKeyInfo is followed by trailing bytes");
  }
  return pkey;
}

}  // namespace

EVP_PKEY* pkey_of(const PublicKey& key) {
  return ossl::check_ptr(static_cast<EVP_PKEY*>(key.native_handle()), "empty public key",
                         ErrorCode::internal);
}

PublicKey make_public_key(ossl::EvpPkeyPtr pkey) {
  PublicKey key = PublicKey::adopt(pkey.get());
  return key;  // adopt() took its own reference; ours is dropped with `pkey`
}

PublicKey PublicKey::adopt(void* evp_pkey) {
  auto* pkey = ossl::check_ptr(static_cast<EVP_PKEY*>(evp_pkey), "PublicKey::adopt(nullptr)",
                               ErrorCode::internal);
  ossl::check(EVP_PKEY_up_ref(pkey), "EVP_PKEY_up_ref", ErrorCode::internal);
  PublicKey key;
  key.m_pkey = std::shared_ptr<void>(pkey, free_pkey);
  return key;
}

PublicKey PublicKey::adopt(void* evp_pkey, std::vector<std::uint8_t> spki_der) {
  PublicKey key = adopt(evp_pkey);
  key.m_spki = std::make_shared<const std::vector<std::uint8_t>>(std::move(spki_der));
  return key;
}

PublicKey PublicKey::from_der(std::span<const std::uint8_t> der) {
  ossl::EvpPkeyPtr pkey = decode_spki(der);
  return adopt(pkey.get(), {der.begin(), der.end()});
}

PublicKey PublicKey::from_pem(std::string_view pem) {
  auto bio = ossl::mem_bio({reinterpret_cast<const std::uint8_t*>(pem.data()), pem.size()});
  ossl::EvpPkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) ossl::fail(ErrorCode::invalid_input, "no PEM \"PUBLIC KEY\" block found");
  return make_public_key(std::move(pkey));
}

std::vector<std::uint8_t> PublicKey::spki_der() const {
  // OpenSSL 3 encodes a key through its provider encoders (~60 us for P-256):
  // keep the bytes when they came with the key.
  if (m_spki) return *m_spki;
  return ossl::to_der(i2d_PUBKEY, pkey_of(*this), "encoding SubjectPublicKeyInfo");
}

std::string PublicKey::to_pem() const {
  ossl::BioPtr bio(ossl::check_ptr(BIO_new(BIO_s_mem()), "BIO_new", ErrorCode::internal));
  ossl::check(PEM_write_bio_PUBKEY(bio.get(), pkey_of(*this)), "writing PUBLIC KEY PEM");
  return ossl::bio_string(bio.get());
}

std::string PublicKey::spki_sha256_hex() const {
  return ossl::hex(ossl::sha256(spki_der()));
}

// Two handles may hold the same key with different internal state (a private
// half, cached parameters): the encoded SubjectPublicKeyInfo is the identity.
bool PublicKey::operator==(const PublicKey& other) const {
  if (m_pkey == other.m_pkey) return true;
  if (!m_pkey || !other.m_pkey) return false;
  return spki_der() == other.spki_der();
}

}  // namespace pki
