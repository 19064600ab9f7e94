// devpki-provision jitp: just-in-time provisioning. A template registers the
// device a certificate belongs to, with attributes from its fields, the
// first time the certificate is seen (pki/jitp.hpp).
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "devpki-provision/commands.hpp"
#include "pki/error.hpp"
#include "pki/jitp.hpp"

namespace devpki::provision {

namespace {

struct JitpOptions {
  std::string tmpl;
  std::string cert;
  bool dry_run = false;
  ChainInputs chain;
};

Exit run_jitp(const JitpOptions& o, const GlobalOptions& g) {
  const pki::JitpTemplate t = pki::load_jitp_template(o.tmpl);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(o.cert, ec)) {
    throw pki::Error(pki::ErrorCode::not_found, "cannot read certificate file '" + o.cert + "'");
  }
  pki::JitpRequest req{pki::Certificate::load(o.cert), read_chain(o.chain), read_crls(o.chain),
                       o.dry_run, "devpki-provision"};
  pki::Home home = pki::Home::open(resolve_home(g));
  const pki::JitpResult r = pki::apply_jitp(home, t, req, pki::SystemClock{});
  if (g.json) {
    nlohmann::json j{{"outcome", std::string(pki::to_string(r.outcome))},
                     {"dry_run", o.dry_run},
                     {"device_id", r.device_id},
                     {"attributes", r.attributes},
                     {"template", t.name},
                     {"certificate_sha256", r.verified.cert.fingerprint_sha256_hex()},
                     {"anchor_subject", r.verified.anchor_subject},
                     {"revocation_checked_in", r.verified.revocation_source},
                     {"conditions", r.conditions}};
    std::cout << j.dump() << "\n";
    return Exit::ok;
  }
  std::string attrs;
  for (const auto& [k, v] : r.attributes) {
    attrs += attrs.empty() ? "" : ", ";
    attrs += k + "=" + v;
  }
  const bool registered = r.outcome == pki::RegisterOutcome::registered;
  std::cout << (o.dry_run ? (registered ? "would register" : "would leave unchanged")
                          : (registered ? "registered" : "unchanged"))
            << ": device " << r.device_id << " (" << attrs << ")\n"
            << "  template    " << t.name << " (" << t.file << ")\n"
            << "  certificate " << r.verified.cert.subject().to_string() << ", chains to "
            << r.verified.anchor_subject << "\n"
            << "  conditions  " << r.conditions.size() << " held\n";
  if (!registered && !o.dry_run) {
    std::cout << "  (registered before by template " << r.device.registered_by
              << " with the same attributes: nothing written)\n";
  }
  return Exit::ok;
}

}  // namespace

Command add_jitp(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<JitpOptions>();
  CLI::App* cmd = app.add_subcommand(
      "jitp",
      "Just-in-time provisioning: apply a template (YAML: trusted CAs, conditions on the "
      "certificate's fields, how fields map to device attributes) to a device certificate. The "
      "first time, the device is registered with those attributes; again, nothing changes. A "
      "certificate failing a condition is refused with the condition that failed.");
  cmd->add_option("--template", o->tmpl, "the template (see templates/fleet.yaml)")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--cert", o->cert, "the device certificate (PEM or DER)")
      ->required()
      ->type_name("FILE");
  cmd->add_flag("--dry-run", o->dry_run, "check and map, write nothing (not even the audit log)");
  add_chain_options(*cmd, o->chain);
  return {cmd, [o, &g] { return run_jitp(*o, g); }};
}

}  // namespace devpki::provision
