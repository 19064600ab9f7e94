// Trust for provisioning: the CA certificates a home accepts device
// certificates from beyond issuing them itself (bootstrap anchors: the
// manufacturer CA whose IDevIDs devpki-provision enroll exchanges for
// LDevIDs, possibly from another home), and the check of one device
// certificate against a set of anchors, used by the bootstrap exchange and
// by just-in-time provisioning.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pki/certificate.hpp"
#include "pki/clock.hpp"
#include "pki/home.hpp"
#include "pki/store.hpp"

namespace pki {

// Adds a CA certificate as a bootstrap anchor. The certificate must be a CA
// (basicConstraints cA=TRUE with keyCertSign) and valid at clock.now();
// Error(invalid_input) naming what it lacks. `name` empty: the subject CN
// lower-cased, characters outside [a-z0-9._-] as '-' (or "anchor-<8 hex of
// the fingerprint>" without a usable CN). Error(conflict) when the name or
// the certificate is already trusted. Audited ("trust.add").
TrustAnchorRecord add_bootstrap_anchor(Home& home, const Certificate& ca, const std::string& name,
                                       const std::string& source, const Clock& clock,
                                       const std::string& actor = "devpki");
// The same for a CA of this home (source "ca:<name>"): its own certificate.
// Error(not_found) for an unknown CA.
TrustAnchorRecord add_bootstrap_ca(Home& home, const std::string& ca_name, const std::string& name,
                                   const Clock& clock, const std::string& actor = "devpki");
// Error(not_found) listing the anchors there are. Audited ("trust.remove").
void remove_trust_anchor(Home& home, const std::string& name, const Clock& clock,
                         const std::string& actor = "devpki");
std::vector<TrustAnchorRecord> bootstrap_anchors(Home& home);

// What a device certificate is checked against.
struct DeviceCertCheck {
  // The trusted CA certificates, at any level of the chain: a chain ends at
  // the first of them it reaches (partial chains are accepted, so an issuing
  // CA can be the anchor without its root).
  std::vector<Certificate> anchors;
  // Intermediate CA certificates the chain may need (the device's chain file).
  std::vector<Certificate> intermediates;
  // CRLs (PEM or DER) for issuers that are not CAs of this home; for this
  // home's own CAs the store is the authority and these are not needed.
  std::vector<std::vector<std::uint8_t>> crls;
  TimePoint at{};
};

struct VerifiedDeviceCert {
  Certificate cert;
  std::vector<Certificate> chain;  // the certificate first, the anchor last
  std::string anchor_sha256;       // hex fingerprint of the anchor it chained to
  std::string anchor_subject;      // RFC 4514
  // The issuing CA when it is a CA of this home (revocation from the store),
  // empty otherwise (revocation from a CRL given in DeviceCertCheck::crls).
  std::string home_issuer;
  std::string revocation_source;  // "store" or "CRL <number> of <issuer RFC 4514>"
};

// Checks a device (end-entity) certificate: it builds a chain to one of the
// anchors with a valid signature at every step (OpenSSL's X509_verify_cert,
// X.509 strict), every certificate of it is valid at `at`, it is not a CA,
// and it is not revoked: for a certificate from a CA of this home, the store
// has it and it is neither revoked nor only reserved; otherwise a CRL of its
// issuer, signed by the issuer and current at `at`, must be given and not
// list it. Error(policy) naming the reason: "does not chain to a trusted CA
// (<OpenSSL's reason>)", "expired at ...", "not valid before ...", "revoked
// (<reason>) at ...", "no revocation information for ... (pass its CRL)",
// ...; Error(invalid_input) for no anchors at all.
VerifiedDeviceCert verify_device_certificate(Home& home, const Certificate& cert,
                                             const DeviceCertCheck& check);

// The CA certificates of this home a chain may end at: each CA's own
// certificate (name -> certificate), for templates and enroll --ca anchors.
Certificate home_ca_certificate(Home& home, const std::string& ca_name);

}  // namespace pki
