// The CA hierarchy: a self-signed root, issuing CAs under it (or under another
// CA), their keys and chains.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pki/authority.hpp"
#include "pki/clock.hpp"
#include "pki/home.hpp"
#include "pki/key.hpp"
#include "pki/name.hpp"

namespace pki {

// How a CA key is protected at rest. A passphrase is required unless
// `plaintext` says otherwise explicitly (--no-passphrase).
struct CaKeyProtection {
  std::optional<std::string> passphrase;
  bool plaintext = false;
  KeyEncryption encryption;
};

struct RootOptions {
  std::string name;  // [a-z0-9][a-z0-9._-]{0,63}
  DistinguishedName subject;
  KeyAlgorithm key = KeyAlgorithm::ec_p384;
  std::string profile = "root-ca";
  std::optional<std::chrono::seconds> validity;  // overrides the profile's
  CaKeyProtection protection;
  std::string actor = "devpki";
};

struct IssuingCaOptions {
  std::string name;
  std::string parent;
  DistinguishedName subject;
  KeyAlgorithm key = KeyAlgorithm::ec_p256;
  std::string profile = "issuing-ca";
  std::optional<std::chrono::seconds> validity;  // clamped to the parent's
  CaKeyProtection protection;                    // for the new key
  std::optional<std::string> parent_passphrase;  // to unlock the parent's key
  std::string actor = "devpki";
};

struct CreatedCa {
  CaRecord record;
  Findings warnings;  // validity or pathLen clamped, key usage adapted
};

CreatedCa create_root(Home& home, const RootOptions& opts, const Clock& clock);
CreatedCa create_issuing_ca(Home& home, const IssuingCaOptions& opts, const Clock& clock);

// Loads a CA's chain (itself first, root last) and unlocks its key.
// Error(not_found) for an unknown CA, Error(crypto) for a wrong passphrase.
Authority load_authority(Home& home, const std::string& name,
                         const std::optional<std::string>& passphrase);
// Itself first, root last.
std::vector<Certificate> ca_chain(Home& home, const std::string& name);

// CA names: lower-case letters, digits, '.', '_', '-'; 1..64; starts alphanumeric.
void validate_ca_name(const std::string& name);

}  // namespace pki
