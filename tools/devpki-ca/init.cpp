// devpki-ca init: a new home with a self-signed root CA.
#include <iostream>
#include <memory>

#include "devpki-ca/commands.hpp"
#include "devpki-ca/render.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"

namespace devpki::ca {

namespace {

struct InitOptions {
  std::string name = "root";
  std::string subject;
  std::string key = "ec-p384";
  std::string validity;
  std::string profile = "root-ca";
  std::string profiles;
  std::string base_url;
  PassphraseOptions passphrase;
};

Exit run_init(const InitOptions& o, const GlobalOptions& g) {
  // Everything the user typed is checked before the home is created.
  pki::RootOptions root;
  root.name = o.name;
  pki::validate_ca_name(root.name);
  root.subject = pki::DistinguishedName::parse(o.subject);
  root.key = pki::parse_key_algorithm(o.key);
  root.profile = o.profile;
  if (!o.validity.empty()) root.validity = pki::parse_duration(o.validity);
  root.protection.passphrase = read_passphrase(o.passphrase);
  root.protection.plaintext = o.passphrase.none;
  if (root.protection.passphrase && o.passphrase.none) {
    throw pki::Error(
        pki::ErrorCode::invalid_input,
        "--no-passphrase contradicts the passphrase from --passphrase-file or DEVPKI_PASSPHRASE");
  }
  root.actor = "devpki-ca";

  const auto dir = resolve_home(g);
  const bool created = !pki::Home::exists(dir);
  const bool dir_existed = std::filesystem::exists(dir);
  if (!created && !o.base_url.empty()) {
    throw pki::Error(pki::ErrorCode::invalid_input,
                     "--base-url applies when init creates a home; '" + dir.string() +
                         "' exists (edit variables.base_url in its devpki.yaml)");
  }
  pki::HomeSettings settings;
  if (!o.base_url.empty()) settings.variables["base_url"] = o.base_url;
  pki::Home home = created ? pki::Home::create(dir, shipped_profiles_dir(o.profiles), settings)
                           : pki::Home::open(dir);
  pki::CreatedCa made;
  try {
    made = pki::create_root(home, root, pki::SystemClock{});
  } catch (...) {
    if (created) {
      // A failed init leaves no home behind, and no directory it did not find.
      std::error_code ec;
      if (dir_existed) {
        for (const auto& e : std::filesystem::directory_iterator(dir, ec))
          std::filesystem::remove_all(e.path(), ec);
      } else {
        std::filesystem::remove_all(dir, ec);
      }
    }
    throw;
  }
  const pki::CaRecord& rec = made.record;
  for (const auto& f : made.warnings.items())
    warn("devpki-ca", f.message);
  if (o.passphrase.none) {
    warn("devpki-ca", "the key of CA '" + rec.name + "' is stored unencrypted in " +
                          home.keys_dir().string() +
                          " (--no-passphrase); do not use it in production");
  }
  if (g.json) {
    std::cout << ca_json(rec) << "\n";
  } else {
    std::cout << "created root CA '" << rec.name << "' in " << home.root().string() << "\n"
              << ca_text(rec);
  }
  return Exit::ok;
}

}  // namespace

Command add_init(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<InitOptions>();
  CLI::App* cmd = app.add_subcommand(
      "init",
      "Create a PKI home (if it does not exist) with a self-signed root CA. The key is stored as "
      "encrypted "
      "PKCS#8 in <home>/keys/, the certificate and an audit record in the store.");
  cmd->add_option("--name", o->name, "name of the root CA in this home")->capture_default_str();
  cmd->add_option("--subject", o->subject,
                  "subject DN, '/O=Acme/CN=Acme Root CA' or 'CN=Acme Root CA,O=Acme'")
      ->required();
  cmd->add_option("--key", o->key,
                  "key algorithm: ec-p256, ec-p384, ed25519, rsa-2048, rsa-3072, rsa-4096")
      ->capture_default_str();
  cmd->add_option("--validity", o->validity, "lifetime, e.g. 20y (default: the profile's)");
  cmd->add_option("--profile", o->profile, "CA profile in <home>/profiles/")->capture_default_str();
  cmd->add_option("--base-url", o->base_url,
                  "with a new home: devpki.yaml variables.base_url, for {base_url} in profile URL "
                  "templates (e.g. http://pki.acme.example)")
      ->type_name("URL");
  cmd->add_option("--profiles", o->profiles, "copy profiles from this directory into a new home")
      ->type_name("DIR");
  add_passphrase_options(*cmd, o->passphrase, true);
  return {cmd, [o, &g] { return run_init(*o, g); }};
}

}  // namespace devpki::ca
