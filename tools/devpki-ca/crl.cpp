// devpki-ca crl / crl-status: publish a CA's CRL (full or delta) and report
// how fresh every CA's last CRL is.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>

#include "devpki-ca/commands.hpp"
#include "pki/crl.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"
#include "pki/home.hpp"
#include "pki/output.hpp"

namespace devpki::ca {

namespace {

struct CrlCliOptions {
  std::string ca;
  bool delta = false;
  std::string out;
  bool force = false;
  PassphraseOptions passphrase;
};

Exit run_crl(const CrlCliOptions& o, const GlobalOptions& g) {
  pki::Home home = pki::Home::open(resolve_home(g));
  // --out is checked before anything is signed or recorded: a bad --out
  // leaves the CRL numbers and home/crl/ as they were.
  const bool to_file = !o.out.empty() && o.out != "-";
  if (to_file && !o.force && std::filesystem::exists(o.out)) {
    throw pki::Error(pki::ErrorCode::conflict, o.out + " exists; use --force to replace it");
  }
  if (to_file) {
    const auto dir = std::filesystem::absolute(o.out).parent_path();
    if (!std::filesystem::is_directory(dir)) {
      throw pki::Error(pki::ErrorCode::io,
                       "cannot write " + o.out + ": no directory " + dir.string());
    }
  }
  // A rolled-over CA keeps publishing CRLs for what it issued.
  const pki::Authority authority =
      pki::load_authority(home, o.ca, read_passphrase(o.passphrase), pki::AuthorityUse::crl);
  pki::CrlOptions opts;
  opts.delta = o.delta;
  opts.actor = "devpki-ca";
  const pki::SystemClock clock;
  const pki::PublishedCrl crl = pki::publish_crl(home, authority, opts, clock);
  for (const auto& f : crl.warnings.items())
    warn("devpki-ca", f.message);
  const std::string& pem = crl.pem;
  if (to_file) pki::write_public_file(o.out, pem, o.force);
  if (o.out == "-") std::cout << pem;

  // This CA's bundle and those of the CAs under it, which carry this CRL.
  std::string bundle;
  std::string bundle_problem;
  std::vector<pki::BundleResult> bundles;
  if (!o.delta) bundles = pki::write_crl_bundles(home, o.ca, clock.now());
  for (const auto& b : bundles) {
    if (b.ca != o.ca) continue;
    bundle = b.file.string();
    bundle_problem = b.problem;
  }
  const auto& r = crl.record;
  if (g.json) {
    std::cout << "{\"ca\":" << json_string(o.ca) << ",\"number\":" << r.number
              << ",\"delta\":" << (r.delta ? "true" : "false");
    if (r.delta) std::cout << ",\"base_number\":" << r.base_number;
    std::cout << ",\"entries\":" << r.entries
              << ",\"this_update\":" << json_string(pki::format_time(r.this_update))
              << ",\"next_update\":" << json_string(pki::format_time(r.next_update))
              << ",\"sha256\":" << json_string(r.sha256)
              << ",\"der_file\":" << json_string(crl.der_file.string())
              << ",\"pem_file\":" << json_string(crl.pem_file.string())
              << ",\"out\":" << json_string(to_file ? o.out : "")
              << ",\"bundle\":" << json_string(bundle)
              << ",\"bundle_problem\":" << json_string(bundle_problem) << ",\"bundles\":[";
    for (std::size_t i = 0; i < bundles.size(); ++i) {
      std::cout << (i ? "," : "") << "{\"ca\":" << json_string(bundles[i].ca)
                << ",\"file\":" << json_string(bundles[i].file.string())
                << ",\"problem\":" << json_string(bundles[i].problem) << "}";
    }
    std::cout << "]}\n";
  } else if (o.out != "-") {
    std::cout << (r.delta ? "delta CRL " : "CRL ") << r.number << " of " << o.ca;
    if (r.delta) std::cout << " (base " << r.base_number << ")";
    std::cout << ": " << r.entries << (r.entries == 1 ? " entry" : " entries") << ", next update "
              << pki::format_time(r.next_update) << "\n"
              << "  " << crl.der_file.string() << "\n  " << crl.pem_file.string() << "\n";
    if (to_file) std::cout << "  " << o.out << "\n";
    for (const auto& b : bundles) {
      if (!b.file.empty()) {
        std::cout << "  " << b.file.string()
                  << (b.ca == o.ca ? " (chain bundle)\n" : " (chain bundle of " + b.ca + ")\n");
      }
    }
  }
  for (const auto& b : bundles) {
    if (!b.problem.empty()) warn("devpki-ca", "no chain bundle for " + b.ca + ": " + b.problem);
  }
  return Exit::ok;
}

// A rolled-over CA in crl-status: its successor and until when its CRL is
// needed (its last certificate's notAfter, capped by its own).
struct RetiredInfo {
  std::string successor;
  pki::TimePoint needed_until{};
};

std::optional<RetiredInfo> retired_info(pki::Home& home, const std::string& ca) {
  const auto rec = home.store().find_ca(ca);
  if (!rec || rec->status != pki::CaStatus::retired) return std::nullopt;
  RetiredInfo r;
  r.successor = rec->successor;
  r.needed_until = rec->not_after;
  if (const auto last = home.store().last_issued_not_after(ca)) {
    r.needed_until = std::min(r.needed_until, *last);
  }
  return r;
}

Exit run_crl_status(const GlobalOptions& g) {
  pki::Home home = pki::Home::open(resolve_home(g));
  const auto now = pki::SystemClock{}.now();
  const auto rows = pki::crl_status(home, now);
  std::vector<std::optional<RetiredInfo>> retired;
  for (const auto& s : rows)
    retired.push_back(retired_info(home, s.ca));
  int worst = 0;  // 0 fresh, 1 stale, 2 expired or missing
  auto rank = [](pki::CrlFreshness f) {
    switch (f) {
      case pki::CrlFreshness::fresh:
        return 0;
      case pki::CrlFreshness::stale:
        return 1;
      default:
        return 2;
    }
  };
  for (const auto& s : rows) {
    worst = std::max(worst, rank(s.freshness));
    if (!s.file_ok) worst = 2;
    if (s.delta_freshness) worst = std::max(worst, rank(*s.delta_freshness));
  }
  if (g.json) {
    std::cout << "{\"now\":" << json_string(pki::format_time(now)) << ",\"cas\":[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& s = rows[i];
      std::cout << (i ? "," : "") << "{\"ca\":" << json_string(s.ca)
                << ",\"state\":" << json_string(pki::to_string(s.freshness));
      if (s.full) {
        std::cout << ",\"number\":" << s.full->number << ",\"entries\":" << s.full->entries
                  << ",\"this_update\":" << json_string(pki::format_time(s.full->this_update))
                  << ",\"next_update\":" << json_string(pki::format_time(s.full->next_update));
      }
      if (s.delta_freshness) {
        std::cout << ",\"delta_state\":" << json_string(pki::to_string(*s.delta_freshness));
        if (s.delta) {
          std::cout << ",\"delta_number\":" << s.delta->number << ",\"delta_next_update\":"
                    << json_string(pki::format_time(s.delta->next_update));
        }
      }
      std::cout << ",\"revoked_since\":" << s.revoked_since
                << ",\"file_ok\":" << (s.file_ok ? "true" : "false")
                << ",\"retired\":" << (retired[i] ? "true" : "false");
      if (retired[i]) {
        std::cout << ",\"successor\":" << json_string(retired[i]->successor) << ",\"needed_until\":"
                  << json_string(pki::format_time(retired[i]->needed_until));
      }
      std::cout << "}";
    }
    std::cout << "]}\n";
  } else {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& s = rows[i];
      std::cout << s.ca;
      if (retired[i]) {
        std::cout << " (rolled over to " << retired[i]->successor
                  << "; keep publishing until its last certificate expires at "
                  << pki::format_time(retired[i]->needed_until) << ")";
      }
      std::cout << ": ";
      if (!s.full) {
        std::cout << "no CRL published (publish: devpki-ca crl --ca " << s.ca << ")";
      } else {
        std::cout << "CRL " << s.full->number << ", " << s.full->entries
                  << (s.full->entries == 1 ? " entry" : " entries") << ", next update "
                  << pki::format_time(s.full->next_update) << ": " << pki::to_string(s.freshness);
      }
      if (s.delta && s.delta_freshness) {
        std::cout << "; delta " << s.delta->number << ", next update "
                  << pki::format_time(s.delta->next_update) << ": "
                  << pki::to_string(*s.delta_freshness);
      }
      if (s.revoked_since > 0) {
        std::cout << "; " << s.revoked_since << " revocation(s) not on it yet";
      }
      if (!s.file_ok) {
        std::cout << "; the file in crl/ is not the CRL recorded last (publish again: "
                     "devpki-ca crl --ca "
                  << s.ca << ")";
      }
      std::cout << "\n";
    }
  }
  return static_cast<Exit>(worst);
}

}  // namespace

