// The zero-touch bootstrap exchange (pki/enrollment.hpp): an IDevID that
// chains to a bootstrap anchor, for a device this home knows, with proof
// that the requester holds its key, is exchanged for an LDevID bound to the
// same device id. Every refusal is audited and issues nothing.
#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "ossl/check.hpp"
#include "ossl/der.hpp"
#include "pki/csr.hpp"
#include "pki/enrollment.hpp"

namespace pki {

namespace {

Certificate read_certificate(const std::vector<std::uint8_t>& bytes) {
  return Certificate::from_der(ossl::pem_or_der(bytes, {"CERTIFICATE"}, "certificate"));
}

// ECDSA and RSA (PKCS#1 v1.5) with SHA-256; Ed25519/Ed448 over the message.
bool verify_proof(const PublicKey& key, std::span<const std::uint8_t> message,
                  std::span<const std::uint8_t> signature) {
  auto* pkey = static_cast<EVP_PKEY*>(key.native_handle());
  const int id = EVP_PKEY_get_base_id(pkey);
  const bool pure = id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448;
  ossl::EvpMdCtxPtr ctx(ossl::check_ptr(EVP_MD_CTX_new(), "EVP_MD_CTX_new"));
  ossl::check(
      EVP_DigestVerifyInit(ctx.get(), nullptr, pure ? nullptr : EVP_sha256(), nullptr, pkey),
      "EVP_DigestVerifyInit");
  const int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                                  message.size());
  ossl::clear_errors();
  return rc == 1;
}

}  // namespace

std::pair<std::string, std::string> bootstrap_device_id(const Certificate& idevid) {
  const DistinguishedName subject = idevid.subject();
  std::string from = "serialNumber";
  auto id = subject.get("serialNumber");
  if (!id) {
    from = "CN";
    id = subject.get("CN");
  }
  if (!id) {
    throw Error(ErrorCode::policy,
                "the bootstrap certificate names no device: its subject has "
                "neither serialNumber nor CN");
  }
  try {
    validate_device_id(*id);
  } catch (const Error& e) {
    throw Error(ErrorCode::policy,
                "the bootstrap certificate's subject " + from + " is not a device id: " + e.what());
  }
  return {*id, from};
}

