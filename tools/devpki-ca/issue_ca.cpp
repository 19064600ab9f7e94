// devpki-ca issue-ca: an issuing (or intermediate) CA under an existing CA.
#include <iostream>
#include <memory>

#include "devpki-ca/commands.hpp"
#include "devpki-ca/render.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"

namespace devpki::ca {

namespace {

struct IssueCaOptions {
  std::string parent;
  std::string name;
  std::string subject;
  std::string key = "ec-p256";
  std::string validity;
  std::string profile = "issuing-ca";
  PassphraseOptions passphrase;
  std::string parent_passphrase_file;
};

}  // namespace

void read_new_ca_passphrases(const PassphraseOptions& p, const std::string& parent_file,
                             pki::CaKeyProtection& protection,
                             std::optional<std::string>& parent_passphrase) {
  const auto passphrase = read_passphrase(p);
  protection.passphrase = p.none ? std::nullopt : passphrase;
  protection.plaintext = p.none;
  parent_passphrase =
      parent_file.empty() ? passphrase : read_passphrase(PassphraseOptions{parent_file, false});
}

namespace {

Exit run_issue_ca(const IssueCaOptions& o, const GlobalOptions& g) {
  pki::IssuingCaOptions opts;
  opts.name = o.name;
  opts.parent = o.parent;
  pki::validate_ca_name(opts.name);
  opts.subject = pki::DistinguishedName::parse(o.subject);
  opts.key = pki::parse_key_algorithm(o.key);
  opts.profile = o.profile;
  if (!o.validity.empty()) opts.validity = pki::parse_duration(o.validity);
  read_new_ca_passphrases(o.passphrase, o.parent_passphrase_file, opts.protection,
                          opts.parent_passphrase);
  opts.actor = "devpki-ca";

  pki::Home home = pki::Home::open(resolve_home(g));
  const pki::CreatedCa made = pki::create_issuing_ca(home, opts, pki::SystemClock{});
  const pki::CaRecord& rec = made.record;
  for (const auto& f : made.warnings.items())
    warn("devpki-ca", f.message);
  if (o.passphrase.none) {
    warn("devpki-ca", "the key of CA '" + rec.name +
                          "' is stored unencrypted (--no-passphrase); do not use it in production");
  }
  if (g.json) {
    std::cout << ca_json(rec) << "\n";
  } else {
    std::cout << "created CA '" << rec.name << "' under '" << rec.parent << "'\n" << ca_text(rec);
  }
  return Exit::ok;
}

}  // namespace

Command add_issue_ca(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<IssueCaOptions>();
  CLI::App* cmd =
      app.add_subcommand("issue-ca",
                         "Create an issuing CA signed by --parent. Its validity is clamped to the "
                         "parent's; the parent's "
                         "pathLen and name constraints are honoured. The new key is encrypted with "
                         "the same passphrase "
                         "unless --parent-passphrase-file gives the parent's separately.");
  cmd->add_option("--parent", o->parent, "the signing CA")->required();
  cmd->add_option("--name", o->name, "name of the new CA")->required();
  cmd->add_option("--subject", o->subject, "subject DN, '/O=Acme/CN=Acme Factory CA'")->required();
  cmd->add_option("--key", o->key,
                  "key algorithm: ec-p256, ec-p384, ed25519, rsa-2048, rsa-3072, rsa-4096")
      ->capture_default_str();
  cmd->add_option("--validity", o->validity, "lifetime, e.g. 10y (default: the profile's)");
  cmd->add_option("--profile", o->profile, "CA profile in <home>/profiles/")->capture_default_str();
  add_passphrase_options(*cmd, o->passphrase, true);
  cmd->add_option("--parent-passphrase-file", o->parent_passphrase_file,
                  "passphrase of the parent's key, when it differs")
      ->type_name("FILE");
  return {cmd, [o, &g] { return run_issue_ca(*o, g); }};
}

}  // namespace devpki::ca
