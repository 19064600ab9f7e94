// Certificate profiles: YAML parsed into a ProfileSpec, validated as a whole,
// then used. The profile decides every field of a certificate; the CSR gives
// only its public key and the SAN values the profile allows.
// Reference: docs/profiles.md (every key).
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pki/findings.hpp"
#include "pki/key.hpp"

namespace pki {

enum class SanType { dns, ip, email, uri };
std::string_view to_string(SanType t) noexcept;
SanType parse_san_type(std::string_view name);  // "dns", "ip", "email", "uri"

struct SubjectAltName {
  SanType type = SanType::dns;
  std::string value;  // IP in text form ("192.0.2.1", "2001:db8::1")
  bool operator==(const SubjectAltName&) const = default;
};

// keyUsage bits, RFC 5280 4.2.1.3, names as in the RFC.
enum class KeyUsage {
  digital_signature,  // digitalSignature
  non_repudiation,    // nonRepudiation (contentCommitment)
  key_encipherment,   // keyEncipherment
  data_encipherment,  // dataEncipherment
  key_agreement,      // keyAgreement
  key_cert_sign,      // keyCertSign
  crl_sign,           // cRLSign
};
std::string_view to_string(KeyUsage u) noexcept;
KeyUsage parse_key_usage(std::string_view name);

struct ProfileValidity {
  bool forever = false;              // notAfter = 99991231235959Z
  std::chrono::seconds duration{0};  // when !forever; > 0
  // Backdate notBefore to absorb device clock skew.
  std::chrono::seconds backdate{std::chrono::minutes(5)};
};

// A value the CSR may carry into the certificate. `pattern` is a glob over the
// whole value: '*' matches one DNS label (dns), any run of characters not
// containing '/' or '@' otherwise. Variables ({device_id}, ...) are expanded
// before matching. For ip, pattern may be a CIDR ("10.0.0.0/8").
struct SanRule {
  SanType type = SanType::dns;
  std::string pattern;
};

struct SanPolicy {
  std::vector<SanRule> allow;             // SANs from the CSR must match one of these
  std::vector<SubjectAltName> add;        // values (templates) the profile always adds
  std::size_t max = 8;                    // most SANs in one certificate
  bool critical_if_subject_empty = true;  // RFC 5280 4.2.1.6 (always true; kept explicit)
};

struct NameConstraintsSpec {
  std::vector<SubjectAltName> permitted;  // dns: ".acme.example" or "acme.example"; ip: CIDR
  std::vector<SubjectAltName> excluded;
  bool empty() const noexcept { return permitted.empty() && excluded.empty(); }
};

struct AiaSpec {
  std::vector<std::string> ca_issuers;  // URL templates
  std::vector<std::string> ocsp;        // URL templates
};

enum class Rekey { required, allowed, forbidden };
std::string_view to_string(Rekey r) noexcept;

struct RotationPolicy {
  // Due when this share of the lifetime remains (1..99) ...
  std::optional<int> renew_before_percent;
  // ... or when this much time remains. Exactly one of the two is set when
  // `enabled`.
  std::optional<std::chrono::seconds> renew_before;
  Rekey rekey = Rekey::allowed;
  std::chrono::seconds grace_after_expiry{0};
  bool revoke_superseded = false;
  std::chrono::seconds jitter{0};
  bool enabled = false;  // the profile had a rotation: section
};

// The CRL a CA publishes (used by CA profiles; parsed now, used by revocation).
struct CrlSpec {
  std::chrono::seconds next_update{std::chrono::hours(24 * 7)};
  std::optional<std::chrono::seconds> delta_next_update;
  // URL templates for the freshestCRL extension of full CRLs (RFC 5280
  // 5.2.6: where the delta CRLs are fetched). {ca} is the publishing CA's own
  // name; the home's variables as for crl_distribution_points. Needs
  // delta_next_update.
  std::vector<std::string> freshest_crl;
};

struct ProfileSpec {
  std::string name;  // from `name:`, must equal the file stem when loaded from a file
  std::string description;

  ProfileValidity validity;
  std::vector<KeyAlgorithm> key_algorithms;  // keys a CSR (or keygen) may use; non-empty
  // Digest for RSA/ECDSA signatures made with this profile's certificates'
  // issuer key: "sha256", "sha384", "sha512". Ed25519 ignores it.
  std::string signature_digest = "sha256";

  // Subject template in issuance order, each value may use {variables}:
  // {device_id}, {ca}, {profile}, and any --var/CSV column. An attribute
  // whose value expands to "" is dropped. Empty template = empty subject
  // (then at least one SAN is required).
  std::vector<std::pair<std::string, std::string>> subject;
  SanPolicy san;

  std::vector<KeyUsage> key_usage;  // always critical
  // extendedKeyUsage: names (serverAuth, clientAuth, codeSigning, emailProtection,
  // timeStamping, OCSPSigning) or dotted OIDs. Empty = no EKU extension.
  std::vector<std::string> extended_key_usage;
  bool extended_key_usage_critical = false;

  bool is_ca = false;                    // basicConstraints cA (always critical when present)
  std::optional<int> path_len;           // CA only
  NameConstraintsSpec name_constraints;  // CA only; critical (RFC 5280 4.2.1.10)

  std::vector<std::string> policies;  // certificatePolicies OIDs ("2.23.140.1.2.1", "anyPolicy")
  std::vector<std::string>
      crl_distribution_points;  // URL templates; {ca} expands to the issuer's name
  AiaSpec aia;

  RotationPolicy rotation;
  CrlSpec crl;
};

// Where a profile came from, for messages: "profiles/device.yaml:12: key 'validty' ..."
// Parse errors are Error(invalid_input) whose message names file, line and key.
ProfileSpec parse_profile(std::string_view yaml_text, const std::string& source_name);
ProfileSpec load_profile(const std::filesystem::path& file);

// Whole-profile rules (contradictions): CA without keyCertSign, keyCertSign
// without CA, pathLen on an end-entity, name constraints on an end-entity,
// empty key_algorithms, zero validity, renew_before >= validity, ... Parse
// calls this and throws on errors; exposed so that callers can show the warnings.
Findings validate_profile(const ProfileSpec& spec);

// Error(policy) "<shown_as> is not allowed by profile '<name>' (allowed: ...)"
// unless `alg` is one of the profile's key algorithms (nullopt: a key devpki
// does not know, never allowed).
void require_key_allowed(const ProfileSpec& profile, std::optional<KeyAlgorithm> alg,
                         const std::string& shown_as);

// Expands {name} variables; "{{" is a literal '{'. An unknown variable is
// Error(invalid_input) naming it.
std::string expand_template(std::string_view templ, const std::map<std::string, std::string>& vars);

}  // namespace pki
