#include "devpki-ca/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "devpki-ca: create and inspect a device PKI's CA hierarchy and sign single CSRs.\n"
      "Every command works on one PKI home (--home, $DEVPKI_HOME, or ./pki).",
      "devpki-ca"};
  app.footer(
      "Examples:\n"
      "  devpki-ca --home pki init --name root --subject '/O=Acme/CN=Acme Root CA' "
      "--passphrase-file pass.txt\n"
      "  devpki-ca --home pki issue-ca --parent root --name factory --subject '/O=Acme/CN=Acme "
      "Factory CA'\n"
      "  devpki-ca --home pki sign --ca factory --profile device-ldevid --csr dev.csr --device-id "
      "SN123 --out dev.pem\n"
      "  devpki-ca --home pki chain --ca factory --out chain.pem\n"
      "  devpki-ca --home pki revoke --device SN123 --reason keyCompromise\n"
      "  devpki-ca --home pki crl --ca factory --out factory.crl.pem\n"
      "  devpki-ca --home pki crl-status\n"
      "  devpki-ca --home pki rollover --ca factory\n"
      "  devpki-ca --home pki trust add --bootstrap manufacturer-ca.pem\n"
      "Exit codes: 0 success, 1 usage, 2 failure (crl-status: 1 stale, 2 expired or missing).\n"
      "Docs: docs/devpki-ca.md");
  devpki::GlobalOptions g;
  devpki::add_global_options(app, g);
  app.require_subcommand(1);
  const std::vector<devpki::Command> commands = {
      devpki::ca::add_init(app, g),       devpki::ca::add_issue_ca(app, g),
      devpki::ca::add_sign(app, g),       devpki::ca::add_list(app, g),
      devpki::ca::add_show(app, g),       devpki::ca::add_chain(app, g),
      devpki::ca::add_recover(app, g),    devpki::ca::add_revoke(app, g),
      devpki::ca::add_release(app, g),    devpki::ca::add_crl(app, g),
      devpki::ca::add_crl_status(app, g), devpki::ca::add_rollover(app, g),
      devpki::ca::add_trust(app, g),
  };
  return devpki::run_main(app, argc, argv, [&] { return devpki::dispatch(commands); });
}
