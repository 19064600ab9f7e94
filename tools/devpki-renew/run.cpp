// devpki-renew run: renew what is due as a batch (or --resume one), or show
// what a run would do (--dry-run).
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/batch_render.hpp"
#include "common/progress.hpp"
#include "devpki-renew/commands.hpp"
#include "devpki-renew/render.hpp"
#include "pki/error.hpp"
#include "pki/home.hpp"
#include "pki/renewal.hpp"

namespace devpki::renew {

pki::RenewalSelector make_selector(const SelectorOptions& s);

namespace {

struct RunOptions {
  SelectorOptions select;
  std::string out;
  std::string format = "jsonl";
  std::string csrs;
  bool dry_run = false;
  std::string batch_id;
  std::string resume;
  unsigned threads = 1;
  std::size_t chunk = 1000;
  PassphraseOptions passphrase;
  std::vector<CLI::Option*> new_run_opts;
  CLI::Option* threads_opt = nullptr;
};

void print_preview(const pki::RenewPreview& pv) {
  if (pv.items.empty()) {
    std::cout << "nothing is due";
    if (pv.plan.horizon != pv.plan.at) std::cout << " by " << pki::format_time(pv.plan.horizon);
    std::cout << "; a run would issue nothing\n";
    return;
  }
  std::size_t renew = 0;
  std::size_t dev_w = 8;
  for (const auto& it : pv.items) {
    if (it.action != pki::RenewAction::refuse) ++renew;
    dev_w = std::max(dev_w, it.device_id.size() + 2);
  }
  std::cout << "dry run: " << pv.target_ca << " would renew " << format_count(renew) << " of "
            << format_count(pv.items.size()) << " under profile " << pv.profile
            << " (nothing was written)\n";
  const auto w = [](std::size_t n) { return std::setw(static_cast<int>(n)); };
  std::cout << std::left << w(8) << "#" << w(dev_w) << "DEVICE" << w(16) << "ACTION"
            << "CERTIFICATE / WHY\n";
  for (const auto& it : pv.items) {
    std::cout << w(8) << it.index + 1 << w(dev_w) << it.device_id << w(16)
              << pki::to_string(it.action);
    if (it.action == pki::RenewAction::refuse) {
      std::cout << it.reason;
    } else {
      std::cout << it.old_issuer << "/" << it.old_serial;
    }
    std::cout << "\n";
  }
}

Exit run_run(RunOptions& o, const GlobalOptions& g) {
  const bool resuming = !o.resume.empty();
  pki::RenewRequest req;
  if (!resuming) {
    req.select = make_selector(o.select);
    req.out = o.out;
    req.format = pki::parse_batch_format(o.format);
    req.csrs = o.csrs;
    req.batch_id = o.batch_id;
    req.threads = o.threads;
    req.chunk = o.chunk;
  }
  pki::Home home = pki::Home::open(resolve_home(g));
  const pki::SystemClock clock;
  if (o.dry_run) {
    const pki::RenewPreview pv = pki::preview_renewal(home, req, clock.now());
    if (g.json) {
      std::cout << preview_json(pv) << "\n";
    } else {
      print_preview(pv);
    }
    return Exit::ok;
  }

  if (resuming) {
    // resume_batch finishes any batch; a mint batch belongs to devpki-mint.
    const auto b = home.store().find_batch(o.resume);
    if (b && nlohmann::json::parse(b->params, nullptr, false).value("source", "") != "renewal") {
      throw pki::Error(pki::ErrorCode::invalid_input,
                       "batch " + o.resume +
                           " is not a renewal batch; finish it with `devpki-mint --resume " +
                           o.resume + "`");
    }
  }
  pki::BatchSecrets secrets;
  secrets.ca_passphrase = read_passphrase(o.passphrase);
  ProgressBar bar(!g.json && ProgressBar::stderr_is_terminal());
  const pki::ProgressFn progress = [&bar](const pki::BatchProgress& p) { bar.update(p); };
  pki::BatchResult res;
  try {
    res = resuming ? pki::resume_batch(home, o.resume, secrets, clock,
                                       o.threads_opt->count() > 0 ? o.threads : 0, progress)
                   : pki::run_renewal(home, req, secrets, clock, progress);
  } catch (...) {
    bar.clear();
    throw;
  }
  bar.clear();

  for (const auto& f : res.warnings.items())
    warn("devpki-renew", f.message);
  if (res.batch_id.empty()) {  // nothing due: no batch
    if (g.json) {
      std::cout << summary_json(res, 0) << "\n";
    } else {
      std::cout << "devpki-renew: nothing is due";
      if (req.select.within.count() != 0) std::cout << " within " << o.select.within;
      std::cout << "; no batch was created\n";
    }
    return Exit::ok;
  }
  const std::uint64_t rejected_total = home.store().batch_rejects(res.batch_id).size();
  if (g.json) {
    std::cout << summary_json(res, rejected_total) << "\n";
  } else {
    std::cout << summary_text(res, "devpki-renew") << "\n";
    if (rejected_total != 0) {
      warn("devpki-renew", std::to_string(rejected_total) + " position" +
                               (rejected_total == 1 ? "" : "s") + " of batch " + res.batch_id +
                               " refused: see " + (res.out / "rejects.jsonl").string());
    }
  }
  if (res.state != pki::BatchState::complete) return Exit::failure;
  return rejected_total != 0 ? Exit::partial : Exit::ok;
}

}  // namespace

Command add_run(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Renew what `plan` lists as due, as one batch (one issuing CA and one profile): new "
      "certificates to --out, the old ones superseded. --dry-run shows what it would do.");
  const std::string select = "Selection";
  const std::string output = "Output";
  const std::string running = "Run";
  add_selector_options(*cmd, o->select);
  for (const char* name : {"--within", "--ca", "--profile", "--batch"})
    cmd->get_option(name)->group(select);
  auto* out = cmd->add_option("--out", o->out, "output directory; must not exist or be empty")
                  ->type_name("DIR")
                  ->group(output);
  auto* format = cmd->add_option("--format", o->format,
                                 "jsonl (devices.jsonl) or pem (a directory per device); no p12: "
                                 "a renewal makes no private key")
                     ->type_name("FORMAT")
                     ->capture_default_str()
                     ->group(output);
  auto* csrs = cmd->add_option("--csrs", o->csrs,
                               "new CSRs for re-keying, matched by device id: a directory "
                               "(*.csr, *.pem, *.der; device id = file name) or a JSONL file of "
                               "{\"device_id\":..,\"csr\":\"<PEM>\"} lines")
                   ->type_name("DIR|FILE.jsonl")
                   ->group(select);
  auto* dry = cmd->add_flag("--dry-run", o->dry_run,
                            "show each position (renew with the kept key, with a new key, or "
                            "refuse and why) and write nothing")
                  ->group(running);
  auto* batch_id =
      cmd->add_option("--batch-id", o->batch_id,
                      "the batch's id (must be new); default <ca>-renew-<UTC time>-<4 hex>")
          ->type_name("ID")
          ->group(running);
  auto* chunk = cmd->add_option("--chunk", o->chunk, "advanced: positions per store transaction")
                    ->type_name("N")
                    ->capture_default_str()
                    ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))
                    ->group(running);
  auto* resume = cmd->add_option("--resume", o->resume,
                                 "finish the renewal batch ID after a crash or kill (as "
                                 "devpki-mint --resume)")
                     ->type_name("ID")
                     ->group(running);
  o->threads_opt =
      cmd->add_option("--threads", o->threads, "signing threads (the number of cores is fastest)")
          ->type_name("N")
          ->check(CLI::Range(1u, 256u))
          ->group(running);
  add_passphrase_options(*cmd, o->passphrase, false);
  o->new_run_opts = {cmd->get_option("--within"),
                     cmd->get_option("--ca"),
                     cmd->get_option("--profile"),
                     cmd->get_option("--batch"),
                     out,
                     format,
                     csrs,
                     dry,
                     batch_id,
                     chunk};
  for (auto* opt : o->new_run_opts)
    resume->excludes(opt);
  cmd->callback([o] {
    if (!o->resume.empty() || o->dry_run) return;
    if (o->out.empty()) {
      throw CLI::ValidationError("--out DIR is required (or --dry-run, or --resume ID)");
    }
  });
  return {cmd, [o, &g] { return run_run(*o, g); }};
}

}  // namespace devpki::renew
