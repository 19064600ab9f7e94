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

// Issuing CA rollover (devpki-ca rollover): a successor with a new key under
// the same parent, recorded and the old CA retired in one store transaction.
struct RolloverOptions {
  std::string ca;  // the active, non-root CA to roll over
  // The successor's name. Empty: "<base>-<UTC year>", base being the old name
  // without a trailing "-<4 digits>" (factory -> factory-2027,
  // factory-2026 -> factory-2027); Error(conflict) if that CA exists.
  std::string name;
  // Empty: the old subject with its CN's trailing " <4 digits>" replaced by
  // (or, without one, followed by) " <UTC year>". Distinct names keep chain
  // building unambiguous for verifiers that match on names.
  std::optional<DistinguishedName> subject;
  std::optional<KeyAlgorithm> key;               // default: the old CA's key algorithm
  std::optional<std::chrono::seconds> validity;  // default: the old CA's profile's
  CaKeyProtection protection;                    // for the new key
  std::optional<std::string> parent_passphrase;  // to unlock the parent's key
  std::string actor = "devpki";
};
struct RolloverResult {
  CreatedCa successor;
  CaRecord predecessor;  // as recorded after the rollover (retired)
};
RolloverResult rollover_ca(Home& home, const RolloverOptions& opts, const Clock& clock);

// The CA that issues in `name`'s place: `name` while active, else its
// successor's (followed to the end). Error(not_found) for an unknown CA;
// Error(policy) for a retired CA without a successor.
std::string current_issuer(Home& home, const std::string& name);
// `name` and the CAs it was rolled over from or to, oldest first.
std::vector<CaRecord> ca_lineage(Home& home, const std::string& name);
// Whether a retired CA still answers for certificates (they have not all
// expired at `at`, and neither has the CA). Active CAs always do.
bool ca_in_overlap(Home& home, const CaRecord& ca, TimePoint at);

enum class AuthorityUse {
  issue,  // a retired CA is refused (Error(policy) naming its successor)
  crl,    // a retired CA keeps signing CRLs for what it issued
};
// Loads a CA's chain (itself first, root last) and unlocks its key.
// Error(not_found) for an unknown CA, Error(crypto) for a wrong passphrase.
Authority load_authority(Home& home, const std::string& name,
                         const std::optional<std::string>& passphrase,
                         AuthorityUse use = AuthorityUse::issue);
// Itself first, root last.
std::vector<Certificate> ca_chain(Home& home, const std::string& name);
// What a relying party must trust for `name`'s devices during a rollover:
// `name`'s chain (itself first, root last) with the other CAs of its
// lineage that are in overlap at `at` inserted after `name` (newest first).
// Without a rollover: ca_chain(name).
std::vector<Certificate> ca_trust_chain(Home& home, const std::string& name, TimePoint at);

// CA names: lower-case letters, digits, '.', '_', '-'; 1..64; starts alphanumeric.
void validate_ca_name(const std::string& name);

}  // namespace pki
