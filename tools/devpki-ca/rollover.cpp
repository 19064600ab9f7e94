// devpki-ca rollover: a successor for an issuing CA, with a new key under
// the same parent; the old CA is retired and keeps publishing CRLs.
#include <algorithm>
#include <iostream>
#include <memory>

#include "devpki-ca/commands.hpp"
#include "devpki-ca/render.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"

namespace devpki::ca {

namespace {

struct RolloverCliOptions {
  std::string ca;
  std::string name;
  std::string subject;
  std::string key;
  std::string validity;
  PassphraseOptions passphrase;
  std::string parent_passphrase_file;
};

Exit run_rollover(const RolloverCliOptions& o, const GlobalOptions& g) {
  pki::RolloverOptions opts;
  opts.ca = o.ca;
  opts.name = o.name;
  if (!opts.name.empty()) pki::validate_ca_name(opts.name);
  if (!o.subject.empty()) opts.subject = pki::DistinguishedName::parse(o.subject);
  if (!o.key.empty()) opts.key = pki::parse_key_algorithm(o.key);
  if (!o.validity.empty()) opts.validity = pki::parse_duration(o.validity);
  read_new_ca_passphrases(o.passphrase, o.parent_passphrase_file, opts.protection,
                          opts.parent_passphrase);
  opts.actor = "devpki-ca";

  pki::Home home = pki::Home::open(resolve_home(g));
  const pki::SystemClock clock;
  const pki::RolloverResult res = pki::rollover_ca(home, opts, clock);
  const pki::CaRecord& next = res.successor.record;
  const pki::CaRecord& old = res.predecessor;
  for (const auto& f : res.successor.warnings.items())
    warn("devpki-ca", f.message);
  if (o.passphrase.none) {
    warn("devpki-ca", "the key of CA '" + next.name +
                          "' is stored unencrypted (--no-passphrase); do not use it in production");
  }
  // Until when the old CA answers for certificates: its CRL is needed till then.
  pki::TimePoint crl_until = old.not_after;
  const auto last = home.store().last_issued_not_after(old.name);
  if (last) crl_until = std::min(crl_until, *last);

  if (g.json) {
    std::cout << "{\"successor\":" << ca_json(next) << ",\"predecessor\":" << ca_json(old)
              << ",\"old_crl_until\":" << (last ? json_string(pki::format_time(crl_until)) : "null")
              << "}\n";
    return Exit::ok;
  }
  std::cout << "rolled over CA '" << old.name << "' to '" << next.name << "' under '" << next.parent
            << "'\n"
            << ca_text(next) << "'" << old.name << "' is retired: it issues no more certificates "
            << "and keeps signing CRLs.\n\nNext:\n"
            << "  1. Publish the new trust chain to every server and broker that checks device "
               "certificates, before any device gets one from '"
            << next.name << "':\n"
            << "       devpki-ca chain --ca " << next.name << " --out " << next.name
            << "-chain.pem\n"
            << "  2. Publish the CRL of '" << next.name << "' (the bundles then carry both):\n"
            << "       devpki-ca crl --ca " << next.name << "\n"
            << "  3. Issue from '" << next.name << "' (sign, devpki-mint) and renew the fleet:\n"
            << "       devpki-renew plan; devpki-renew run --out DIR\n";
  if (last) {
    std::cout << "  4. Keep publishing the CRL of '" << old.name << "' until "
              << pki::format_time(crl_until)
              << ", when its last certificate expires (devpki-ca crl --ca " << old.name
              << "; devpki-ca crl-status lists it until then).\n";
  } else {
    std::cout << "  4. '" << old.name
              << "' issued no certificates: its CRL is not needed once relying parties have the "
                 "new chain.\n";
  }
  std::cout << "See docs/ca-rotation.md.\n";
  return Exit::ok;
}

}  // namespace

Command add_rollover(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<RolloverCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "rollover",
      "Replace an issuing CA by a successor with a new key under the same parent (same profile; "
      "key algorithm, validity and subject from the old CA unless given). New issuance (sign, "
      "mint, renew) goes to the successor; the old CA is retired and keeps publishing CRLs until "
      "its last certificate expires; `chain` and the CRL bundles carry both meanwhile. The new "
      "key is encrypted with the same passphrase unless --parent-passphrase-file gives the "
      "parent's separately. See docs/ca-rotation.md.");
  cmd->add_option("--ca", o->ca, "the active issuing CA to roll over")->required();
  cmd->add_option("--name", o->name,
                  "name of the successor (default: the old name, its '-YYYY' suffix replaced by "
                  "this year's: factory -> factory-2027)");
  cmd->add_option("--subject", o->subject,
                  "subject DN of the successor (default: the old one, its CN's trailing year "
                  "replaced by or followed by this year)");
  cmd->add_option("--key", o->key,
                  "key algorithm: ec-p256, ec-p384, ed25519, rsa-2048, rsa-3072, rsa-4096 "
                  "(default: the old CA's)");
  cmd->add_option("--validity", o->validity,
                  "lifetime, e.g. 5y (default: the profile's; clamped to the parent's)");
  add_passphrase_options(*cmd, o->passphrase, true);
  cmd->add_option("--parent-passphrase-file", o->parent_passphrase_file,
                  "passphrase of the parent's key, when it differs")
      ->type_name("FILE");
  return {cmd, [o, &g] { return run_rollover(*o, g); }};
}

}  // namespace devpki::ca
