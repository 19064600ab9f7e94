// devpki-ca revoke / release: record revocations (one transaction per
// request) and lift a certificateHold. Publishing the CRL that carries them
// is `devpki-ca crl` (or devpki-decommission, which does both).
#include <cctype>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include "devpki-ca/commands.hpp"
#include "pki/error.hpp"
#include "pki/home.hpp"
#include "pki/revocation.hpp"

namespace devpki::ca {

namespace {

struct RevokeCliOptions {
  std::string serial;
  std::string device;
  std::string batch;
  std::string serials_file;
  std::string ca;
  std::string reason = "unspecified";
  std::string invalidity_date;
};

std::vector<std::string> read_serial_list(const std::string& file) {
  std::vector<std::string> out;
  std::size_t line_no = 0;
  // Reuses the device-list reader's rules (comments, blank lines, CRLF) by
  // reading lines here: serials are not device ids.
  std::ifstream in(file);
  if (!in) throw pki::Error(pki::ErrorCode::not_found, "cannot read serial list '" + file + "'");
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
      line.pop_back();
    std::size_t b = 0;
    while (b < line.size() && std::isspace(static_cast<unsigned char>(line[b])))
      ++b;
    if (b == line.size() || line[b] == '#') continue;
    out.push_back(line.substr(b));
  }
  if (out.empty()) {
    throw pki::Error(pki::ErrorCode::invalid_input,
                     file + ": no serial in the file (one hex serial per line; '#' comments)");
  }
  return out;
}

Exit run_revoke(const RevokeCliOptions& o, const GlobalOptions& g) {
  pki::RevokeTarget t;
  if (!o.serial.empty()) t.serial_hex = o.serial;
  if (!o.device.empty()) t.device_id = o.device;
  if (!o.batch.empty()) t.batch_id = o.batch;
  if (!o.serials_file.empty()) t.serials = read_serial_list(o.serials_file);
  if (!o.ca.empty()) t.ca = o.ca;
  pki::RevokeOptions opts;
  opts.reason = pki::parse_revocation_reason(o.reason);
  if (!o.invalidity_date.empty()) opts.invalidity_date = pki::parse_time(o.invalidity_date);
  opts.actor = "devpki-ca";

  pki::Home home = pki::Home::open(resolve_home(g));
  const pki::RevokeReport r = pki::revoke(home, t, opts, pki::SystemClock{});
  if (g.json) {
    std::cout << "{\"revoked\":" << r.revoked << ",\"already_revoked\":" << r.already_revoked
              << ",\"certificates\":[";
    for (std::size_t i = 0; i < r.items.size(); ++i) {
      const auto& it = r.items[i];
      std::cout << (i ? "," : "") << "{\"issuer\":" << json_string(it.issuer)
                << ",\"serial\":" << json_string(it.serial_hex)
                << ",\"device_id\":" << json_string(it.device_id)
                << ",\"outcome\":" << json_string(pki::to_string(it.outcome))
                << ",\"reason\":" << json_string(pki::to_string(it.reason))
                << ",\"revoked_at\":" << json_string(pki::format_time(it.revoked_at)) << "}";
    }
    std::cout << "],\"stale_crls\":[";
    for (std::size_t i = 0; i < r.cas.size(); ++i)
      std::cout << (i ? "," : "") << json_string(r.cas[i]);
    std::cout << "]}\n";
    return Exit::ok;
  }
  for (const auto& it : r.items) {
    if (it.outcome == pki::RevokeOutcome::revoked) {
      std::cout << "revoked " << it.issuer << "/" << it.serial_hex
                << (it.device_id.empty() ? "" : " (device " + it.device_id + ")") << ": "
                << pki::to_string(it.reason) << "\n";
    } else {
      std::cout << "already revoked " << it.issuer << "/" << it.serial_hex << ": "
                << pki::to_string(it.reason) << " since " << pki::format_time(it.revoked_at)
                << "\n";
    }
  }
  std::cout << r.revoked << " revoked, " << r.already_revoked << " already revoked\n";
  for (const auto& ca : r.cas) {
    std::cerr << "devpki-ca: the CRL of " << ca
              << " does not list this yet: publish it with `devpki-ca crl --ca " << ca << "`\n";
  }
  return Exit::ok;
}

struct ReleaseCliOptions {
  std::string serial;
  std::string ca;
};

Exit run_release(const ReleaseCliOptions& o, const GlobalOptions& g) {
  pki::Home home = pki::Home::open(resolve_home(g));
  const std::string released =
      pki::release_hold(home, o.ca, o.serial, pki::SystemClock{}, "devpki-ca");
  if (g.json) {
    std::cout << "{\"released\":" << json_string(released) << "}\n";
  } else {
    std::cout << "released the hold on " << released
              << "; the next CRL no longer lists it (a delta CRL says removeFromCRL)\n";
  }
  return Exit::ok;
}

}  // namespace

Command add_revoke(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<RevokeCliOptions>();
  std::string reasons;
  for (auto n : pki::revocation_reason_names()) {
    if (!reasons.empty()) reasons += ", ";
    reasons += n;
  }
  CLI::App* cmd = app.add_subcommand(
      "revoke",
      "Revoke certificates: one serial, every unexpired certificate of a device or a batch, or "
      "a list of serials. Recorded in one transaction (all or nothing); the next `devpki-ca crl` "
      "lists them. Revoking a certificate already revoked is refused (nothing changes), except "
      "that a certificateHold can be made permanent with another reason.");
  auto* serial = cmd->add_option("--serial", o->serial, "certificate serial (hex; ':' allowed)")
                     ->type_name("HEX");
  auto* device = cmd->add_option("--device", o->device, "every unexpired certificate of a device")
                     ->type_name("ID");
  auto* batch = cmd->add_option("--batch", o->batch, "every unexpired certificate of a batch")
                    ->type_name("ID");
  auto* list = cmd->add_option("--serials", o->serials_file,
                               "a file of serials, one per line ('#' comments)")
                   ->type_name("FILE");
  cmd->add_option("--ca", o->ca,
                  "the issuing CA (required when a serial exists under several CAs; a serial of "
                  "another CA is refused)");
  cmd->add_option("--reason", o->reason, "RFC 5280 reason: " + reasons)
      ->type_name("REASON")
      ->capture_default_str();
  cmd->add_option("--invalidity-date", o->invalidity_date,
                  "when the key is known or suspected to have been compromised "
                  "(YYYY-MM-DDTHH:MM:SSZ, not in the future)")
      ->type_name("TIME");
  serial->excludes(device)->excludes(batch)->excludes(list);
  device->excludes(batch)->excludes(list);
  batch->excludes(list);
  cmd->callback([=] {
    if (serial->count() + device->count() + batch->count() + list->count() == 0) {
      throw CLI::RequiredError("one of --serial, --device, --batch or --serials");
    }
  });
  return {cmd, [o, &g] { return run_revoke(*o, g); }};
}

Command add_release(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<ReleaseCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "release",
      "Lift a certificateHold: the certificate is valid again and leaves the next CRL. Only a "
      "hold can be released; every other revocation is permanent.");
  cmd->add_option("--serial", o->serial, "certificate serial (hex)")->required()->type_name("HEX");
  cmd->add_option("--ca", o->ca, "the issuing CA (when the serial exists under several)");
  return {cmd, [o, &g] { return run_release(*o, g); }};
}

}  // namespace devpki::ca
