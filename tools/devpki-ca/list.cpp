// devpki-ca list: the CAs of this home, or (--certs) issued certificates.
#include <iomanip>
#include <iostream>
#include <memory>

#include "devpki-ca/commands.hpp"
#include "devpki-ca/render.hpp"
#include "pki/certificate.hpp"
#include "pki/home.hpp"

namespace devpki::ca {

namespace {

struct ListOptions {
  bool certs = false;
  std::string ca;
  std::string device;
  std::string profile;
  std::string status;
  std::size_t limit = 0;
};

Exit run_list(const ListOptions& o, const GlobalOptions& g) {
  pki::Home home = pki::Home::open(resolve_home(g));
  if (!o.certs) {
    const auto cas = home.store().list_cas();
    if (g.json) {
      std::cout << "[";
      for (std::size_t i = 0; i < cas.size(); ++i)
        std::cout << (i ? "," : "") << ca_json(cas[i]);
      std::cout << "]\n";
      return Exit::ok;
    }
    if (cas.empty()) {
      std::cout << "no CAs yet (devpki-ca init)\n";
      return Exit::ok;
    }
    std::cout << std::left << std::setw(20) << "NAME" << std::setw(16) << "PARENT" << std::setw(22)
              << "NOT AFTER" << std::setw(9) << "STATUS" << std::setw(20) << "SUCCESSOR"
              << "SUBJECT\n";
    for (const auto& c : cas) {
      std::cout << std::setw(20) << c.name << std::setw(16) << (c.parent.empty() ? "-" : c.parent)
                << std::setw(22) << pki::format_time(c.not_after) << std::setw(9)
                << pki::to_string(c.status) << std::setw(20)
                << (c.successor.empty() ? "-" : c.successor) << c.subject << "\n";
    }
    return Exit::ok;
  }
  pki::CertQuery q;
  if (!o.ca.empty()) q.issuer = o.ca;
  if (!o.device.empty()) q.device_id = o.device;
  if (!o.profile.empty()) q.profile = o.profile;
  if (!o.status.empty()) q.status = pki::parse_cert_status(o.status);
  q.limit = o.limit;
  const auto certs = home.store().find_certs(q);
  if (g.json) {
    std::cout << "[";
    for (std::size_t i = 0; i < certs.size(); ++i)
      std::cout << (i ? "," : "") << cert_json(certs[i]);
    std::cout << "]\n";
    return Exit::ok;
  }
  std::cout << std::left << std::setw(34) << "SERIAL" << std::setw(14) << "CA" << std::setw(18)
            << "DEVICE" << std::setw(16) << "PROFILE" << std::setw(11) << "STATUS"
            << "NOT AFTER\n";
  for (const auto& c : certs) {
    std::cout << std::setw(34) << c.serial_hex << std::setw(14) << c.issuer << std::setw(18)
              << (c.device_id.empty() ? "-" : c.device_id) << std::setw(16) << c.profile
              << std::setw(11) << pki::to_string(c.status) << pki::format_time(c.not_after) << "\n";
  }
  return Exit::ok;
}

}  // namespace

Command add_list(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<ListOptions>();
  CLI::App* cmd = app.add_subcommand(
      "list", "List the CAs of this home, or with --certs the certificates issued.");
  cmd->add_flag("--certs", o->certs, "list issued certificates instead of CAs");
  cmd->add_option("--ca", o->ca, "with --certs: only this issuer");
  cmd->add_option("--device", o->device, "with --certs: only this device id");
  cmd->add_option("--profile", o->profile, "with --certs: only this profile");
  cmd->add_option("--status", o->status,
                  "with --certs: reserved, issued, abandoned, revoked or superseded");
  cmd->add_option("--limit", o->limit, "with --certs: at most this many (0 = all)");
  return {cmd, [o, &g] { return run_list(*o, g); }};
}

}  // namespace devpki::ca
