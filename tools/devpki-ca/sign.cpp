// devpki-ca sign: one CSR, one certificate, through the full issuance pipeline.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "devpki-ca/commands.hpp"
#include "devpki-ca/render.hpp"
#include "pki/error.hpp"
#include "pki/issuance.hpp"

namespace devpki::ca {

namespace {

struct SignOptions {
  std::string ca;
  std::string profile;
  std::string csr;
  std::string device_id;
  std::string out;
  std::vector<std::string> vars;
  bool force = false;
  bool allow_decommissioned = false;
  PassphraseOptions passphrase;
};

Exit run_sign(const SignOptions& o, const GlobalOptions& g) {
  pki::SignRequest req;
  req.ca = o.ca;
  req.profile = o.profile;
  req.device_id = o.device_id;
  req.out = o.out;
  req.overwrite = o.force;
  req.allow_decommissioned = o.allow_decommissioned;
  for (const auto& kv : o.vars) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw pki::Error(pki::ErrorCode::invalid_input, "--var '" + kv + "': expected NAME=VALUE");
    }
    req.variables[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  req.passphrase = read_passphrase(o.passphrase);
  req.actor = "devpki-ca";
  req.csr = read_input_file(o.csr, req.limits.max_bytes, "CSR");

  pki::Home home = pki::Home::open(resolve_home(g));
  const pki::SignResult res = pki::sign_csr(home, req, pki::SystemClock{});
  for (const auto& f : res.warnings.items())
    warn("devpki-ca", f.message);
  // res.issuer differs from --ca when that CA was rolled over (warned above).
  const auto rec = home.store().find_cert(res.issuer, res.serial_hex);
  if (!rec) {
    throw pki::Error(pki::ErrorCode::store, "certificate " + res.serial_hex + " of '" + res.issuer +
                                                "' is not in the store after issuance");
  }
  if (g.json) {
    std::cout << cert_json(*rec) << "\n";
  } else {
    std::cout << "issued " << res.serial_hex << " by " << res.issuer << " under " << o.profile
              << (o.device_id.empty() ? "" : " for device " + o.device_id) << " -> " << o.out
              << "\n";
  }
  return Exit::ok;
}

}  // namespace

Command add_sign(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<SignOptions>();
  CLI::App* cmd =
      app.add_subcommand("sign",
                         "Sign one CSR under a profile. The CSR gives only its public key (proof "
                         "of possession checked) "
                         "and the SANs the profile allows; the profile decides every other field.");
  cmd->add_option("--ca", o->ca,
                  "issuing CA (a rolled-over CA's successor issues in its place, with a warning)")
      ->required();
  cmd->add_option("--profile", o->profile, "end-entity profile in <home>/profiles/")->required();
  cmd->add_option("--csr", o->csr, "PKCS#10 request, PEM or DER")->required()->type_name("FILE");
  cmd->add_option("--device-id", o->device_id, "device identity for {device_id} in the profile");
  cmd->add_option("--out", o->out, "certificate PEM to write (never overwritten without --force)")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--var", o->vars, "extra template variable NAME=VALUE (repeatable)");
  cmd->add_flag("--force", o->force, "replace --out if it exists");
  cmd->add_flag("--allow-decommissioned", o->allow_decommissioned,
                "sign for a device id that devpki-decommission retired (refused otherwise)");
  add_passphrase_options(*cmd, o->passphrase, false);
  return {cmd, [o, &g] { return run_sign(*o, g); }};
}

}  // namespace devpki::ca
