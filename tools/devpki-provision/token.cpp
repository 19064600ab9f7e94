// devpki-provision token: one-time enrollment tokens for the token/PSK
// method (pki/enrollment.hpp). issue shows a token once; redeem exchanges a
// token (or a QR setup code) and a CSR for the certificate of the device it
// names, once; list and revoke manage them.
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "devpki-provision/commands.hpp"
#include "pki/enrollment.hpp"
#include "pki/error.hpp"

namespace devpki::provision {

namespace {

struct IssueOptions {
  std::string device;
  std::string ttl = "24h";
  std::string profile = "device-ldevid";
  std::string ca;
  bool replace = false;
};

struct RedeemOptions {
  std::string token;
  std::string csr;
  std::string out;
  bool force = false;
  PassphraseOptions passphrase;
};

struct ListOptions {
  std::string device;
  std::string kind = "token";
};

struct RevokeOptions {
  std::string device;
  std::string kind = "token";
};

std::optional<std::string> parse_kind(const std::string& k) {
  if (k == "token") return "token";
  if (k == "setup_code" || k == "setup-code") return "setup_code";
  if (k == "all") return std::nullopt;
  throw pki::Error(pki::ErrorCode::invalid_input,
                   "--kind '" + k + "': expected token, setup_code or all");
}

nlohmann::json secret_json(const pki::EnrollmentSecretRecord& s, pki::TimePoint now) {
  nlohmann::json j{{"id", s.id},
                   {"kind", s.kind},
                   {"device_id", s.device_id},
                   {"ca", s.ca},
                   {"profile", s.profile},
                   {"state", pki::secret_state(s, now)},
                   {"created_at", pki::format_time(s.created_at)},
                   {"expires_at", pki::format_time(s.expires_at)}};
  if (s.redeemed_at) j["redeemed_at"] = pki::format_time(*s.redeemed_at);
  if (!s.redeemed_serial.empty()) {
    j["certificate"] = {{"issuer", s.redeemed_issuer}, {"serial", s.redeemed_serial}};
  }
  if (s.revoked_at) j["revoked_at"] = pki::format_time(*s.revoked_at);
  return j;
}

Exit run_issue(const IssueOptions& o, const GlobalOptions& g) {
  pki::IssueSecretRequest r;
  r.kind = pki::SecretKind::token;
  r.device_id = o.device;
  r.ca = o.ca;
  r.profile = o.profile;
  r.ttl = pki::parse_duration(o.ttl);
  r.replace = o.replace;
  r.actor = "devpki-provision";
  pki::Home home = pki::Home::open(resolve_home(g));
  const auto issued = pki::issue_enrollment_secrets(home, {&r, 1}, pki::SystemClock{});
  const auto& s = issued.front();
  if (g.json) {
    nlohmann::json j = secret_json(s.record, s.record.created_at);
    j["token"] = s.secret;
    std::cout << j.dump() << "\n";
  } else {
    std::cout << s.secret << "\n";
    std::cerr << "token " << s.record.id << " for device " << s.record.device_id << ": redeemable "
              << "once, until " << pki::format_time(s.record.expires_at) << ", for a "
              << s.record.profile << " certificate from " << s.record.ca
              << ".\nIt is shown only now: devpki keeps a keyed hash of it, not the token.\n";
  }
  return Exit::ok;
}

std::string read_token(const std::string& flag) {
  if (flag != "-") return flag;
  std::string line;
  if (!std::getline(std::cin, line)) {
    throw pki::Error(pki::ErrorCode::invalid_input, "--token -: nothing on standard input");
  }
  return line;
}

Exit run_redeem(const RedeemOptions& o, const GlobalOptions& g) {
  pki::RedeemRequest req;
  req.secret = read_token(o.token);
  req.csr = read_input_file(o.csr, pki::CsrLimits{}.max_bytes, "CSR");
  req.out = o.out;
  req.overwrite = o.force;
  req.passphrase = read_passphrase(o.passphrase);
  req.actor = "devpki-provision";
  pki::Home home = pki::Home::open(resolve_home(g));
  const pki::RedeemResult r = pki::redeem_enrollment_secret(home, req, pki::SystemClock{});
  for (const auto& f : r.issued.warnings.items())
    warn("devpki-provision", f.message);
  const std::string what = r.secret.kind == "token" ? "token" : "setup code";
  if (g.json) {
    nlohmann::json j =
        nlohmann::json::parse(issued_json(home, r.issued.issuer, r.issued.serial_hex));
    j["redeemed"] = {{"id", r.secret.id}, {"kind", r.secret.kind}};
    std::cout << j.dump() << "\n";
  } else {
    std::cout << "redeemed " << what << " " << r.secret.id << ": issued " << r.issued.serial_hex
              << " by " << r.issued.issuer << " under " << r.secret.profile << " for device "
              << r.secret.device_id << " -> " << o.out << "\n";
  }
  return Exit::ok;
}

Exit run_list(const ListOptions& o, const GlobalOptions& g) {
  pki::SecretQuery q;
  if (!o.device.empty()) q.device_id = o.device;
  q.kind = parse_kind(o.kind);
  pki::Home home = pki::Home::open(resolve_home(g));
  const auto now = pki::SystemClock{}.now();
  const auto all = pki::list_enrollment_secrets(home, q);
  if (g.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& s : all)
      j.push_back(secret_json(s, now));
    std::cout << j.dump() << "\n";
    return Exit::ok;
  }
  if (all.empty()) {
    std::cout << "no enrollment secrets" << (o.device.empty() ? "" : " for device " + o.device)
              << "\n";
    return Exit::ok;
  }
  std::size_t w = 6;
  for (const auto& s : all)
    w = std::max(w, s.device_id.size());
  std::cout << std::left << std::setw(18) << "ID" << std::setw(12) << "KIND"
            << std::setw(static_cast<int>(w + 2)) << "DEVICE" << std::setw(13) << "STATE"
            << std::setw(22) << "EXPIRES"
            << "CERTIFICATE\n";
  for (const auto& s : all) {
    std::cout << std::left << std::setw(18) << s.id << std::setw(12) << s.kind
              << std::setw(static_cast<int>(w + 2)) << s.device_id << std::setw(13)
              << pki::secret_state(s, now) << std::setw(22) << pki::format_time(s.expires_at)
              << (s.redeemed_serial.empty() ? "-" : s.redeemed_issuer + "/" + s.redeemed_serial)
              << "\n";
  }
  return Exit::ok;
}

Exit run_revoke(const RevokeOptions& o, const GlobalOptions& g) {
  const auto kind_text = parse_kind(o.kind);
  std::optional<pki::SecretKind> kind;
  if (kind_text)
    kind = *kind_text == "token" ? pki::SecretKind::token : pki::SecretKind::setup_code;
  pki::Home home = pki::Home::open(resolve_home(g));
  const pki::SystemClock clock;
  const auto revoked =
      pki::revoke_enrollment_secrets(home, o.device, kind, clock, "devpki-provision");
  if (g.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& s : revoked)
      j.push_back(secret_json(s, clock.now()));
    std::cout << j.dump() << "\n";
  } else {
    for (const auto& s : revoked)
      std::cout << "revoked " << (s.kind == "token" ? "token " : "setup code ") << s.id
                << " of device " << s.device_id << "\n";
  }
  return Exit::ok;
}

}  // namespace