BootstrapEnrollResult enroll_with_bootstrap(Home& home, const BootstrapEnrollRequest& req,
                                            const Clock& clock) {
  const TimePoint now = clock.now();
  Store& store = home.store();
  nlohmann::json detail = nlohmann::json::object();
  std::string subject;

  const auto refuse = [&](ErrorCode code, const std::string& message) {
    AuditEvent ev;
    ev.at = now;
    ev.actor = req.actor;
    ev.action = "provision.enroll.refused";
    ev.subject = subject;
    detail["reason"] = message;
    ev.detail = detail.dump();
    store.append_audit(ev);
    throw Error(code, "bootstrap refused: " + message);
  };

  BootstrapEnrollResult result;
  std::optional<Certificate> idevid;
  try {
    idevid = read_certificate(req.bootstrap_cert);
  } catch (const Error& e) {
    refuse(ErrorCode::invalid_input, std::string("the bootstrap certificate: ") + e.what());
  }
  detail["bootstrap_sha256"] = idevid->fingerprint_sha256_hex();
  detail["bootstrap_subject"] = idevid->subject().to_string();
  // The audit subject names the device the certificate claims, verified or not.
  try {
    subject = "device/" + bootstrap_device_id(*idevid).first;
  } catch (const Error&) {
    subject = "certificate/" + idevid->fingerprint_sha256_hex();
  }

  // 1. Chain, validity, revocation.
  DeviceCertCheck check;
  for (const auto& a : bootstrap_anchors(home))
    check.anchors.push_back(Certificate::from_der(a.der));
  if (check.anchors.empty()) {
    refuse(ErrorCode::policy,
           "this home trusts no bootstrap CA: add the manufacturer CA first (devpki-ca trust add "
           "--bootstrap CA.pem, or --ca NAME for a CA of this home)");
  }
  check.intermediates = req.bootstrap_intermediates;
  check.crls = req.crls;
  check.at = now;
  try {
    result.bootstrap = verify_device_certificate(home, *idevid, check);
  } catch (const Error& e) {
    refuse(e.code() == ErrorCode::invalid_input ? ErrorCode::invalid_input : ErrorCode::policy,
           e.what());
  }
  detail["anchor_sha256"] = result.bootstrap.anchor_sha256;

  // 2. The device: named by the IDevID, known, not decommissioned.
  try {
    std::tie(result.device_id, result.device_id_from) = bootstrap_device_id(*idevid);
  } catch (const Error& e) {
    refuse(ErrorCode::policy, e.what());
  }
  subject = "device/" + result.device_id;
  detail["device_id"] = result.device_id;
  if (!result.bootstrap.home_issuer.empty()) {
    const auto row = store.find_cert(result.bootstrap.home_issuer, idevid->serial_hex());
    if (row && row->device_id != result.device_id) {
      refuse(ErrorCode::policy, "the bootstrap certificate names device " + result.device_id +
                                    " but the inventory issued it to device " + row->device_id);
    }
  }
  const auto device = store.find_device(result.device_id);
  if (device && device->status == "decommissioned") {
    refuse(ErrorCode::policy, "device " + result.device_id + " is decommissioned (since " +
                                  format_time(*device->decommissioned_at) + ")");
  }
  if (result.bootstrap.home_issuer.empty()) {
    // From another home's CA: any maker this home trusts could put any device
    // id in a certificate, so such a certificate counts only for the device
    // it registered (devpki-provision jitp), not for a device known otherwise.
    const std::string sha = idevid->fingerprint_sha256_hex();
    if (!device || device->registered_cert.empty()) {
      refuse(ErrorCode::policy,
             "device " + result.device_id +
                 " is not known to this home from this certificate: a bootstrap certificate "
                 "from another home's CA is accepted for the device it registered; register "
                 "it first (devpki-provision jitp)");
    }
    if (device->registered_cert != sha) {
      refuse(ErrorCode::policy,
             "device " + result.device_id + " was registered from another certificate (sha256 " +
                 device->registered_cert.substr(0, 16) + "...): this one cannot enroll it");
    }
  } else if (!device) {
    CertQuery q;
    q.device_id = result.device_id;
    q.limit = 1;
    if (store.find_certs(q).empty()) {
      refuse(ErrorCode::policy,
             "device " + result.device_id +
                 " is not known to this home: mint its identity here, or register it "
                 "first (devpki-provision jitp)");
    }
  }

  // 3. Possession of the bootstrap key.
  if (req.possession_established) {
    detail["proof"] = "established by the caller";
  } else {
    if (!req.proof || req.proof->empty()) {
      refuse(ErrorCode::policy,
             "no proof of possession of the bootstrap key: sign the CSR file with the IDevID key "
             "(--proof FILE)");
    }
    if (!verify_proof(idevid->public_key(), req.csr, *req.proof)) {
      refuse(ErrorCode::policy,
             "the proof of possession does not verify with the bootstrap certificate's key "
             "(it must be the IDevID key's signature over the CSR file exactly as given)");
    }
    detail["proof"] = "signature over the CSR";
  }

  // 4. The new key.
  std::optional<CertificationRequest> csr;
  try {
    csr = CertificationRequest::parse(req.csr);
  } catch (const Error& e) {
    refuse(e.code(), std::string("the CSR: ") + e.what());
  }
  if (csr->public_key().spki_sha256_hex() == idevid->public_key().spki_sha256_hex()) {
    refuse(ErrorCode::policy,
           "the CSR carries the bootstrap certificate's key: the operational identity needs a "
           "new key");
  }

  SignRequest sr;
  sr.ca = req.ca;
  sr.profile = req.profile;
  sr.csr = req.csr;
  sr.device_id = result.device_id;
  sr.out = req.out;
  sr.overwrite = req.overwrite;
  sr.passphrase = req.passphrase;
  sr.actor = req.actor;
  try {
    result.issued = sign_csr(home, sr, clock);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::invalid_input || e.code() == ErrorCode::policy ||
        e.code() == ErrorCode::conflict) {
      refuse(e.code(), e.what());
    }
    throw;
  }

  AuditEvent ev;
  ev.at = now;
  ev.actor = req.actor;
  ev.action = "provision.enroll";
  ev.subject = subject;
  detail.erase("reason");
  detail["issuer"] = result.issued.issuer;
  detail["serial"] = result.issued.serial_hex;
  detail["profile"] = req.profile;
  ev.detail = detail.dump();
  store.append_audit(ev);
  return result;
}

}  // namespace pki