Command add_crl(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<CrlCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "crl",
      "Sign and publish a CA's CRL: every certificate it revoked that has not expired, with a "
      "CRL number greater than any before. Written to <home>/crl/<ca>.crl (DER, what the "
      "certificates' CRL distribution point names) and <ca>.crl.pem, plus the chain bundle "
      "<ca>-chain.crl.pem (this CA's CRL and every parent's, for nginx ssl_crl; during a "
      "rollover also the CRL of the CA it was rolled over from or to). A rolled-over CA keeps "
      "publishing until its last certificate expires (see crl-status).");
  cmd->add_option("--ca", o->ca, "the CA whose CRL to publish")->required();
  cmd->add_flag("--delta", o->delta,
                "a delta CRL: only the changes since the last full CRL (the CA's profile needs "
                "crl.delta_next_update)");
  cmd->add_option("--out", o->out, "also write the CRL (PEM) here; '-' for stdout")
      ->type_name("FILE");
  cmd->add_flag("--force", o->force, "replace --out if it exists");
  add_passphrase_options(*cmd, o->passphrase, false);
  return {cmd, [o, &g] { return run_crl(*o, g); }};
}

Command add_crl_status(CLI::App& app, const GlobalOptions& g) {
  CLI::App* cmd = app.add_subcommand(
      "crl-status",
      "Each CA's last CRL: number, entries, next update, and whether it is fresh, past half its "
      "life (stale), expired or missing. A rolled-over CA is listed until its last certificate "
      "expires, with that date. Exit 0 when all are fresh, 1 when any is stale, 2 when "
      "any is expired or missing: for monitoring.");
  return {cmd, [&g] { return run_crl_status(g); }};
}

}  // namespace devpki::ca