Command add_token(CLI::App& app, const GlobalOptions& g) {
  CLI::App* cmd = app.add_subcommand(
      "token",
      "One-time enrollment tokens (the token/PSK method): 128 bits from the CSPRNG, stored only "
      "as a keyed hash, single use, expiring. A device (or its installer) redeems one with a CSR "
      "for the certificate of the device the token names.");
  cmd->require_subcommand(1);

  auto io = std::make_shared<IssueOptions>();
  CLI::App* issue = cmd->add_subcommand(
      "issue", "Issue a token for a device; it is printed once on stdout (details on stderr).");
  issue->add_option("--device", io->device, "the device the token enrolls")->required();
  issue->add_option("--ttl", io->ttl, "how long it is redeemable (e.g. 30min, 24h, 7d)")
      ->capture_default_str();
  issue->add_option("--profile", io->profile, "the profile of the certificate it redeems for")
      ->capture_default_str();
  issue->add_option("--ca", io->ca,
                    "the CA that issues on redemption (default: the home's only issuing CA)");
  issue->add_flag("--replace", io->replace,
                  "revoke the device's active token instead of refusing a second one");

  auto ro = std::make_shared<RedeemOptions>();
  CLI::App* redeem = cmd->add_subcommand(
      "redeem",
      "Redeem a token (or a QR setup code, its manual code or the whole QR payload) with a CSR: "
      "the certificate is issued for the device the token names, once. Replayed, expired, "
      "revoked, unknown and malformed tokens are refused with the reason (exit 2), leaving "
      "nothing but an audit record.");
  redeem->add_option("--token", ro->token, "the token; - reads it from standard input")
      ->required()
      ->type_name("TOKEN");
  redeem->add_option("--csr", ro->csr, "the device's CSR (PEM or DER)")
      ->required()
      ->type_name("FILE");
  redeem
      ->add_option("--out", ro->out, "certificate PEM to write (never overwritten without --force)")
      ->required()
      ->type_name("FILE");
  redeem->add_flag("--force", ro->force, "replace --out if it exists");
  add_passphrase_options(*redeem, ro->passphrase, false);

  auto lo = std::make_shared<ListOptions>();
  CLI::App* list = cmd->add_subcommand(
      "list",
      "List enrollment secrets: state (active, expired, redeemed, revoked, interrupted), "
      "expiry, and the certificate each was redeemed for.");
  list->add_option("--device", lo->device, "only this device's");
  list->add_option("--kind", lo->kind, "token, setup_code (QR labels) or all")
      ->capture_default_str();

  auto vo = std::make_shared<RevokeOptions>();
  CLI::App* revoke = cmd->add_subcommand(
      "revoke", "Revoke a device's active tokens (they can no longer be redeemed).");
  revoke->add_option("--device", vo->device, "the device")->required();
  revoke->add_option("--kind", vo->kind, "token, setup_code or all")->capture_default_str();

  return {cmd, [=, &g] {
            if (issue->parsed()) return run_issue(*io, g);
            if (redeem->parsed()) return run_redeem(*ro, g);
            if (list->parsed()) return run_list(*lo, g);
            if (revoke->parsed()) return run_revoke(*vo, g);
            throw pki::Error(pki::ErrorCode::internal, "no token subcommand was selected");
          }};
}

}  // namespace devpki::provision
