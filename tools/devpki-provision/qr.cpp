// devpki-provision qr: QR onboarding labels. A label carries the device id,
// a one-time setup code (the store keeps only its keyed hash), the
// enrollment endpoint and the fingerprint of the trust anchor the app pins,
// with a check, plus a manual code (pki/onboarding.hpp). --parse decodes and
// checks a payload.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "common/progress.hpp"
#include "devpki-provision/commands.hpp"
#include "pki/enrollment.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"
#include "pki/onboarding.hpp"

namespace devpki::provision {

namespace {

struct QrOptions {
  std::string device;
  std::string manifest;
  std::string parse;
  std::string format;
  std::string out;
  std::string ca;
  std::string profile = "device-ldevid";
  std::string ttl = "90d";
  std::string endpoint;
  std::string anchor;
  std::string anchor_cert;
  bool replace = false;
  bool force = false;
};

constexpr std::string_view kDummyCode = "000000000000";

pki::QrFormat choose_format(const QrOptions& o) {
  if (!o.format.empty()) return pki::parse_qr_format(o.format);
  const std::string ext = std::filesystem::path(o.out).extension().string();
  if (ext == ".svg") return pki::QrFormat::svg;
  if (ext == ".txt") return pki::QrFormat::text;
  return pki::QrFormat::png;
}

std::string endpoint_for(const pki::Home& home, const QrOptions& o) {
  if (!o.endpoint.empty()) return o.endpoint;
  const auto& vars = home.settings().variables;
  if (auto it = vars.find("enroll_url"); it != vars.end()) return it->second;
  if (auto it = vars.find("base_url"); it != vars.end()) return it->second + "/enroll";
  throw pki::Error(pki::ErrorCode::invalid_input,
                   "no enrollment endpoint: give --endpoint URL, or set enroll_url (or base_url) "
                   "under variables: in the home's devpki.yaml");
}

// The certificate the app pins: --anchor-cert FILE, --anchor CA, or the root
// of the redeeming CA's chain.
pki::Certificate anchor_for(pki::Home& home, const QrOptions& o, const std::string& ca) {
  if (!o.anchor_cert.empty()) {
    if (!o.anchor.empty()) {
      throw pki::Error(pki::ErrorCode::invalid_input, "give --anchor or --anchor-cert, not both");
    }
    return pki::Certificate::load(o.anchor_cert);
  }
  if (!o.anchor.empty()) return pki::ca_chain(home, o.anchor).front();
  return pki::ca_chain(home, ca).back();
}

std::vector<std::string> read_manifest(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw pki::Error(pki::ErrorCode::not_found, "cannot read manifest '" + file + "'");
  std::vector<std::string> ids;
  std::set<std::string> seen;
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    const std::string where = file + ":" + std::to_string(n) + ": ";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw pki::Error(pki::ErrorCode::invalid_input, where + "not a JSON object");
    }
    if (!j.is_object() || !j.contains("device_id") || !j["device_id"].is_string()) {
      throw pki::Error(pki::ErrorCode::invalid_input,
                       where + "no \"device_id\" (a devpki-mint manifest.jsonl line has one)");
    }
    std::string id = j["device_id"].get<std::string>();
    try {
      pki::validate_device_id(id);
    } catch (const pki::Error& e) {
      throw pki::Error(e.code(), where + e.what());
    }
    if (!seen.insert(id).second) {
      throw pki::Error(pki::ErrorCode::invalid_input, where + "device " + id + " appears twice");
    }
    ids.push_back(std::move(id));
  }
  if (ids.empty()) throw pki::Error(pki::ErrorCode::invalid_input, file + ": no devices");
  return ids;
}

nlohmann::json label_json(const pki::IssuedSecret& s, const std::string& file,
                          pki::QrFormat format) {
  return {{"device_id", s.record.device_id},
          {"setup_code_id", s.record.id},
          {"expires_at", pki::format_time(s.record.expires_at)},
          {"ca", s.record.ca},
          {"profile", s.record.profile},
          {"file", file},
          {"format", std::string(pki::to_string(format))}};
}

