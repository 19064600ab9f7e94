// Enrollment: how a device that has no operational certificate yet obtains
// one. Two ways, both ending in sign_csr():
//   - the zero-touch bootstrap exchange: a device proves its factory
//     identity (an IDevID chaining to a bootstrap anchor, pki/trust.hpp) and
//     gets an LDevID bound to the same device id;
//   - one-time enrollment secrets: a token (the token/PSK method) or the
//     setup code printed on a QR onboarding label (pki/onboarding.hpp),
//     redeemed once, before it expires, for the device it names.
// Library functions first: devpki-provision calls them, and so will an
// online enrollment service.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pki/certificate.hpp"
#include "pki/clock.hpp"
#include "pki/csr.hpp"
#include "pki/error.hpp"
#include "pki/home.hpp"
#include "pki/issuance.hpp"
#include "pki/store.hpp"
#include "pki/trust.hpp"

namespace pki {

// ---- the bootstrap exchange (IDevID -> LDevID) -------------------------------------

struct BootstrapEnrollRequest {
  std::vector<std::uint8_t> bootstrap_cert;  // the IDevID, PEM or DER
  std::vector<Certificate>
      bootstrap_intermediates;                  // its chain, when the anchor is above its issuer
  std::vector<std::vector<std::uint8_t>> crls;  // for a bootstrap CA of another home
  std::vector<std::uint8_t> csr;                // the new (LDevID) key's CSR, as read
  // Proof that the requester holds the bootstrap key: its signature over the
  // CSR bytes exactly as given (ECDSA / RSA PKCS#1 v1.5 with SHA-256, or
  // Ed25519 over the bytes). Required unless `possession_established`.
  std::optional<std::vector<std::uint8_t>> proof;
  // The caller established possession of the bootstrap key itself (an
  // enrollment server that authenticated the device with it in mutual TLS).
  // Recorded in the audit event.
  bool possession_established = false;
  std::string ca;       // the CA that issues the LDevID (its successor after a rollover)
  std::string profile;  // e.g. device-ldevid
  std::filesystem::path out;
  bool overwrite = false;
  std::optional<std::string> passphrase;  // the CA key's
  std::string actor = "devpki";
};

struct BootstrapEnrollResult {
  SignResult issued;
  std::string device_id;
  std::string device_id_from;  // "serialNumber" or "CN": where the IDevID carries it
  VerifiedDeviceCert bootstrap;
};

// The checks, in order, each refusal an Error(policy) (Error(invalid_input)
// for unreadable input) naming its reason, with nothing issued and the
// refusal recorded in the audit log ("provision.enroll.refused"):
//   1. the bootstrap certificate verifies against the bootstrap anchors
//      (verify_device_certificate: chain, validity, not revoked);
//   2. its device id (subject serialNumber, else CN) is a valid device id of
//      a device this home knows (a certificate in the store, or a device
//      row) that is not decommissioned;
//   3. the proof of possession verifies with the bootstrap key;
//   4. the CSR parses, its proof of possession verifies, and its key is not
//      the bootstrap key;
// then sign_csr() issues the certificate for the same device id (recorded
// "provision.enroll").
BootstrapEnrollResult enroll_with_bootstrap(Home& home, const BootstrapEnrollRequest& req,
                                            const Clock& clock);

// The device id an IDevID carries: its subject serialNumber, else its CN.
// Error(policy) when it has neither or the value is not a valid device id.
std::pair<std::string, std::string> bootstrap_device_id(const Certificate& idevid);

// ---- one-time enrollment secrets ---------------------------------------------------

enum class SecretKind { token, setup_code };
std::string_view to_string(SecretKind k) noexcept;  // "token", "setup_code"

// Tokens: "dpt_" + 26 characters of RFC 4648 base32 (lower case, no
// padding) holding 128 bits from the CSPRNG + 4 check characters (the first
// 20 bits of SHA-256 over the 16 bytes): 34 characters.
// Setup codes: 12 Crockford base32 characters (60 bits from the CSPRNG).
// Both are stored only as HMAC-SHA256 under the home's enrollment key
// (keys/enrollment.key, 32 random bytes made on first use, mode 0600).

// The CA a secret is redeemed with when none is named: the home's only
// active issuing (non-root) CA. Error(invalid_input) naming them when there
// are several, or saying there is none.
std::string default_issuing_ca(Home& home);

struct IssueSecretRequest {
  SecretKind kind = SecretKind::token;
  std::string device_id;
  std::string ca;       // empty: the home's only active issuing (non-root) CA
  std::string profile;  // e.g. device-ldevid; must exist in the home
  std::chrono::seconds ttl{24 * 3600};
  // Revoke the device's active secret of this kind instead of refusing; the
  // same for every request of one call (Error(invalid_input) otherwise).
  bool replace = false;
  std::string actor = "devpki";
};

struct IssuedSecret {
  std::string secret;  // shown once; never stored
  EnrollmentSecretRecord record;
};

// Checks every request (device id valid and not decommissioned, CA active
// or rolled over, profile known, ttl from 1 minute to 3650 days), then
// records all of them in one transaction ("token.issue" /
// "setup_code.issue"), or none: Error(invalid_input | not_found | policy |
// conflict) naming the first request that fails (index and device id when
// there are several).
std::vector<IssuedSecret> issue_enrollment_secrets(Home& home,
                                                   std::span<const IssueSecretRequest> reqs,
                                                   const Clock& clock);

struct RedeemRequest {
  // A token, a setup code (12 characters, or the 13-character manual code
  // with its check character, dashes and case ignored), or a whole QR
  // onboarding payload (its device id must be the secret's).
  std::string secret;
  std::vector<std::uint8_t> csr;
  std::filesystem::path out;
  bool overwrite = false;
  std::optional<std::string> passphrase;  // the CA key's
  std::string actor = "devpki";
};

// Why a redemption was refused (RedeemRefused::reason).
enum class RedeemRefusal { malformed, unknown, replayed, expired, revoked, device, csr };
std::string_view to_string(RedeemRefusal r) noexcept;

// Error(policy) (Error(invalid_input) for `malformed` and `csr`) carrying
// the reason; the message says it in words. A refused redemption leaves no
// trace but its audit record ("<kind>.redeem.refused", never with the
// secret): the secret stays as it was.
class RedeemRefused : public Error {
 public:
  RedeemRefused(RedeemRefusal reason, ErrorCode code, const std::string& message)
      : Error(code, message), m_reason(reason) {}
  RedeemRefusal reason() const noexcept { return m_reason; }

