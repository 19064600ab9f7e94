// devpki-decommission: retire devices. Revokes every unexpired certificate
// they hold, marks them decommissioned (not minted again without an explicit
// flag), publishes fresh CRLs for every CA concerned, and says what it did.
//
// Order, so that a failure leaves nothing half-done that a rerun cannot
// finish: (1) read and validate every id and check --publish; (2) revoke and
// mark in one store transaction, and before it commits, unlock the keys of
// the CAs whose CRLs step (3) publishes (a wrong passphrase rolls it all
// back); (3) publish each such CA's CRL. A crash after (2) is finished by
// running the same command again: (2) then changes nothing, and (3) still
// publishes the CRLs that do not list the revocations (stale before the run).
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "common/cli.hpp"
#include "pki/crl.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"
#include "pki/home.hpp"
#include "pki/output.hpp"
#include "pki/revocation.hpp"

namespace {

using devpki::Exit;
using devpki::json_string;

struct Options {
  std::string devices_file;
  std::string device;
  std::string batch;
  std::string reason = "cessationOfOperation";
  bool dry_run = false;
  std::string publish_dir;
  devpki::PassphraseOptions passphrase;
};

struct Published {
  std::string ca;
  pki::CrlRecord record;
  std::string bundle;          // empty when an ancestor has no usable CRL
  std::string bundle_problem;  // why
  std::vector<std::string> copies;
};

std::string read_all(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw pki::Error(pki::ErrorCode::io, "cannot read back " + file.string());
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void check_publish_dir(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw pki::Error(pki::ErrorCode::invalid_input,
                     "--publish " + dir + ": no such directory (create it first)");
  }
  // Asked, not probed with a file: a dry run writes nothing, there either.
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    throw pki::Error(pki::ErrorCode::io, "--publish " + dir + ": cannot write there");
  }
}

Published publish(pki::Home& home, const pki::Authority& authority, const std::string& publish_dir,
                  const pki::Clock& clock) {
  pki::CrlOptions opts;
  opts.actor = "devpki-decommission";
  const pki::PublishedCrl crl = pki::publish_crl(home, authority, opts, clock);
  for (const auto& f : crl.warnings.items())
    devpki::warn("devpki-decommission", f.message);
  Published p{authority.name(), crl.record, {}, {}, {}};
  // This CA's bundle, and those of CAs under it (they carry this CRL).
  std::vector<std::filesystem::path> files = {crl.der_file, crl.pem_file};
  for (const auto& b : pki::write_crl_bundles(home, authority.name(), clock.now())) {
    if (b.ca == authority.name()) {
      p.bundle = b.file.string();
      p.bundle_problem = b.problem;
    } else if (!b.problem.empty()) {
      devpki::warn("devpki-decommission", "no chain bundle for " + b.ca + ": " + b.problem);
    }
    if (!b.file.empty()) files.push_back(b.file);
  }
  if (!publish_dir.empty()) {
    for (const auto& f : files) {
      const auto dest = std::filesystem::path(publish_dir) / f.filename();
      pki::write_public_file(dest, read_all(f), true);
      p.copies.push_back(dest.string());
    }
  }
  return p;
}