Exit run_parse(const QrOptions& o, const GlobalOptions& g) {
  const pki::OnboardingPayload p = pki::parse_payload(o.parse);
  nlohmann::json j{{"version", p.version},
                   {"device_id", p.device_id},
                   {"manual_code", pki::manual_code(p.setup_code)},
                   {"endpoint", p.endpoint},
                   {"anchor_sha256", p.anchor_sha256},
                   {"check", "ok"}};
  // With a home at hand: what it knows of the setup code and the anchor
  // (read-only: nothing is claimed or audited).
  const auto dir = resolve_home(g);
  if (pki::Home::exists(dir)) {
    pki::Home home = pki::Home::open(dir);
    const auto s = pki::lookup_enrollment_secret(home, o.parse);
    j["setup_code"] = s ? nlohmann::json{{"id", s->id},
                                         {"state", pki::secret_state(*s, pki::SystemClock{}.now())},
                                         {"expires_at", pki::format_time(s->expires_at)}}
                        : nlohmann::json{{"state", "unknown to this home"}};
    std::string anchor_ca;
    for (const auto& ca : home.store().list_cas()) {
      if (pki::Certificate::from_der(ca.cert_der).fingerprint_sha256_hex() == p.anchor_sha256)
        anchor_ca = ca.name;
    }
    j["anchor_ca"] = anchor_ca;
  }
  if (g.json) {
    std::cout << j.dump() << "\n";
    return Exit::ok;
  }
  std::cout << "devpki onboarding payload, version " << p.version << " (check ok)\n"
            << "  device id    " << p.device_id << "\n"
            << "  manual code  " << pki::manual_code(p.setup_code) << "\n"
            << "  endpoint     " << p.endpoint << "\n"
            << "  anchor       sha256 " << p.anchor_sha256;
  if (j.contains("anchor_ca")) {
    const std::string ca = j["anchor_ca"];
    std::cout << (ca.empty() ? " (not a CA of this home)" : " (CA " + ca + " of this home)");
  }
  std::cout << "\n";
  if (j.contains("setup_code")) {
    const auto& s = j["setup_code"];
    std::cout << "  setup code   " << s["state"].get<std::string>();
    if (s.contains("id")) {
      std::cout << " (" << s["id"].get<std::string>() << ", expires "
                << s["expires_at"].get<std::string>() << ")";
    }
    std::cout << "\n";
  }
  return Exit::ok;
}

// A usage error (exit 1), as CLI11's own.
Exit usage(const std::string& message) {
  std::cerr << "devpki-provision: error: " << message << " (see devpki-provision qr --help)\n";
  return Exit::usage;
}

Exit run_labels(const QrOptions& o, const GlobalOptions& g) {
  if (o.out.empty()) return usage("--out is required with --device and --manifest");
  const bool batch = !o.manifest.empty();
  const pki::QrFormat format = batch && o.format.empty() ? pki::QrFormat::png : choose_format(o);
  const std::vector<std::string> devices =
      batch ? read_manifest(o.manifest) : std::vector<std::string>{o.device};
  const auto ttl = pki::parse_duration(o.ttl);

  pki::Home home = pki::Home::open(resolve_home(g));
  const std::string ca = o.ca.empty() ? pki::default_issuing_ca(home) : o.ca;
  const std::string endpoint = endpoint_for(home, o);
  const pki::Certificate anchor = anchor_for(home, o, ca);

  // Everything that can fail is checked before any secret is recorded: the
  // payload's fields (with a stand-in code of the real length) and the
  // output files.
  const auto label_for = [&](const std::string& device, const std::string& code) {
    pki::OnboardingPayload p;
    p.device_id = device;
    p.setup_code = code;
    p.anchor_sha256 = anchor.fingerprint_sha256_hex();
    p.endpoint = endpoint;
    pki::QrLabel l;
    l.payload = pki::encode_payload(p);
    l.caption = device;
    l.manual_code = pki::manual_code(code);
    return l;
  };
  std::vector<std::filesystem::path> files;
  const std::filesystem::path out(o.out);
  bool made_dir = false;
  if (batch) {
    std::error_code ec;
    if (!std::filesystem::is_directory(out, ec)) {
      if (!std::filesystem::create_directory(out, ec) || ec) {
        throw pki::Error(pki::ErrorCode::io, "cannot create the output directory '" + o.out +
                                                 "': " + (ec ? ec.message() : "it exists"));
      }
      made_dir = true;
    }
  }
  try {
    for (const auto& d : devices) {
      // The code's size depends on the payload's length only: the cheapest
      // rendering (text) proves it fits.
      pki::render_label(label_for(d, std::string(kDummyCode)), pki::QrFormat::text);
      const auto f = batch ? out / (d + "." + std::string(pki::file_extension(format))) : out;
      std::error_code ec;
      if (!o.force && std::filesystem::exists(f, ec)) {
        throw pki::Error(pki::ErrorCode::conflict,
                         f.string() + " exists; use --force to replace it");
      }
      if (!std::filesystem::is_directory(f.parent_path().empty() ? "." : f.parent_path(), ec)) {
        throw pki::Error(pki::ErrorCode::io, "the directory of " + f.string() + " does not exist");
      }
      files.push_back(f);
    }

    std::vector<pki::IssueSecretRequest> reqs;
    reqs.reserve(devices.size());
    for (const auto& d : devices) {
      pki::IssueSecretRequest r;
      r.kind = pki::SecretKind::setup_code;
      r.device_id = d;
      r.ca = ca;
      r.profile = o.profile;
      r.ttl = ttl;
      r.replace = o.replace;
      r.actor = "devpki-provision";
      reqs.push_back(std::move(r));
    }
    const auto issued = pki::issue_enrollment_secrets(home, reqs, pki::SystemClock{});
    made_dir = false;  // secrets are recorded: the directory now holds their labels

    ProgressBar bar(batch && !g.json && ProgressBar::stderr_is_terminal());
    nlohmann::json written = nlohmann::json::array();
    for (std::size_t i = 0; i < issued.size(); ++i) {
      const auto label = label_for(issued[i].record.device_id, issued[i].secret);
      try {
        // The label holds the setup code: written like a key (0600).
        pki::write_secret_file(files[i], pki::render_label(label, format), o.force);
      } catch (const pki::Error& e) {
        throw pki::Error(e.code(), std::string(e.what()) + " (the setup codes of " +
                                       std::to_string(issued.size() - i) +
                                       " labels not written are recorded: run again with --replace "
                                       "--force to make new ones)");
      }
      written.push_back(label_json(issued[i], files[i].string(), format));
      bar.update({issued.size(), i + 1, 0});
    }
    bar.clear();
    if (g.json) {
      std::cout << (batch ? written.dump() : written.front().dump()) << "\n";
    } else if (batch) {
      std::cout << "wrote " << issued.size() << " " << pki::to_string(format) << " labels to "
                << o.out << " (setup codes valid until "
                << pki::format_time(issued.front().record.expires_at) << ")\n";
    } else {
      const auto& s = issued.front();
      std::cout << "wrote the " << pki::to_string(format) << " label of device "
                << s.record.device_id << " to " << o.out << "\n"
                << "  setup code " << s.record.id << ": single use, until "
                << pki::format_time(s.record.expires_at) << ", redeems for a " << s.record.profile
                << " certificate from " << s.record.ca << "\n"
                << "  endpoint " << endpoint << ", anchor " << anchor.subject().to_string() << "\n";
    }
  } catch (...) {
    if (made_dir) {
      std::error_code ec;
      std::filesystem::remove(out, ec);
    }
    throw;
  }
  return Exit::ok;
}

}  // namespace

