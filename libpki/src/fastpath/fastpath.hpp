// The batch fast path: certificates and device keys encoded at DER level.
//
// OpenSSL 3's convenient calls (X509_set_pubkey, i2d_PUBKEY, PEM PKCS#8,
// d2i_X509_REQ) go through the provider encoders and decoders and cost 5-10x
// the cryptography (../shared/bench/README.md). A batch signs thousands of
// certificates that differ only in serial, subject, key, SKI and SANs, so it
// builds one certificate the slow, fully checked way (build_tbs + lint_tbs)
// and then assembles the others from that template's DER pieces.
//
// Correctness contract: for the same spec, serial and key, CertTemplate::tbs()
// is byte-identical to build_tbs(); tests check it for every key algorithm,
// and the batch engine re-checks a sample of devices at run time
// (CertTemplate::slow_tbs).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ossl/handles.hpp"
#include "pki/authority.hpp"
#include "pki/findings.hpp"
#include "pki/key.hpp"
#include "pki/name.hpp"

namespace pki::fastpath {

// A device key generated in this process, with its encodings.
struct DeviceKey {
  ossl::EvpPkeyPtr key;
  std::vector<std::uint8_t> spki_der;  // SubjectPublicKeyInfo, as i2d_PUBKEY would give
  std::string pkcs8_pem;               // unencrypted PKCS#8 "PRIVATE KEY" PEM, as
                                       // PEM_write_bio_PrivateKey would give
  std::string spki_sha256_hex;         // lowercase hex of SHA-256(spki_der)
};

// One per thread: keeps its EVP_PKEY_CTX. ec-p256, ec-p384 and ed25519 are
// encoded from the raw key material with fixed DER prefixes; rsa-* falls
// back to the OpenSSL encoders (RSA keygen dwarfs the encoding anyway).
class KeyGenerator {
 public:
  explicit KeyGenerator(KeyAlgorithm alg);
  KeyGenerator(const KeyGenerator&) = delete;
  KeyGenerator& operator=(const KeyGenerator&) = delete;
  KeyGenerator(KeyGenerator&&) noexcept;
  KeyGenerator& operator=(KeyGenerator&&) noexcept;
  ~KeyGenerator();
  DeviceKey generate();
  KeyAlgorithm algorithm() const noexcept { return m_alg; }

 private:
  KeyAlgorithm m_alg;
  ossl::EvpPkeyCtxPtr m_ctx;
};

// A public key received from a device (CSR mode): its SPKI DER taken as is
// from the CSR, and a PublicKey for the slow path when needed.
// Error(invalid_input) when `spki_der` is not one SubjectPublicKeyInfo.
// Slow (d2i_PUBKEY, ~100 us for P-256). The returned key's spki_der() is the
// encoding build_tbs writes: the CSR's bytes when they are already in that
// form (always for P-256/P-384 uncompressed and Ed25519), else OpenSSL's
// re-encoding (e.g. a compressed EC point; another ~60 us). Pass that, not the
// raw CSR bytes, as DeviceFields::spki_der.
PublicKey public_key_from_spki(std::span<const std::uint8_t> spki_der);

// What varies per device.
struct DeviceFields {
  std::span<const std::uint8_t> serial;  // big-endian magnitude, top bit clear, non-zero
  const DistinguishedName* subject = nullptr;
  std::span<const std::uint8_t> spki_der;  // DeviceKey::spki_der or PublicKey::spki_der()
  // Final list (profile add + allowed); nullptr or empty: no SAN extension.
  const std::vector<SubjectAltName>* sans = nullptr;
};

// Certificates of one batch: one CA, one profile, one validity window, one
// key algorithm (a CSR batch with several key types holds one template per
// algorithm).
class CertTemplate {
 public:
  // `prototype` is a complete spec for a representative device (its subject,
  // key of the batch's algorithm, SANs, validity, variables). Builds it with
  // build_tbs and checks it with lint_tbs against `ca` exactly as
  // Authority::draft does: Error(policy) listing every failed check. Then
  // builds a second probe with a different subject, key and serial and
  // finds which extensions vary per device; only the subjectKeyIdentifier
  // and subjectAltName may (Error(internal) otherwise: the profile cannot be
  // templated; the caller falls back to the slow path). CRL DP and AIA URLs
  // are expanded once, with the prototype's variables: the second probe
  // changes {device_id}, so a URL naming the device is caught, but a URL
  // using another per-device variable (a CSV column) is not; the caller must
  // not template such a profile.
  CertTemplate(const Authority& ca, const CertificateSpec& prototype);
  CertTemplate(CertTemplate&&) noexcept;
  CertTemplate& operator=(CertTemplate&&) noexcept;
  ~CertTemplate();

  // DER TBSCertificate for one device, from the template's pieces: the
  // serial, subject (DER via the name module), SPKI, SKI (SHA-1 of the
  // subjectPublicKey bits, RFC 5280 4.2.1.2 (1)) and SAN extension spliced
  // in. Does not re-run the lint: the caller validated the subject and SANs.
  std::vector<std::uint8_t> tbs(const DeviceFields& d) const;

  // The same TBSCertificate built the slow way (build_tbs on the prototype
  // spec with this device's fields): the run-time cross-check.
  std::vector<std::uint8_t> slow_tbs(const DeviceFields& d) const;

  // Certificate DER: tbs || signatureAlgorithm || signature, signed with the
  // CA key and the profile's digest. `ctx` is the caller's per-thread
  // EVP_MD_CTX (reset here); thread-safe otherwise (the CA key is only read).
  std::vector<std::uint8_t> sign(std::span<const std::uint8_t> tbs, EVP_MD_CTX* ctx) const;

  // Validity actually used (the issuer's clamp applied) and build/lint warnings.
  TimePoint not_before() const noexcept;
  TimePoint not_after() const noexcept;
  const Findings& warnings() const noexcept;
  KeyAlgorithm algorithm() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

// PEM armour for DER ("CERTIFICATE", ...), 64-column base64, as OpenSSL writes it.
std::string pem_encode(std::string_view label, std::span<const std::uint8_t> der);

}  // namespace pki::fastpath