Exit run(const Options& o, const devpki::GlobalOptions& g) {
  const auto reason = pki::parse_revocation_reason(o.reason);
  check_publish_dir(o.publish_dir);
  pki::Home home = pki::Home::open(devpki::resolve_home(g));
  std::vector<std::string> ids;
  if (!o.devices_file.empty()) {
    ids = pki::read_device_list(o.devices_file);
  } else if (!o.device.empty()) {
    ids.push_back(o.device);
  } else {
    ids = pki::batch_devices(home, o.batch);
  }
  const pki::SystemClock clock;

  pki::DecommissionOptions opts;
  opts.reason = reason;
  opts.actor = "devpki-decommission";
  opts.dry_run = o.dry_run;

  // CAs whose last CRL already misses a revocation, or whose file is not
  // the CRL recorded (a run that died before publishing, or while writing):
  // published again if this run concerns them.
  std::set<std::string> stale_before;
  for (const auto& s : pki::crl_status(home, clock.now()))
    if (s.revoked_since > 0 || !s.file_ok) stale_before.insert(s.ca);
  // What step (4) publishes: CAs that revoke now, and stale CAs of these devices.
  const auto to_publish_of = [&](const pki::DecommissionReport& r) {
    std::set<std::string> need(r.cas.begin(), r.cas.end());
    for (const auto& d : r.devices)
      for (const auto& c : d.already_revoked)
        if (stale_before.count(c.issuer)) need.insert(c.issuer);
    return need;
  };
  // Keys are unlocked inside the store transaction, before its commit: a
  // wrong passphrase rolls the revocations back (nothing changed).
  std::map<std::string, pki::Authority> authorities;
  opts.before_commit = [&](const pki::DecommissionReport& r) {
    const auto need = to_publish_of(r);
    if (need.empty()) return;
    const auto passphrase = devpki::read_passphrase(o.passphrase);
    for (const auto& ca : need)
      authorities.emplace(ca, pki::load_authority(home, ca, passphrase, pki::AuthorityUse::crl));
  };
  const pki::DecommissionReport report = pki::decommission(home, ids, opts, clock);

  std::vector<Published> published;
  std::vector<std::string> to_publish;
  for (const auto& ca : to_publish_of(report))
    to_publish.push_back(ca);
  if (!o.dry_run) {
    for (const auto& ca : to_publish) {
      try {
        auto it = authorities.find(ca);
        if (it == authorities.end()) {  // not expected: the hook unlocked the same set
          const auto passphrase = devpki::read_passphrase(o.passphrase);
          it = authorities
                   .emplace(ca, pki::load_authority(home, ca, passphrase, pki::AuthorityUse::crl))
                   .first;
        }
        published.push_back(publish(home, it->second, o.publish_dir, clock));
      } catch (const pki::Error& e) {
        throw pki::Error(e.code(),
                         "the devices are decommissioned and their certificates "
                         "revoked, but publishing the CRL of " +
                             ca + " failed: " + e.what() +
                             ". Run the same command again to publish it");
      }
    }
  }

  if (g.json) {
    std::cout << "{\"dry_run\":" << (o.dry_run ? "true" : "false")
              << ",\"reason\":" << json_string(pki::to_string(reason))
              << ",\"devices\":" << report.devices.size()
              << ",\"decommissioned\":" << report.newly_decommissioned
              << ",\"revoked\":" << report.revoked
              << ",\"already_revoked\":" << report.already_revoked << ",\"unknown\":[";
    for (std::size_t i = 0; i < report.unknown.size(); ++i)
      std::cout << (i ? "," : "") << json_string(report.unknown[i]);
    std::cout << "],\"certificates\":[";
    bool first = true;
    for (const auto& d : report.devices) {
      auto emit = [&](const pki::CertRecord& c, std::string_view outcome) {
        std::cout << (first ? "" : ",") << "{\"device_id\":" << json_string(d.device_id)
                  << ",\"issuer\":" << json_string(c.issuer)
                  << ",\"serial\":" << json_string(c.serial_hex)
                  << ",\"outcome\":" << json_string(outcome) << "}";
        first = false;
      };
      for (const auto& c : d.revoked)
        emit(c, o.dry_run ? "would_revoke" : "revoked");
      for (const auto& c : d.already_revoked)
        emit(c, "already_revoked");
    }
    std::cout << "],\"crls\":[";
    if (o.dry_run) {
      for (std::size_t i = 0; i < to_publish.size(); ++i)
        std::cout << (i ? "," : "") << "{\"ca\":" << json_string(to_publish[i]) << "}";
    } else {
      for (std::size_t i = 0; i < published.size(); ++i) {
        const auto& p = published[i];
        std::cout << (i ? "," : "") << "{\"ca\":" << json_string(p.ca)
                  << ",\"number\":" << p.record.number << ",\"entries\":" << p.record.entries
                  << ",\"next_update\":" << json_string(pki::format_time(p.record.next_update))
                  << ",\"file\":" << json_string((home.root() / p.record.file).string())
                  << ",\"bundle\":" << json_string(p.bundle)
                  << ",\"bundle_problem\":" << json_string(p.bundle_problem) << ",\"copies\":[";
        for (std::size_t k = 0; k < p.copies.size(); ++k)
          std::cout << (k ? "," : "") << json_string(p.copies[k]);
        std::cout << "]}";
      }
    }
    std::cout << "]}\n";
  } else {
    const char* verb = o.dry_run ? "would revoke " : "revoked ";
    const bool detail = report.devices.size() <= 50;
    for (const auto& d : report.devices) {
      if (!d.known) continue;
      if (detail) {
        for (const auto& c : d.revoked)
          std::cout << d.device_id << ": " << verb << c.issuer << "/" << c.serial_hex << "\n";
        for (const auto& c : d.already_revoked)
          std::cout << d.device_id << ": already revoked " << c.issuer << "/" << c.serial_hex
                    << "\n";
        if (d.revoked.empty() && d.already_revoked.empty())
          std::cout << d.device_id << ": no unexpired certificate\n";
      }
    }
    std::cout << (o.dry_run ? "plan: " : "") << report.devices.size() << " device(s), "
              << report.newly_decommissioned
              << (o.dry_run ? " to decommission, " : " decommissioned now, ") << report.revoked
              << (o.dry_run ? " certificate(s) to revoke (" : " certificate(s) revoked (")
              << pki::to_string(reason) << "), " << report.already_revoked << " already revoked, "
              << report.unknown.size() << " unknown\n";
    if (o.dry_run) {
      for (const auto& ca : to_publish)
        std::cout << "would publish the CRL of " << ca << "\n";
      std::cout << "dry run: nothing was written\n";
    } else {
      for (const auto& p : published) {
        std::cout << "published CRL " << p.record.number << " of " << p.ca << " ("
                  << p.record.entries << " entries, next update "
                  << pki::format_time(p.record.next_update)
                  << "): " << (home.root() / p.record.file).string() << "\n";
        if (!p.bundle.empty()) std::cout << "  chain bundle: " << p.bundle << "\n";
        for (const auto& c : p.copies)
          std::cout << "  copied to " << c << "\n";
      }
      if (published.empty()) {
        std::cout << "no change: every CRL concerned already lists these revocations\n";
      }
    }
    if (!report.unknown.empty()) {
      std::string sample;
      for (std::size_t i = 0; i < report.unknown.size() && i < 10; ++i) {
        if (i) sample += ", ";
        sample += report.unknown[i];
      }
      if (report.unknown.size() > 10) sample += ", ...";
      std::cerr << "devpki-decommission: " << report.unknown.size()
                << " device id(s) unknown to this home (nothing done for them): " << sample << "\n";
    }
  }
  for (const auto& p : published) {
    if (!p.bundle_problem.empty()) {
      devpki::warn("devpki-decommission", "no chain bundle for " + p.ca + ": " + p.bundle_problem);
    }
  }
  return report.unknown.empty() ? Exit::ok : Exit::partial;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "devpki-decommission: retire devices for good. Revokes every unexpired certificate they\n"
      "hold (one transaction), marks them decommissioned so devpki-mint and devpki-ca sign\n"
      "refuse them unless --allow-decommissioned, and publishes a fresh CRL (and chain bundle)\n"
      "for every CA concerned, so the fleet's servers shut them out at their next CRL reload.\n\n"
      "  devpki-decommission (--devices FILE | --device ID | --batch ID) [--reason R]\n"
      "                      [--dry-run] [--publish DIR] [--home DIR] [--json]",
      "devpki-decommission"};
  app.footer(
      "Running it twice changes nothing the second time. Ids the home does not know are\n"
      "listed on stderr; the others still go through (exit 3). If publishing fails after the\n"
      "revocations are recorded, running the same command again publishes the CRLs.\n"
      "Exit codes: 0 success, 1 usage, 2 failure (nothing written, or see the message),\n"
      "3 partial (some ids unknown). Docs: docs/devpki-decommission.md");
  devpki::GlobalOptions g;
  devpki::add_global_options(app, g);
  Options o;
  auto* file = app.add_option("--devices", o.devices_file,
                              "file of device ids, one per line ('#' comments, blank lines "
                              "skipped; a malformed or repeated id refuses the whole file)")
                   ->type_name("FILE");
  auto* device = app.add_option("--device", o.device, "one device id")->type_name("ID");
  auto* batch =
      app.add_option("--batch", o.batch, "every device of a devpki-mint batch")->type_name("ID");
  file->excludes(device)->excludes(batch);
  device->excludes(batch);
  std::string reasons;
  for (auto n : pki::revocation_reason_names()) {
    if (n == "certificateHold") continue;
    if (!reasons.empty()) reasons += ", ";
    reasons += n;
  }
  app.add_option("--reason", o.reason, "RFC 5280 reason: " + reasons)
      ->type_name("REASON")
      ->capture_default_str();
  app.add_flag("--dry-run", o.dry_run, "show the plan; write nothing (no passphrase needed)");
  app.add_option("--publish", o.publish_dir,
                 "also copy the published CRLs and bundles into DIR (e.g. the web root your "
                 "CRL distribution point serves)")
      ->type_name("DIR");
  devpki::add_passphrase_options(app, o.passphrase, false);
  app.callback([&] {
    if (file->count() + device->count() + batch->count() == 0) {
      throw CLI::RequiredError("one of --devices, --device or --batch");
    }
  });
  return devpki::run_main(app, argc, argv, [&] { return run(o, g); });
}