Command add_qr(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<QrOptions>();
  CLI::App* cmd = app.add_subcommand(
      "qr",
      "QR onboarding labels: a versioned payload with the device id, a one-time setup code "
      "(stored only as a keyed hash, single use, expiring), the enrollment endpoint and the "
      "fingerprint of the trust anchor the app pins, with a check; plus a manual code for when "
      "the camera fails. Rendered as PNG, SVG or text. The setup code redeems once: "
      "devpki-provision token redeem --token '<payload or manual code>'.");
  auto* dev = cmd->add_option("--device", o->device, "one label for this device");
  auto* man = cmd->add_option("--manifest", o->manifest,
                              "one label per device of a devpki-mint manifest.jsonl, written to "
                              "--out DIR as <device>.<png|svg|txt>")
                  ->type_name("FILE");
  auto* par = cmd->add_option("--parse", o->parse, "decode and check a payload (nothing written)")
                  ->type_name("PAYLOAD");
  dev->excludes(man)->excludes(par);
  man->excludes(par);
  cmd->add_option("--format", o->format,
                  "png, svg or text (default: from --out's extension, else png)");
  cmd->add_option("--out", o->out, "the label file (--device) or directory (--manifest)")
      ->type_name("PATH");
  cmd->add_option("--ca", o->ca,
                  "the CA that issues on redemption (default: the home's only issuing CA)");
  cmd->add_option("--profile", o->profile, "the profile of the certificate it redeems for")
      ->capture_default_str();
  cmd->add_option("--ttl", o->ttl, "how long the setup code is redeemable")->capture_default_str();
  cmd->add_option("--endpoint", o->endpoint,
                  "the enrollment URL (default: enroll_url, else base_url + /enroll, from the "
                  "home's devpki.yaml variables)")
      ->type_name("URL");
  cmd->add_option("--anchor", o->anchor,
                  "the CA of this home the app pins (default: the root of --ca's chain)")
      ->type_name("CA");
  cmd->add_option("--anchor-cert", o->anchor_cert, "a certificate file to pin instead")
      ->type_name("FILE");
  cmd->add_flag("--replace", o->replace,
                "revoke a device's active setup code instead of refusing a second one");
  cmd->add_flag("--force", o->force, "replace label files that exist");
  return {cmd, [o, dev, man, par, &g] {
            const int chosen =
                (dev->count() ? 1 : 0) + (man->count() ? 1 : 0) + (par->count() ? 1 : 0);
            if (chosen != 1)
              return usage("give one of --device ID, --manifest FILE or --parse PAYLOAD");
            if (par->count()) return run_parse(*o, g);
            return run_labels(*o, g);
          }};
}

}  // namespace devpki::provision
