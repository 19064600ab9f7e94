// devpki-ca trust: the CA certificates this home trusts beyond its own
// hierarchy. Today one purpose, bootstrap: the manufacturer CAs whose IDevIDs
// devpki-provision enroll exchanges for operational certificates.
#include <iomanip>
#include <iostream>
#include <memory>

#include "devpki-ca/commands.hpp"
#include "pki/error.hpp"
#include "pki/trust.hpp"

namespace devpki::ca {

namespace {

struct TrustOptions {
  bool bootstrap = false;
  std::string file;
  std::string ca;
  std::string name;
};

std::string anchor_json(const pki::TrustAnchorRecord& a) {
  return "{\"name\":" + json_string(a.name) + ",\"purpose\":" + json_string(a.purpose) +
         ",\"subject\":" + json_string(a.subject) + ",\"sha256\":" + json_string(a.sha256) +
         ",\"not_before\":" + json_string(pki::format_time(a.not_before)) +
         ",\"not_after\":" + json_string(pki::format_time(a.not_after)) +
         ",\"source\":" + json_string(a.source) +
         ",\"added_at\":" + json_string(pki::format_time(a.added_at)) + "}";
}

Exit run_add(const TrustOptions& o, const GlobalOptions& g) {
  if (!o.bootstrap) {
    throw pki::Error(pki::ErrorCode::invalid_input,
                     "say what the CA is trusted for: --bootstrap (the only purpose today)");
  }
  if (o.file.empty() == o.ca.empty()) {
    throw pki::Error(pki::ErrorCode::invalid_input,
                     "give either a CA certificate file (trust add --bootstrap CA.pem) or a CA "
                     "of this home (--ca NAME)");
  }
  pki::Home home = pki::Home::open(resolve_home(g));
  const pki::SystemClock clock;
  const pki::TrustAnchorRecord a =
      o.file.empty() ? pki::add_bootstrap_ca(home, o.ca, o.name, clock, "devpki-ca")
                     : pki::add_bootstrap_anchor(home, pki::Certificate::load(o.file), o.name,
                                                 "file:" + o.file, clock, "devpki-ca");
  if (g.json) {
    std::cout << anchor_json(a) << "\n";
  } else {
    std::cout << "trusted for bootstrap: " << a.name << "\n"
              << "  subject  " << a.subject << "\n"
              << "  sha256   " << a.sha256 << "\n"
              << "  valid    " << pki::format_time(a.not_before) << " .. "
              << pki::format_time(a.not_after) << "\n";
  }
  return Exit::ok;
}

Exit run_list(const GlobalOptions& g) {
  pki::Home home = pki::Home::open(resolve_home(g));
  const auto anchors = home.store().list_trust_anchors();
  if (g.json) {
    std::cout << "[";
    for (std::size_t i = 0; i < anchors.size(); ++i)
      std::cout << (i ? "," : "") << anchor_json(anchors[i]);
    std::cout << "]\n";
    return Exit::ok;
  }
  if (anchors.empty()) {
    std::cout << "no trust anchors (devpki-ca trust add --bootstrap CA.pem adds one)\n";
    return Exit::ok;
  }
  std::size_t w = 4;
  for (const auto& a : anchors)
    w = std::max(w, a.name.size());
  std::cout << std::left << std::setw(static_cast<int>(w)) << "NAME"
            << "  PURPOSE    NOT AFTER             SHA-256 (first 16)  SUBJECT\n";
  for (const auto& a : anchors) {
    std::cout << std::left << std::setw(static_cast<int>(w)) << a.name << "  " << std::setw(9)
              << a.purpose << "  " << std::setw(20) << pki::format_time(a.not_after) << "  "
              << std::setw(18) << a.sha256.substr(0, 16) << "  " << a.subject << "\n";
  }
  return Exit::ok;
}

Exit run_remove(const std::string& name, const GlobalOptions& g) {
  pki::Home home = pki::Home::open(resolve_home(g));
  pki::remove_trust_anchor(home, name, pki::SystemClock{}, "devpki-ca");
  if (g.json) {
    std::cout << "{\"removed\":" << json_string(name) << "}\n";
  } else {
    std::cout << "no longer trusted: " << name << "\n";
  }
  return Exit::ok;
}

}  // namespace

Command add_trust(CLI::App& app, const GlobalOptions& g) {
  CLI::App* cmd = app.add_subcommand(
      "trust",
      "Manage the CA certificates this home trusts beyond its own hierarchy: bootstrap anchors, "
      "the manufacturer CAs whose device identities (IDevIDs) devpki-provision enroll exchanges "
      "for operational certificates.");
  cmd->require_subcommand(1);

  auto o = std::make_shared<TrustOptions>();
  CLI::App* add = cmd->add_subcommand(
      "add",
      "Trust a CA certificate for bootstrap: a PEM/DER file (a manufacturer CA, possibly from "
      "another home), or --ca NAME for a CA of this home. It must be a CA certificate "
      "(basicConstraints cA, keyCertSign) valid now.");
  add->add_flag("--bootstrap", o->bootstrap,
                "trust it for the bootstrap exchange (devpki-provision enroll); required");
  add->add_option("file", o->file, "the CA certificate (PEM or DER)")->type_name("CA.pem");
  add->add_option("--ca", o->ca, "a CA of this home instead of a file")->type_name("NAME");
  add->add_option("--name", o->name,
                  "the anchor's name (default: the CA name with --ca, else from the subject CN)")
      ->type_name("NAME");

  CLI::App* list = cmd->add_subcommand("list", "List the trust anchors (--json for scripts).");

  auto remove_name = std::make_shared<std::string>();
  CLI::App* remove = cmd->add_subcommand(
      "remove", "Stop trusting an anchor: IDevIDs that chain only to it are refused from now on.");
  remove->add_option("name", *remove_name, "the anchor's name (devpki-ca trust list)")->required();

  return {cmd, [=, &g] {
            if (add->parsed()) return run_add(*o, g);
            if (list->parsed()) return run_list(g);
            if (remove->parsed()) return run_remove(*remove_name, g);
            throw pki::Error(pki::ErrorCode::internal, "no trust subcommand was selected");
          }};
}

}  // namespace devpki::ca
