// devpki-ca show NAME|SERIAL: one CA by name, or the certificate(s) with a serial.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "devpki-ca/commands.hpp"
#include "devpki-ca/render.hpp"
#include "pki/certificate.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"
#include "pki/home.hpp"

namespace devpki::ca {

namespace {

// A CA's place in its rollover lineage (devpki-ca rollover).
struct Rollover {
  std::vector<std::string> lineage;  // oldest first; just the CA without a rollover
  std::string current_issuer;        // empty when nothing issues in its place
  // A retired CA in overlap: until when its CRL must be published.
  std::optional<pki::TimePoint> crl_needed_until;
};

Rollover rollover_of(pki::Home& home, const pki::CaRecord& ca) {
  Rollover r;
  for (const auto& c : pki::ca_lineage(home, ca.name))
    r.lineage.push_back(c.name);
  try {
    r.current_issuer = pki::current_issuer(home, ca.name);
  } catch (const pki::Error&) {
    // retired without a successor: nothing issues in its place
  }
  const auto now = pki::SystemClock{}.now();
  if (ca.status == pki::CaStatus::retired && pki::ca_in_overlap(home, ca, now)) {
    pki::TimePoint until = ca.not_after;
    if (const auto last = home.store().last_issued_not_after(ca.name))
      until = std::min(until, *last);
    r.crl_needed_until = until;
  }
  return r;
}

struct ShowOptions {
  std::string what;
  bool pem = false;
};

Exit run_show(const ShowOptions& o, const GlobalOptions& g) {
  pki::Home home = pki::Home::open(resolve_home(g));
  if (const auto ca = home.store().find_ca(o.what)) {
    const auto cert = pki::Certificate::from_der(ca->cert_der);
    const Rollover r = rollover_of(home, *ca);
    if (g.json) {
      std::cout << "{\"ca\":" << ca_json(*ca) << ",\"lineage\":[";
      for (std::size_t i = 0; i < r.lineage.size(); ++i)
        std::cout << (i ? "," : "") << json_string(r.lineage[i]);
      std::cout << "],\"current_issuer\":" << json_string(r.current_issuer)
                << ",\"crl_needed_until\":"
                << (r.crl_needed_until ? json_string(pki::format_time(*r.crl_needed_until))
                                       : "null")
                << ",\"certificate\":" << certificate_details_json(cert) << "}\n";
    } else {
      std::cout << ca_text(*ca);
      if (r.lineage.size() > 1) {
        std::cout << "  lineage:     ";
        for (std::size_t i = 0; i < r.lineage.size(); ++i)
          std::cout << (i ? " -> " : "") << r.lineage[i];
        std::cout << " (oldest first)\n";
      }
      if (ca->status == pki::CaStatus::retired) {
        std::cout << "  issues now:  "
                  << (r.current_issuer.empty() ? "nothing (no active successor)" : r.current_issuer)
                  << "\n";
        if (r.crl_needed_until) {
          std::cout << "  CRLs until:  " << pki::format_time(*r.crl_needed_until)
                    << " (its last certificate's expiry: keep publishing its CRL until then)\n";
        } else {
          std::cout << "  CRLs until:  no longer needed (nothing it issued is unexpired)\n";
        }
      }
      std::cout << certificate_details_text(cert);
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
