// Who signs for a CA. A file key today; PKCS#11 (libp11) later, behind the
// same interface: both end in an EVP_PKEY that OpenSSL signs with.
#pragma once

#include <memory>
#include <string>

#include "pki/key.hpp"

namespace pki {

class Signer {
 public:
  virtual ~Signer() = default;
  virtual PublicKey public_key() const = 0;
  // EVP_PKEY* able to sign (private half present or delegated to a token).
  virtual void* native_handle() const = 0;
  virtual std::string description() const = 0;  // "file keys/root.key.pem", "pkcs11:..."
};

class KeySigner final : public Signer {
 public:
  KeySigner(PrivateKey key, std::string description)
      : m_key(std::move(key)), m_description(std::move(description)) {}
  PublicKey public_key() const override { return m_key.public_key(); }
  void* native_handle() const override { return m_key.native_handle(); }
  std::string description() const override { return m_description; }

 private:
  PrivateKey m_key;
  std::string m_description;
};

}  // namespace pki
