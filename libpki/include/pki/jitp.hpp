// Just-in-time provisioning: a device that presents a certificate from a
// trusted CA the first time it is seen is registered in the inventory, with
// attributes taken from its certificate, by a template:
//
//   name: fleet
//   description: "Acme devices from the factory line"
//   trust: [factory]                     # CAs of this home and/or bootstrap anchors
//   conditions:                          # all must hold, in order
//     - {field: subject.O, equals: Acme}
//     - {field: subject.CN, matches: "ACME-[0-9]{8}"}   # ECMAScript regex, whole value
//     - {field: eku, contains: clientAuth}
//     - {field: subject.OU, one_of: [Devices, Sensors]}
//     - {field: san.dns, present: true}
//   attributes:                          # device_id is required
//     device_id: "{subject.serialNumber}"
//     model: {field: subject.CN, pattern: "([A-Z]+)-.*"}  # the first group (or the whole match)
//     tenant: acme                       # a literal; "{field}" placeholders are substituted
//
// Fields: subject.<attr> and issuer.<attr> (CN, O, OU, C, L, ST,
// serialNumber, ... as pki/name.hpp knows them), san.dns, san.uri,
// san.email, san.ip, eku (serverAuth, clientAuth, codeSigning,
// emailProtection, timeStamping, OCSPSigning or a dotted OID), serial
// (lower-case hex), key (ec-p256, ec-p384, ed25519, rsa-2048, ...).
// A field may have no value (absent) or several (san.*, eku).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "pki/certificate.hpp"
#include "pki/clock.hpp"
#include "pki/home.hpp"
#include "pki/store.hpp"
#include "pki/trust.hpp"

namespace pki {

enum class JitpOp { equals, matches, contains, one_of, present };
std::string_view to_string(JitpOp op) noexcept;

struct JitpCondition {
  std::string field;
  JitpOp op = JitpOp::equals;
  std::vector<std::string> values;  // equals/matches/contains: one; one_of: several
  bool present = true;              // JitpOp::present: true (must have a value) or false
  int line = 0;                     // in the template file, 1-based
  // "subject.O equals \"Acme\"", as refusals and --json name it.
  std::string describe() const;
};

struct JitpAttribute {
  std::string name;  // device_id, model, tenant, ...: [a-z][a-z0-9_]{0,31}
  // Either a text with {field} placeholders (a literal when it has none) ...
  std::string text;
  // ... or a field and a regex the whole value must match; the value is the
  // first capture group, or the whole match without one.
  std::string field;
  std::string pattern;
  int line = 0;
};

struct JitpTemplate {
  std::string name;  // [a-z0-9][a-z0-9._-]{0,63}
  std::string description;
  std::vector<std::string> trust;  // CA names of this home or bootstrap anchor names
  std::vector<JitpCondition> conditions;
  std::vector<JitpAttribute> attributes;  // device_id among them
  std::string file;                       // as given, for messages
};

// Strict: unknown keys, missing name/trust/attributes.device_id, an unknown
// field or operator, a regex that does not compile, a condition with two
// operators are Error(invalid_input) "file:line: key.path: what".
JitpTemplate parse_jitp_template(std::string_view yaml, const std::string& file);
JitpTemplate load_jitp_template(const std::filesystem::path& file);

// The values of a field of the certificate (empty when absent).
// Error(invalid_input) for an unknown field name.
std::vector<std::string> certificate_field(const Certificate& cert, std::string_view field);
bool is_known_field(std::string_view field) noexcept;

struct JitpRequest {
  Certificate cert;
  std::vector<Certificate> intermediates;
  std::vector<std::vector<std::uint8_t>> crls;  // for anchors that are not CAs of this home
  bool dry_run = false;                         // decide, write nothing (not even the audit)
  std::string actor = "devpki";
};

struct JitpResult {
  RegisterOutcome outcome = RegisterOutcome::registered;  // registered or unchanged
  std::string device_id;
  std::map<std::string, std::string> attributes;  // without device_id
  DeviceRecord device;                            // as stored (the plan, on a dry run)
  VerifiedDeviceCert verified;
  std::vector<std::string> conditions;  // describe() of each condition, all held
};

// Resolves the template's trust names (Error(not_found) naming one that is
// neither a CA nor a bootstrap anchor), verifies the certificate
// (verify_device_certificate), checks the conditions in order, maps the
// attributes, then registers the device (Store::register_device).
// Refusals, each recorded in the audit log ("jitp.refused") unless dry_run:
//   Error(policy) "condition 2 (subject.O equals \"Acme\") failed: subject.O is \"Evil\"",
//   Error(policy) for verification and mapping failures (a field without a
//     value, a pattern that does not match, an invalid device id),
//   Error(policy) for a decommissioned device,
//   Error(conflict) for a device registered before with other attributes
//     (naming each that differs: nothing is overwritten).
// Applied again to a device registered with the same attributes: unchanged,
// nothing written.
JitpResult apply_jitp(Home& home, const JitpTemplate& tmpl, const JitpRequest& req,
                      const Clock& clock);

}  // namespace pki
