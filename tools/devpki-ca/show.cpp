// devpki-ca show NAME|SERIAL: one CA by name, or the certificate(s) with a serial.
#include <iostream>
#include <memory>

#include "devpki-ca/commands.hpp"
#include "devpki-ca/render.hpp"
#include "pki/certificate.hpp"
#include "pki/error.hpp"
#include "pki/home.hpp"

namespace devpki::ca {

namespace {

struct ShowOptions {
  std::string what;
  bool pem = false;
};

Exit run_show(const ShowOptions& o, const GlobalOptions& g) {
  pki::Home home = pki::Home::open(resolve_home(g));
  if (const auto ca = home.store().find_ca(o.what)) {
    const auto cert = pki::Certificate::from_der(ca->cert_der);
    if (g.json) {
      std::cout << "{\"ca\":" << ca_json(*ca)
                << ",\"certificate\":" << certificate_details_json(cert) << "}\n";
    } else {
      std::cout << ca_text(*ca) << certificate_details_text(cert);
      if (o.pem) std::cout << cert.to_pem();
    }
    return Exit::ok;
  }
  std::string serial;
  try {
    serial = pki::normalize_serial_hex(o.what);
  } catch (const pki::Error&) {
    throw pki::Error(pki::ErrorCode::not_found,
                     "'" + o.what + "' is neither a CA name nor a serial number");
  }
  pki::CertQuery q;
  q.serial_hex = serial;
  const auto recs = home.store().find_certs(q);
  if (recs.empty())
    throw pki::Error(pki::ErrorCode::not_found, "no CA or certificate '" + o.what + "'");
  if (g.json) std::cout << "[";
  for (std::size_t i = 0; i < recs.size(); ++i) {
    const auto& r = recs[i];
    if (g.json) {
      std::cout << (i ? "," : "") << "{\"record\":" << cert_json(r) << ",\"certificate\":"
                << (r.der.empty() ? "null"
                                  : certificate_details_json(pki::Certificate::from_der(r.der)))
                << "}";
      continue;
    }
    std::cout << cert_text(r);
    if (!r.der.empty()) {
      const auto cert = pki::Certificate::from_der(r.der);
      std::cout << certificate_details_text(cert);
      if (o.pem) std::cout << cert.to_pem();
    }
  }
  if (g.json) std::cout << "]\n";
  return Exit::ok;
}

}  // namespace

Command add_show(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<ShowOptions>();
  CLI::App* cmd =
      app.add_subcommand("show", "Show a CA (by name) or a certificate (by serial, hex).");
  cmd->add_option("what", o->what, "CA name or certificate serial")->required();
  cmd->add_flag("--pem", o->pem, "also print the certificate PEM");
  return {cmd, [o, &g] { return run_show(*o, g); }};
}

}  // namespace devpki::ca
