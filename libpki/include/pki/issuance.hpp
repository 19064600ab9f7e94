// Issuing one certificate from a CSR under a profile: the pipeline of
// DESIGN.md, every step visible:
//   validate request -> build -> check -> reserve -> sign -> deliver -> commit
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pki/certificate.hpp"
#include "pki/clock.hpp"
#include "pki/csr.hpp"
#include "pki/findings.hpp"
#include "pki/home.hpp"

namespace pki {

struct SignRequest {
  std::string ca;
  std::string profile;
  std::vector<std::uint8_t> csr;  // PEM or DER as read
  std::string device_id;          // required when the profile's subject uses {device_id}
  std::map<std::string, std::string> variables;  // extra template variables
  std::filesystem::path out;  // certificate PEM; must not exist unless `overwrite`
  bool overwrite = false;
  bool allow_decommissioned = false;      // issue to a decommissioned device id all the same
  std::optional<std::string> passphrase;  // the CA key's
  CsrLimits limits;
  std::string actor = "devpki";
};

struct SignResult {
  Certificate certificate;
  std::string serial_hex;
  Findings warnings;
  // The CA that signed: SignRequest::ca, or its current successor when that
  // CA was rolled over (with a warning "ca.rolled_over").
  std::string issuer;
};

// A request for a retired CA (devpki-ca rollover) is issued by its current
// successor (current_issuer()), whose name goes into {ca} and the result.
// Error(invalid_input | policy | conflict | ...) before the reserve step
// leaves the store and `out` untouched. A failure signing or delivering marks
// the reserved serial abandoned and leaves `out` untouched; a failure to
// commit leaves the row reserved with `out` written (recover_reserved()).
SignResult sign_csr(Home& home, const SignRequest& req, const Clock& clock);

// The restart step of DESIGN.md's crash safety: every *reserved* row older
// than `min_age` becomes *issued* when its output exists and matches it (a
// certificate file with that serial, key and issuer; for a CA, the CA row),
// and *abandoned* otherwise (its serial is never reused). Younger rows may
// belong to an issuance still running and are left alone.
struct RecoveryReport {
  std::vector<CertRecord> completed;
  std::vector<CertRecord> abandoned;
  std::vector<CertRecord> skipped;
};
// The reports' rows carry their status after recovery.
RecoveryReport recover_reserved(Home& home, const Clock& clock,
                                std::chrono::seconds min_age = std::chrono::minutes(10),
                                const std::string& actor = "devpki");

// Device ids go into subjects and file names: 1..64 of [A-Za-z0-9._:-],
// starting alphanumeric. Error(invalid_input) otherwise.
void validate_device_id(const std::string& id);

// Builds the subject and SAN list from the profile and the CSR: the profile's
// subject template expanded, the profile's `add` SANs expanded, then the CSR's
// SANs each checked against the `allow` rules. Error(policy) naming the
// first SAN that no rule allows.
DistinguishedName build_subject(const ProfileSpec& profile,
                                const std::map<std::string, std::string>& vars);
std::vector<SubjectAltName> build_sans(const ProfileSpec& profile,
                                       const std::vector<SubjectAltName>& requested,
                                       const std::map<std::string, std::string>& vars);

}  // namespace pki
