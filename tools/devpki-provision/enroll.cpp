// devpki-provision enroll: the zero-touch bootstrap exchange. A device's
// factory identity (IDevID) is exchanged for an operational certificate
// (LDevID) bound to the same device id (pki/enrollment.hpp).
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "devpki-provision/commands.hpp"
#include "pki/enrollment.hpp"
#include "pki/error.hpp"

namespace devpki::provision {

namespace {

struct EnrollOptions {
  std::string bootstrap;
  std::string csr;
  std::string proof;
  bool possession_established = false;
  std::string ca;
  std::string profile = "device-ldevid";
  std::string out;
  bool force = false;
  ChainInputs chain;
  PassphraseOptions passphrase;
};

Exit run_enroll(const EnrollOptions& o, const GlobalOptions& g) {
  if (o.proof.empty() && !o.possession_established) {
    throw pki::Error(pki::ErrorCode::invalid_input,
                     "give --proof FILE (the IDevID key's signature over the CSR file), or "
                     "--possession-established when the caller authenticated the device with "
                     "its IDevID key itself");
  }
  pki::BootstrapEnrollRequest req;
  req.bootstrap_cert = read_input_file(o.bootstrap, 64 * 1024, "bootstrap certificate");
  req.csr = read_input_file(o.csr, pki::CsrLimits{}.max_bytes, "CSR");
  if (!o.proof.empty()) req.proof = read_input_file(o.proof, 16 * 1024, "proof");
  req.possession_established = o.possession_established;
  req.bootstrap_intermediates = read_chain(o.chain);
  req.crls = read_crls(o.chain);
  req.ca = o.ca;
  req.profile = o.profile;
  req.out = o.out;
  req.overwrite = o.force;
  req.passphrase = read_passphrase(o.passphrase);
  req.actor = "devpki-provision";

  pki::Home home = pki::Home::open(resolve_home(g));
  const pki::BootstrapEnrollResult r = pki::enroll_with_bootstrap(home, req, pki::SystemClock{});
  for (const auto& f : r.issued.warnings.items())
    warn("devpki-provision", f.message);
  if (g.json) {
    nlohmann::json j =
        nlohmann::json::parse(issued_json(home, r.issued.issuer, r.issued.serial_hex));
    j["device_id_from"] = r.device_id_from;
    j["bootstrap"] = {{"subject", r.bootstrap.cert.subject().to_string()},
                      {"serial", r.bootstrap.cert.serial_hex()},
                      {"sha256", r.bootstrap.cert.fingerprint_sha256_hex()},
                      {"anchor_subject", r.bootstrap.anchor_subject},
                      {"anchor_sha256", r.bootstrap.anchor_sha256},
                      {"revocation_checked_in", r.bootstrap.revocation_source}};
    std::cout << j.dump() << "\n";
  } else {
    std::cout << "bootstrap accepted: " << r.bootstrap.cert.subject().to_string() << "\n"
              << "  chains to   " << r.bootstrap.anchor_subject << "\n"
              << "  not revoked (checked in the " << r.bootstrap.revocation_source << ")\n"
              << "  device id   " << r.device_id << " (subject " << r.device_id_from << ")\n"
              << "issued " << r.issued.serial_hex << " by " << r.issued.issuer << " under "
              << o.profile << " for device " << r.device_id << " -> " << o.out << "\n";
  }
  return Exit::ok;
}

}  // namespace

Command add_enroll(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<EnrollOptions>();
  CLI::App* cmd = app.add_subcommand(
      "enroll",
      "Zero-touch bootstrap: exchange a device's factory identity (IDevID) for an operational "
      "certificate (LDevID) bound to the same device id. The IDevID must chain to a bootstrap "
      "anchor (devpki-ca trust add --bootstrap), be valid and unrevoked, and name a device this "
      "home knows and has not decommissioned; the CSR's key must be new. Each refusal names "
      "its reason, is audited, and issues nothing.");
  cmd->add_option("--bootstrap", o->bootstrap, "the device's IDevID certificate (PEM or DER)")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--csr", o->csr, "the CSR for the new operational key (PEM or DER)")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--proof", o->proof,
                  "the IDevID key's signature over the CSR file as given: openssl dgst -sha256 "
                  "-sign idevid.key -out proof.sig ldevid.csr (Ed25519: openssl pkeyutl -sign "
                  "-rawin -inkey idevid.key -in ldevid.csr -out proof.sig)")
      ->type_name("FILE");
  cmd->add_flag("--possession-established", o->possession_established,
                "the caller proved possession of the IDevID key itself (e.g. mutual TLS with it); "
                "recorded in the audit log");
  cmd->add_option("--ca", o->ca, "the CA that issues the operational certificate")->required();
  cmd->add_option("--profile", o->profile, "the operational certificate's profile")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "certificate PEM to write (never overwritten without --force)")
      ->required()
      ->type_name("FILE");
  cmd->add_flag("--force", o->force, "replace --out if it exists");
  add_chain_options(*cmd, o->chain);
  add_passphrase_options(*cmd, o->passphrase, false);
  return {cmd, [o, &g] { return run_enroll(*o, g); }};
}

}  // namespace devpki::provision
