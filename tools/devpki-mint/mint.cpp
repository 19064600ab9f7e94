// devpki-mint's batch run: a new batch (--count, --ids or --csrs) or --resume ID.
#include <iostream>
#include <string>

#include "common/batch_render.hpp"
#include "common/progress.hpp"
#include "devpki-mint/commands.hpp"
#include "pki/batch.hpp"
#include "pki/error.hpp"
#include "pki/home.hpp"
#include "pki/key.hpp"

namespace devpki::mint {

void add_mint_options(CLI::App& app, MintOptions& o) {
  const std::string batch = "New batch";
  const std::string output = "Output";
  const std::string run = "Run";

  auto* ca =
      app.add_option("--ca", o.ca, "issuing CA (a CA of this home)")->type_name("CA")->group(batch);
  auto* profile = app.add_option("--profile", o.profile,
                                 "end-entity profile in <home>/profiles/ (device-idevid, ...)")
                      ->group(batch);
  o.count_opt = app.add_option("--count", o.count,
                               "mode 1: this many devices, keys generated here; needs --id-pattern")
                    ->type_name("N")
                    ->group(batch);
  auto* pattern =
      app.add_option("--id-pattern", o.id_pattern,
                     "device ids for --count: {seq} (or {seq:0N}, zero-padded to N digits) is "
                     "replaced by --start, --start+1, ...; e.g. 'ACME-{seq:08}'")
          ->type_name("PATTERN")
          ->group(batch);
  auto* start = app.add_option("--start", o.start, "first {seq} value for --count")
                    ->type_name("N")
                    ->capture_default_str()
                    ->group(batch);
  o.ids_opt = app.add_option("--ids", o.ids,
                             "mode 2: a CSV file with a header; column device_id required, other "
                             "columns are subject variables for that device; keys generated here")
                  ->type_name("FILE.csv")
                  ->group(batch);
  o.csrs_opt = app.add_option("--csrs", o.csrs,
                              "mode 3: keys generated on the devices: a directory of CSR files "
                              "(*.csr, *.pem, *.der; device id = file name) or a JSONL file of "
                              "{\"device_id\":..,\"csr\":\"<PEM>\"} lines")
                   ->type_name("DIR|FILE.jsonl")
                   ->group(batch);
  auto* key = app.add_option("--key", o.key,
                             "key algorithm for keys generated here: ec-p256, ec-p384, ed25519, "
                             "rsa-2048, rsa-3072, rsa-4096 (must be in the profile's keys)")
                  ->type_name("ALG")
                  ->capture_default_str()
                  ->group(batch);
  auto* vars =
      app.add_option("--var", o.vars, "subject variable NAME=VALUE for every device (repeatable)")
          ->type_name("NAME=VALUE")
          ->group(batch);
  auto* reissue = app.add_flag("--reissue", o.reissue,
                               "allow device ids that already hold a live certificate from this "
                               "CA under this profile (refused otherwise)")
                      ->group(batch);
  auto* allow_decommissioned =
      app.add_flag("--allow-decommissioned", o.allow_decommissioned,
                   "allow device ids that devpki-decommission retired (refused otherwise)")
          ->group(batch);
  auto* batch_id = app.add_option("--batch-id", o.batch_id,
                                  "the batch's id (must be new); default <ca>-<UTC "
                                  "yyyymmddThhmmss>-<4 hex>")
                       ->type_name("ID")
                       ->group(batch);
  auto* chunk = app.add_option("--chunk", o.chunk,
                               "advanced: devices per store transaction (reserve and commit); "
                               "fewer redo less after a crash, more are faster")
                    ->type_name("N")
                    ->capture_default_str()
                    ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))
                    ->group(batch);

  auto* out = app.add_option("--out", o.out, "output directory; must not exist or be empty")
                  ->type_name("DIR")
                  ->group(output);
  o.format_opt = app.add_option("--format", o.format,
                                "jsonl (devices.jsonl), pem (a directory per device) or p12 (a "
                                "PKCS#12 file per device)")
                     ->type_name("FORMAT")
                     ->capture_default_str()
                     ->group(output);
  app.add_option("--p12-passphrase-file", o.p12_passphrase_file,
                 "file whose first line is the PKCS#12 password (required with --format p12; "
                 "give it again with --resume)")
      ->type_name("FILE")
      ->group(output);

  auto* resume = app.add_option("--resume", o.resume,
                                "finish the batch ID after a crash or kill (reconciles what was "
                                "delivered, then issues the rest); a complete batch issues nothing")
                     ->type_name("ID")
                     ->group(run);
  o.threads_opt = app.add_option("--threads", o.threads,
                                 "signing threads (default 1; the number of cores is the fast "
                                 "setting); with --resume the batch's own setting unless given")
                      ->type_name("N")
                      ->check(CLI::Range(1u, 256u))
                      ->group(run);
  add_passphrase_options(app, o.passphrase, false);
  if (auto* pf = app.get_option_no_throw("--passphrase-file")) pf->group(run);

  o.count_opt->excludes(o.ids_opt)->excludes(o.csrs_opt)->needs(pattern);
  o.ids_opt->excludes(o.csrs_opt);
  pattern->needs(o.count_opt);
  start->needs(o.count_opt);
  o.new_batch_opts = {ca,        profile,    o.count_opt, pattern,      start,
                      o.ids_opt, o.csrs_opt, key,         vars,         reissue,
                      batch_id,  chunk,      out,         o.format_opt, allow_decommissioned};
  for (auto* opt : o.new_batch_opts)
    resume->excludes(opt);
  o.run_opts = o.new_batch_opts;
  o.run_opts.push_back(resume);
  o.run_opts.push_back(o.threads_opt);
  o.run_opts.push_back(app.get_option("--p12-passphrase-file"));
  o.run_opts.push_back(app.get_option("--passphrase-file"));
}

