// devpki-ca recover: finish what a crash interrupted (DESIGN.md crash safety).
#include <iostream>
#include <memory>

#include "devpki-ca/commands.hpp"
#include "devpki-ca/render.hpp"
#include "pki/error.hpp"
#include "pki/issuance.hpp"

namespace devpki::ca {

namespace {

struct RecoverOptions {
  std::string min_age = "10min";
};

Exit run_recover(const RecoverOptions& o, const GlobalOptions& g) {
  pki::Home home = pki::Home::open(resolve_home(g));
  const pki::RecoveryReport r =
      pki::recover_reserved(home, pki::SystemClock{}, pki::parse_duration(o.min_age), "devpki-ca");
  if (g.json) {
    auto list = [](const std::vector<pki::CertRecord>& rows) {
      std::string out = "[";
      for (std::size_t i = 0; i < rows.size(); ++i)
        out += (i ? "," : "") + cert_json(rows[i]);
      return out + "]";
    };
    std::cout << "{\"completed\":" << list(r.completed) << ",\"abandoned\":" << list(r.abandoned)
              << ",\"skipped\":" << list(r.skipped) << "}\n";
    return Exit::ok;
  }
  for (const auto& c : r.completed)
    std::cout << "issued    " << c.issuer << "/" << c.serial_hex << " (output found)\n";
  for (const auto& c : r.abandoned)
    std::cout << "abandoned " << c.issuer << "/" << c.serial_hex << " (no matching output)\n";
  for (const auto& c : r.skipped) {
    std::cout << "skipped   " << c.issuer << "/" << c.serial_hex << " (reserved less than "
              << o.min_age << " ago)\n";
  }
  std::cout << r.completed.size() << " completed, " << r.abandoned.size() << " abandoned, "
            << r.skipped.size() << " skipped\n";
  return Exit::ok;
}

}  // namespace

Command add_recover(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<RecoverOptions>();
  CLI::App* cmd = app.add_subcommand("recover",
                                     "After a crash: mark each reserved certificate issued if its "
                                     "output exists and matches, abandoned "
                                     "otherwise (its serial is never reused). Run it when no other "
                                     "devpki process issues from this home.");
  cmd->add_option("--min-age", o->min_age, "leave reservations younger than this alone")
      ->capture_default_str();
  return {cmd, [o, &g] { return run_recover(*o, g); }};
}

}  // namespace devpki::ca
