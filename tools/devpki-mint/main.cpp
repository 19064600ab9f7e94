#include "devpki-mint/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "devpki-mint: issue device certificates in batches on the factory line: thousands to\n"
      "millions in one run, recorded in the PKI home's store, crash-safe and resumable.\n"
      "Keys are generated here (--count with --id-pattern, or --ids CSV), or on the devices\n"
      "(--csrs: their CSRs are signed after the proof-of-possession check).\n\n"
      "  devpki-mint --ca CA --profile P --count N --id-pattern PATTERN [--start 1] --out DIR\n"
      "  devpki-mint --ca CA --profile P --ids devices.csv --out DIR\n"
      "  devpki-mint --ca CA --profile P --csrs DIR|FILE.jsonl --out DIR\n"
      "  devpki-mint --resume ID\n"
      "  devpki-mint batches\n"
      "with [--home DIR] [--json] anywhere and the options below.",
      "devpki-mint"};
  app.footer(
      "Modes:\n"
      "  --count N --id-pattern 'ACME-{seq:08}'  keys generated here; ids ACME-00000001, ...\n"
      "                                          ({seq} unpadded, {seq:0N} zero-padded to N "
      "digits;\n"
      "                                          the first is --start)\n"
      "  --ids FILE.csv                          keys generated here; a header line with a\n"
      "                                          device_id column; other columns are per-device\n"
      "                                          subject variables\n"
      "  --csrs DIR|FILE.jsonl                   keys generated on the devices: *.csr/*.pem/*.der\n"
      "                                          files (device id = file name) or JSONL lines\n"
      "                                          {\"device_id\":\"...\",\"csr\":\"<PEM>\"}; a bad "
      "CSR\n"
      "                                          rejects that device only (rejects.jsonl, exit 3)\n"
      "Formats (--format, written to --out DIR, which must not exist or be empty):\n"
      "  jsonl  devices.jsonl (0600), one line per device: id, serial, cert PEM, key PEM\n"
      "  pem    DIR/<device_id>/key.pem (0600), cert.pem, chain.pem\n"
      "  p12    DIR/<device_id>.p12 (AES-256; password from --p12-passphrase-file; not with "
      "--csrs)\n"
      "  always chain.pem, manifest.jsonl (no private keys), rejects.jsonl, SHA256SUMS\n"
      "Batches: every batch has an id (--batch-id, else <ca>-<UTC time>-<4 hex>) and a state\n"
      "(running, complete) in the store. After a crash or kill -9, `devpki-mint --resume ID`\n"
      "reconciles what was delivered and finishes the batch; resuming a complete batch issues\n"
      "nothing. Device ids that repeat in the input, or already hold a live certificate from\n"
      "this CA under this profile, refuse the whole batch before anything is signed (--reissue\n"
      "allows the latter). `devpki-mint batches` lists the batches and their state.\n"
      "Speed: --threads N signs on N threads; N = the number of cores is the fast setting.\n"
      "Progress (count, rate, ETA) is drawn on stderr when it is a terminal and not --json.\n"
      "Exit codes: 0 success, 1 usage, 2 failure (a refused batch writes nothing; a created\n"
      "batch that fails stays resumable), 3 partial (complete, with rejected devices).\n"
      "Docs: docs/devpki-mint.md");
  devpki::GlobalOptions g;
  devpki::add_global_options(app, g);
  devpki::mint::MintOptions o;
  devpki::mint::add_mint_options(app, o);
  app.require_subcommand(0, 1);
  const devpki::Command batches = devpki::mint::add_batches(app, g);
  app.callback([&] { devpki::mint::check_usage(o, batches.app->parsed()); });
  return devpki::run_main(app, argc, argv, [&] {
    if (batches.app->parsed()) return batches.run();
    return devpki::mint::run_mint(o, g);
  });
}
