// What libpki's own code needs from the key module: the EVP_PKEY behind a key
// value, and key values made from owned handles. Internal to libpki.
#pragma once

#include <string_view>

#include "ossl/handles.hpp"
#include "pki/key.hpp"

namespace pki {

// Throws Error(internal) for a default-constructed (empty) key: every caller
// is libpki code, so an empty key there is a bug.
EVP_PKEY* pkey_of(const PublicKey& key);
EVP_PKEY* pkey_of(const PrivateKey& key);

// Take ownership of the handle (no extra reference).
PublicKey make_public_key(ossl::EvpPkeyPtr pkey);
PrivateKey make_private_key(ossl::EvpPkeyPtr pkey);

// Encrypted PKCS#8 (pkcs8_encryption.cpp).
ossl::X509SigPtr encrypt_pkcs8(EVP_PKEY* pkey, std::string_view passphrase,
                               const KeyEncryption& enc);
// nullptr if the passphrase is wrong (or the ciphertext corrupt: they cannot
// be told apart); Error for parameters devpki refuses to run.
ossl::EvpPkeyPtr decrypt_pkcs8(const X509_SIG* sig, std::string_view passphrase);

}  // namespace pki
