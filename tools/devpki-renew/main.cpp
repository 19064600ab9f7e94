#include "devpki-renew/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "devpki-renew: find the device certificates that rotation policy (the rotation:\n"
      "section of their profile) says are due, and renew them before they expire.\n\n"
      "  devpki-renew plan [--within 30d] [--ca CA] [--profile P] [--batch ID] [--at TIME]\n"
      "  devpki-renew run  [same selectors] --out DIR [--format jsonl|pem] [--csrs "
      "DIR|FILE.jsonl]\n"
      "                    [--dry-run] [--batch-id ID]\n"
      "  devpki-renew run --resume ID\n"
      "with [--home DIR] [--json] anywhere.",
      "devpki-renew"};
  app.footer(
      "A renewed certificate keeps the old one's subject (the device's identity; a CSR with\n"
      "another subject is refused) and gets the profile's extensions and validity as they are\n"
      "now; with the kept key it keeps its SANs, with a new CSR it gets the SANs the profile\n"
      "allows, as at enrollment. rotation.rekey says whose\n"
      "key it certifies: forbidden and allowed keep the device's key (allowed also takes a\n"
      "new CSR from --csrs); required needs a new CSR with a new key for every device. The old\n"
      "certificate is marked superseded when the new one is committed, and revoked with reason\n"
      "superseded when the profile says revoke_superseded: true. After `devpki-ca rollover`\n"
      "the successor CA issues the renewals of the old CA's certificates.\n"
      "A run is a batch (as devpki-mint's): same outputs, manifest, rejects.jsonl, crash\n"
      "safety and --resume. Revoked, decommissioned and past-grace certificates are refused\n"
      "with the reason in rejects.jsonl; nothing is issued for them.\n"
      "Exit codes: 0 success (also: nothing due), 1 usage, 2 failure, 3 partial (some\n"
      "positions refused).\n"
      "Docs: docs/devpki-renew.md");
  devpki::GlobalOptions g;
  devpki::add_global_options(app, g);
  app.require_subcommand(1);
  const std::vector<devpki::Command> commands = {
      devpki::renew::add_plan(app, g),
      devpki::renew::add_run(app, g),
  };
  return devpki::run_main(app, argc, argv, [&] { return devpki::dispatch(commands); });
}