void check_usage(const MintOptions& o, bool listing) {
  if (listing) {
    for (const auto* opt : o.run_opts) {
      if (opt->count() > 0) {
        throw CLI::ValidationError(
            opt->get_name() + " belongs to a batch run: `batches` takes only --home and --json");
      }
    }
    return;
  }
  if (!o.resume.empty()) return;  // --resume excludes the rest (CLI11)
  if (o.count_opt->count() == 0 && o.ids_opt->count() == 0 && o.csrs_opt->count() == 0) {
    throw CLI::ValidationError(
        "a new batch needs one of --count N (with --id-pattern), --ids FILE.csv or --csrs "
        "DIR|FILE.jsonl; or --resume ID to finish one (see --help)");
  }
  if (o.ca.empty()) throw CLI::ValidationError("--ca CA is required for a new batch");
  if (o.profile.empty()) throw CLI::ValidationError("--profile P is required for a new batch");
  if (o.out.empty()) throw CLI::ValidationError("--out DIR is required for a new batch");
  if (o.format == "p12") {
    if (o.csrs_opt->count() > 0) {
      throw CLI::ValidationError(
          "--format p12 bundles the private key, which stays on the device with --csrs: use "
          "--format pem or jsonl");
    }
    if (o.p12_passphrase_file.empty()) {
      throw CLI::ValidationError(
          "--format p12 needs --p12-passphrase-file FILE (the PKCS#12 password)");
    }
  } else if (!o.p12_passphrase_file.empty()) {
    throw CLI::ValidationError("--p12-passphrase-file applies only to --format p12");
  }
}

namespace {

pki::BatchRequest make_request(const MintOptions& o) {
  pki::BatchRequest req;
  req.ca = o.ca;
  req.profile = o.profile;
  if (o.count_opt->count() > 0) {
    req.source = pki::BatchSource::count;
    req.count = o.count;
    req.id_pattern = o.id_pattern;
    req.start = o.start;
  } else if (o.ids_opt->count() > 0) {
    req.source = pki::BatchSource::ids;
    req.input = o.ids;
  } else {
    req.source = pki::BatchSource::csrs;
    req.input = o.csrs;
  }
  req.out = o.out;
  req.format = pki::parse_batch_format(o.format);
  req.batch_id = o.batch_id;
  req.threads = o.threads;
  req.key = pki::parse_key_algorithm(o.key);
  req.reissue = o.reissue;
  req.allow_decommissioned = o.allow_decommissioned;
  for (const auto& kv : o.vars) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw pki::Error(pki::ErrorCode::invalid_input, "--var '" + kv + "': expected NAME=VALUE");
    }
    req.variables[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  req.chunk = o.chunk;
  req.actor = "devpki-mint";
  return req;
}

}  // namespace

Exit run_mint(const MintOptions& o, const GlobalOptions& g) {
  // Every flag value is checked before the home is touched.
  std::optional<pki::BatchRequest> req;
  if (o.resume.empty()) req = make_request(o);
  pki::BatchSecrets secrets;
  secrets.ca_passphrase = read_passphrase(o.passphrase);
  if (!o.p12_passphrase_file.empty()) {
    secrets.p12_passphrase = read_passphrase(PassphraseOptions{o.p12_passphrase_file, false});
  }

  pki::Home home = pki::Home::open(resolve_home(g));
  ProgressBar bar(!g.json && ProgressBar::stderr_is_terminal());
  const pki::ProgressFn progress = [&bar](const pki::BatchProgress& p) { bar.update(p); };
  const pki::SystemClock clock;
  pki::BatchResult res;
  try {
    res = req ? pki::run_batch(home, *req, secrets, clock, progress)
              : pki::resume_batch(home, o.resume, secrets, clock,
                                  o.threads_opt->count() > 0 ? o.threads : 0, progress);
  } catch (...) {
    bar.clear();  // the error message then starts on a clean line
    throw;
  }
  bar.clear();

  for (const auto& f : res.warnings.items())
    warn("devpki-mint", f.message);
  // Rejects of every run of the batch (a resumed batch reports its earlier ones too).
  const std::uint64_t rejected_total = home.store().batch_rejects(res.batch_id).size();
  if (g.json) {
    std::cout << summary_json(res, rejected_total) << "\n";
  } else {
    std::cout << summary_text(res, "devpki-mint") << "\n";
    if (rejected_total != 0) {
      warn("devpki-mint", std::to_string(rejected_total) + " device" +
                              (rejected_total == 1 ? "" : "s") + " of batch " + res.batch_id +
                              " rejected: see " + (res.out / "rejects.jsonl").string());
    }
  }
  if (res.state != pki::BatchState::complete) return Exit::failure;
  return rejected_total != 0 ? Exit::partial : Exit::ok;
}

}  // namespace devpki::mint