 private:
  RedeemRefusal m_reason;
};

struct RedeemResult {
  SignResult issued;
  EnrollmentSecretRecord secret;  // after the redemption
};

// Everything about the secret (format, state, expiry, device) and the CSR's
// syntax and proof of possession are checked before the secret is claimed.
// Then the secret is claimed (Store::claim_enrollment_secret: single use even
// against a concurrent redeemer) and sign_csr() issues for the secret's
// device, CA and profile. When sign_csr refuses (the profile's key or SAN
// rules, a live duplicate, a wrong passphrase, ...) nothing was signed and the
// claim is released: the secret can be redeemed again. Only a failure of the
// store itself (Error(store)), which may come after the certificate was
// written, leaves it spent ("interrupted").
RedeemResult redeem_enrollment_secret(Home& home, const RedeemRequest& req, const Clock& clock);

// The secret a token, setup code or QR payload is, read-only (nothing
// claimed, nothing audited): nullopt when this home did not issue it.
// Error(invalid_input) for text that is none of them.
std::optional<EnrollmentSecretRecord> lookup_enrollment_secret(Home& home,
                                                               std::string_view presented);

std::vector<EnrollmentSecretRecord> list_enrollment_secrets(Home& home, const SecretQuery& q);
// Revokes the device's active secrets (of `kind`, or all). Error(not_found)
// when it has none.
std::vector<EnrollmentSecretRecord> revoke_enrollment_secrets(Home& home,
                                                              const std::string& device_id,
                                                              std::optional<SecretKind> kind,
                                                              const Clock& clock,
                                                              const std::string& actor = "devpki");

// The state shown for a secret at `now`: "active", "expired" (active past
// expires_at), "redeemed", "revoked", or "interrupted" (claimed, no
// certificate recorded: the issuance did not finish).
std::string secret_state(const EnrollmentSecretRecord& s, TimePoint now);

}  // namespace pki
