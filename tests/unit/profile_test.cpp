// Profiles: parsing (every error names file, line and key), whole-profile
// validation (each contradiction has its finding id), templates, and the
// shipped profiles under profiles/.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pki/error.hpp"
#include "pki/profile.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const fs::path kProfiles = fs::path(DEVPKI_SOURCE_DIR) / "profiles";

// A valid end-entity profile; cases append lines (line 6 onwards).
const std::string kBase =
    "name: t\n"                   // 1
    "validity: 1y\n"              // 2
    "keys: [ec-p256]\n"           // 3
    "subject:\n"                  // 4
    "  - CN: \"{device_id}\"\n";  // 5

std::string parse_error(const std::string& yaml) {
  try {
    pki::parse_profile(yaml, "t.yaml");
  } catch (const pki::Error& e) {
    CHECK(e.code() == pki::ErrorCode::invalid_input);
    return e.what();
  }
  return "(no error)";
}

pki::ProfileSpec valid_end_entity() {
  pki::ProfileSpec s;
  s.name = "ee";
  s.validity.duration = 365 * 24h;
  s.key_algorithms = {pki::KeyAlgorithm::ec_p256};
  s.subject = {{"CN", "{device_id}"}};
  s.key_usage = {pki::KeyUsage::digital_signature};
  s.extended_key_usage = {"clientAuth"};
  return s;
}

pki::ProfileSpec valid_ca() {
  pki::ProfileSpec s;
  s.name = "ca";
  s.validity.duration = 10 * 365 * 24h;
  s.key_algorithms = {pki::KeyAlgorithm::ec_p384};
  s.is_ca = true;
  s.path_len = 0;
  s.key_usage = {pki::KeyUsage::key_cert_sign, pki::KeyUsage::crl_sign};
  return s;
}

// A fresh directory per test run, removed at the end of the test.
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("devpki-profile-test-" + std::to_string(getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return path / name;
  }
};

}  // namespace

TEST_CASE("every shipped profile loads, validates and allows every key algorithm") {
  for (const char* name :
       {"root-ca", "issuing-ca", "device-idevid", "device-ldevid", "server-tls"}) {
    CAPTURE(name);
    const pki::ProfileSpec spec = pki::load_profile(kProfiles / (std::string(name) + ".yaml"));
    CHECK(spec.name == name);
    CHECK_FALSE(spec.description.empty());
    const pki::Findings findings = validate_profile(spec);
    CHECK_MESSAGE(!findings.has_errors(), findings.error_summary());
    // The end-to-end matrix issues a chain for every profile and key algorithm.
    for (pki::KeyAlgorithm alg : pki::all_key_algorithms()) {
      CAPTURE(to_string(alg));
      CHECK(std::find(spec.key_algorithms.begin(), spec.key_algorithms.end(), alg) !=
            spec.key_algorithms.end());
    }
  }
}

TEST_CASE("shipped profiles say what they are for") {
  const auto load = [](const std::string& n) {
    return pki::load_profile(kProfiles / (n + ".yaml"));
  };

  const auto root = load("root-ca");
  CHECK(root.is_ca);
  CHECK_FALSE(root.path_len.has_value());
  CHECK(root.validity.duration == 20 * 365 * 24h);
  CHECK(root.signature_digest == "sha384");

  const auto issuing = load("issuing-ca");
  CHECK(issuing.is_ca);
  CHECK(issuing.path_len == 0);
  CHECK(issuing.crl.next_update == 7 * 24h);
  CHECK(issuing.crl.delta_next_update == 24h);
  CHECK(issuing.crl.freshest_crl ==
        std::vector<std::string>{"http://pki.acme.example/crl/{ca}-delta.crl"});

  const auto idevid = load("device-idevid");
  CHECK(idevid.validity.forever);
  CHECK_FALSE(idevid.is_ca);
  CHECK_FALSE(idevid.rotation.enabled);  // 802.1AR IDevIDs are not renewed
  CHECK(std::count(idevid.subject.begin(), idevid.subject.end(),
                   std::pair<std::string, std::string>{"serialNumber", "{device_id}"}) == 1);
  CHECK(idevid.extended_key_usage == std::vector<std::string>{"clientAuth"});

  const auto ldevid = load("device-ldevid");
  CHECK(ldevid.validity.duration == 365 * 24h);
  CHECK(ldevid.rotation.enabled);
  CHECK(ldevid.rotation.renew_before_percent == 33);
  CHECK_FALSE(ldevid.rotation.renew_before.has_value());
  CHECK(ldevid.rotation.rekey == pki::Rekey::allowed);
  CHECK(ldevid.rotation.grace_after_expiry == 30 * 24h);
  CHECK(ldevid.rotation.jitter == 24h);
  REQUIRE(ldevid.san.add.size() == 1);
  CHECK(ldevid.san.add[0] == pki::SubjectAltName{pki::SanType::uri, "urn:acme:device:{device_id}"});

  const auto server = load("server-tls");
  CHECK(server.validity.duration == 397 * 24h);
  CHECK(server.extended_key_usage == std::vector<std::string>{"serverAuth"});
  CHECK(server.rotation.renew_before == 30 * 24h);
  CHECK(server.rotation.rekey == pki::Rekey::required);
  REQUIRE(server.san.allow.size() == 1);
  CHECK(server.san.allow[0].type == pki::SanType::dns);
}

TEST_CASE("the full schema parses into the spec") {
  const std::string yaml = R"(name: full
description: "every key"
validity: 1y30d
backdate: 10min
keys: [ec-p256, rsa-3072]
signature_digest: sha512
subject:
  - C: DE
  - O: Acme
  - OU: One
  - OU: Two
  - CN: "{device_id}"
san:
  allow:
    - {type: dns, pattern: "*.devices.acme.example"}
    - {type: ip, pattern: "10.0.0.0/8"}
    - {type: email, pattern: "*@acme.example"}
  add:
    - {type: uri, value: "urn:acme:device:{device_id}"}
  max: 4
key_usage: [digitalSignature, contentCommitment]
extended_key_usage: [clientAuth, 1.3.6.1.5.5.7.3.17]
extended_key_usage_critical: true
basic_constraints: {ca: false}
policies: ["1.3.6.1.4.1.99999.1.1", anyPolicy]
crl_distribution_points: ["http://pki.acme.example/crl/{ca}.crl", "ldap://ldap.acme.example/cn={ca}"]
aia: {ca_issuers: ["https://pki.acme.example/ca/{ca}.crt"], ocsp: ["http://ocsp.acme.example"]}
crl: {next_update: 3d, delta_next_update: 12h}
rotation: {renew_before: 30d, rekey: forbidden, grace_after_expiry: 7d, revoke_superseded: true, jitter: 1h}
)";
  const pki::ProfileSpec s = pki::parse_profile(yaml, "full.yaml");
  CHECK(s.name == "full");
  CHECK(s.description == "every key");
  CHECK(s.validity.duration == 395 * 24h);
  CHECK(s.validity.backdate == 10min);
  CHECK(s.key_algorithms ==
        std::vector<pki::KeyAlgorithm>{pki::KeyAlgorithm::ec_p256, pki::KeyAlgorithm::rsa_3072});
  CHECK(s.signature_digest == "sha512");
  REQUIRE(s.subject.size() == 5);
  CHECK(s.subject[2] == std::pair<std::string, std::string>{"OU", "One"});
  CHECK(s.subject[3] == std::pair<std::string, std::string>{"OU", "Two"});
  REQUIRE(s.san.allow.size() == 3);
  CHECK(s.san.allow[1].type == pki::SanType::ip);
  CHECK(s.san.allow[1].pattern == "10.0.0.0/8");
  CHECK(s.san.max == 4);
  CHECK(s.key_usage == std::vector<pki::KeyUsage>{pki::KeyUsage::digital_signature,
                                                  pki::KeyUsage::non_repudiation});
  CHECK(s.extended_key_usage == std::vector<std::string>{"clientAuth", "1.3.6.1.5.5.7.3.17"});
  CHECK(s.extended_key_usage_critical);
  CHECK_FALSE(s.is_ca);
  CHECK(s.policies.size() == 2);
  CHECK(s.crl_distribution_points.size() == 2);
  CHECK(s.aia.ocsp == std::vector<std::string>{"http://ocsp.acme.example"});
  CHECK(s.crl.next_update == 72h);
  CHECK(s.crl.delta_next_update == 12h);
  CHECK(s.rotation.enabled);
  CHECK(s.rotation.renew_before == 30 * 24h);
  CHECK_FALSE(s.rotation.renew_before_percent.has_value());
  CHECK(s.rotation.rekey == pki::Rekey::forbidden);
  CHECK(s.rotation.revoke_superseded);
  CHECK(s.rotation.jitter == 1h);
}

TEST_CASE("defaults when optional keys are absent") {
  const pki::ProfileSpec s = pki::parse_profile(kBase, "t.yaml");
  CHECK(s.validity.backdate == 5min);
  CHECK(s.signature_digest == "sha256");
  CHECK(s.san.max == 8);
  CHECK_FALSE(s.is_ca);
  CHECK_FALSE(s.rotation.enabled);
  CHECK(s.crl.next_update == 7 * 24h);
}

TEST_CASE("crl: freshest_crl parses, and needs delta CRLs") {
  const std::string ca =
      "name: t\n"
      "validity: 1y\n"
      "keys: [ec-p256]\n"
      "key_usage: [keyCertSign, cRLSign]\n"
      "basic_constraints: {ca: true}\n";
  const auto s = pki::parse_profile(
      ca + "crl: {next_update: 7d, delta_next_update: 1d, freshest_crl: "
           "[\"http://pki.acme.example/crl/{ca}-delta.crl\", \"{base_url}/crl/{ca}-delta.crl\"]}\n",
      "t.yaml");
  CHECK(s.crl.freshest_crl == std::vector<std::string>{"http://pki.acme.example/crl/{ca}-delta.crl",
                                                       "{base_url}/crl/{ca}-delta.crl"});
  CHECK(validate_profile(s).empty());
  CHECK(pki::parse_profile(ca, "t.yaml").crl.freshest_crl.empty());

  // Line 8 holds freshest_crl in the block form.
  const std::string no_delta = parse_error(ca +
                                           "crl:\n"
                                           "  next_update: 7d\n"
                                           "  freshest_crl: [\"http://pki.acme.example/d.crl\"]\n");
  CHECK(no_delta.find("t.yaml:8: crl.freshest_crl: ") != std::string::npos);
  CHECK(no_delta.find("[crl.freshest_without_delta]") != std::string::npos);

  const std::string bad_url = parse_error(ca +
                                          "crl:\n"
                                          "  delta_next_update: 1d\n"
                                          "  freshest_crl: [\"ftp://pki.acme.example/d.crl\"]\n");
  CHECK(bad_url.find("crl.freshest_crl[0]") != std::string::npos);
  CHECK(bad_url.find("[crl.bad_url]") != std::string::npos);

  CHECK(parse_error(ca + "crl: {freshest_crl: \"http://pki.acme.example/d.crl\"}\n")
            .find("expected a list") != std::string::npos);
}

TEST_CASE("validity forever") {
  const auto s = pki::parse_profile(
      "name: t\nvalidity: forever\nkeys: [ed25519]\nsubject:\n  - CN: x\n", "t.yaml");
  CHECK(s.validity.forever);
  CHECK_FALSE(validate_profile(s).has_errors());
}

// Parse errors: each names the file, the 1-based line and the key path.
TEST_CASE("parse errors name file, line and key") {
  struct Case {
    const char* what;
    std::string yaml;
    std::vector<std::string> expect;  // substrings of the message
  };
  const std::vector<Case> cases = {
      {"unknown top-level key",
       kBase + "validty: 1y\n",
       {"t.yaml:6: validty: ", "unknown key 'validty'", "allowed: name, description, validity"}},
      {"unknown nested key",
       kBase + "san:\n  max: 2\n  alow: []\n",
       {"t.yaml:8: san.alow: ", "unknown key 'alow'", "allowed: allow, add, max"}},
      {"unknown key in a list item",
       kBase + "san:\n  allow:\n    - {type: dns, patern: x}\n",
       {"t.yaml:8: san.allow[0].patern: ", "allowed: type, pattern"}},
      {"duplicate key",
       kBase + "validity: 2y\n",
       {"t.yaml:6: validity: ", "duplicate key (first at line 2)"}},
      {"missing required key",
       "name: t\nkeys: [ec-p256]\n",
       {"t.yaml:1: validity: required key missing"}},
      {"ambiguous duration unit",
       "name: t\nvalidity: 1m\nkeys: [ec-p256]\n",
       {"t.yaml:2: validity: ", "'m' is ambiguous"}},
      {"duration without unit",
       "name: t\nvalidity: 365\nkeys: [ec-p256]\n",
       {"t.yaml:2: validity: ", "needs a unit"}},
      {"bad backdate",
       kBase + "backdate: soon\n",
       {"t.yaml:6: backdate: ", "invalid duration 'soon'"}},
      {"bad rotation duration",
       kBase + "rotation:\n  renew_before: 30days\n",
       {"t.yaml:7: rotation.renew_before: ", "unknown unit 'days'"}},
      {"fractional percent",
       kBase + "rotation:\n  renew_before: 33.5%\n",
       {"t.yaml:7: rotation.renew_before: ", "whole percentage"}},
      {"keys is not a list",
       "name: t\nvalidity: 1y\nkeys: ec-p256\n",
       {"t.yaml:3: keys: ", "expected a list, found 'ec-p256'"}},
      {"unknown key algorithm",
       "name: t\nvalidity: 1y\nkeys:\n  - ec-p256\n  - ec-p521\n",
       {"t.yaml:5: keys[1]: ", "'ec-p521'", "allowed: ec-p256, ec-p384, ed25519"}},
      {"YAML 1.1 boolean",
       kBase + "basic_constraints: {ca: yes}\n",
       {"t.yaml:6: basic_constraints.ca: ", "expected true or false, found 'yes'"}},
      {"number expected",
       kBase + "san:\n  max: many\n",
       {"t.yaml:7: san.max: ", "expected a whole number"}},
      {"negative path_len",
       kBase + "basic_constraints:\n  ca: true\n  path_len: -1\n",
       {"t.yaml:8: basic_constraints.path_len: ", "between 0 and 32"}},
      {"string expected",
       kBase + "description: [a, b]\n",
       {"t.yaml:6: description: ", "expected a string, found a list"}},
      {"empty value", kBase + "description:\n", {"t.yaml:6: description: ", "found nothing"}},
      {"subject as a mapping",
       "name: t\nvalidity: 1y\nkeys: [ec-p256]\nsubject:\n  CN: x\n",
       {"t.yaml:4: subject: ", "expected a list"}},
      {"subject item with two pairs",
       "name: t\nvalidity: 1y\nkeys: [ec-p256]\nsubject:\n  - {CN: x, O: y}\n",
       {"t.yaml:5: subject[0]: ", "one 'TYPE: value' pair"}},
      {"unknown key usage",
       kBase + "key_usage: [digitalSignature, signing]\n",
       {"t.yaml:6: key_usage[1]: ", "'signing'", "allowed: digitalSignature, nonRepudiation"}},
      {"unknown SAN type",
       kBase + "san:\n  add:\n    - {type: x400, value: x}\n",
       {"t.yaml:8: san.add[0].type: ", "'x400'", "allowed: dns, ip, email, uri"}},
      {"SAN item missing its value",
       kBase + "san:\n  add:\n    - {type: dns}\n",
       {"t.yaml:8: san.add[0].value: required key missing"}},
      {"unknown rekey",
       kBase + "rotation:\n  renew_before: 10%\n  rekey: sometimes\n",
       {"t.yaml:8: rotation.rekey: ", "allowed: required, allowed, forbidden"}},
      {"YAML syntax error",
       "name: t\nvalidity: 1y\nkeys: [ec-p256\nsubject: []\n",
       {"t.yaml:", "YAML syntax error"}},
      {"top level not a mapping", "- a\n- b\n", {"t.yaml:1: ", "expected a mapping"}},
      {"empty document", "", {"t.yaml:1: empty profile"}},
      {"two documents", kBase + "---\nname: u\n", {"t.yaml:", "one profile per file"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const std::string msg = parse_error(c.yaml);
    CAPTURE(msg);
    for (const auto& e : c.expect)
      CHECK(msg.find(e) != std::string::npos);
  }
}

TEST_CASE("whole-profile errors are thrown by parse with file, line, key and id") {
  const std::string msg = parse_error(kBase +
                                      "key_usage: [digitalSignature]\n"  // 6
                                      "basic_constraints:\n"             // 7
                                      "  ca: false\n"                    // 8
                                      "  path_len: 1\n");                // 9
  CAPTURE(msg);
  CHECK(msg.find("t.yaml:9: basic_constraints.path_len: ") != std::string::npos);
  CHECK(msg.find("[basic_constraints.path_len_without_ca]") != std::string::npos);

  // Every error at once, one per line.
  const std::string two =
      parse_error("name: t\nvalidity: 0d\nkeys: [ec-p256]\nsubject:\n  - XX: y\n");
  CAPTURE(two);
  CHECK(two.find("t.yaml:2: validity: ") != std::string::npos);
  CHECK(two.find("[validity.zero]") != std::string::npos);
  CHECK(two.find("\nt.yaml:5: subject[0]: ") != std::string::npos);
  CHECK(two.find("[subject.unknown_attribute]") != std::string::npos);
}

// Contradictions: each has its own finding id.
TEST_CASE("validate_profile finds each contradiction") {
  using pki::KeyUsage;
  using pki::SanType;
  using pki::Severity;
  struct Case {
    const char* id;
    std::function<pki::ProfileSpec()> make;
    Severity severity = Severity::error;
  };
  const auto ee = [](auto&& change) {
    return [change] {
      auto s = valid_end_entity();
      change(s);
      return s;
    };
  };
  const auto ca = [](auto&& change) {
    return [change] {
      auto s = valid_ca();
      change(s);
      return s;
    };
  };
  using P = pki::ProfileSpec;
  const std::vector<Case> cases = {
      {"key_usage.ca_without_key_cert_sign", ca([](P& s) { s.key_usage = {KeyUsage::crl_sign}; })},
      {"key_usage.ca_without_crl_sign", ca([](P& s) { s.key_usage = {KeyUsage::key_cert_sign}; }),
       Severity::warning},
      {"key_usage.key_cert_sign_without_ca",
       ee([](P& s) { s.key_usage.push_back(KeyUsage::key_cert_sign); })},
      {"key_usage.crl_sign_without_ca",
       ee([](P& s) { s.key_usage.push_back(KeyUsage::crl_sign); })},
      {"key_usage.duplicate", ee([](P& s) { s.key_usage.push_back(KeyUsage::digital_signature); }),
       Severity::warning},
      {"key_usage.incompatible_key",
       ee([](P& s) { s.key_usage.push_back(KeyUsage::key_encipherment); }), Severity::warning},
      {"basic_constraints.path_len_without_ca", ee([](P& s) { s.path_len = 1; })},
      {"basic_constraints.path_len_negative", ca([](P& s) { s.path_len = -1; })},
      {"name_constraints.without_ca", ee([](P& s) {
         s.name_constraints.permitted = {{SanType::dns, ".acme.example"}};
       })},
      {"name_constraints.bad_value", ca([](P& s) {
         s.name_constraints.excluded = {{SanType::ip, "10.0.0.1"}};
       })},
      {"name_constraints.bad_value", ca([](P& s) {
         s.name_constraints.permitted = {{SanType::dns, "*.acme.example"}};
       })},
      {"keys.empty", ee([](P& s) { s.key_algorithms.clear(); })},
      {"keys.duplicate", ee([](P& s) { s.key_algorithms.push_back(pki::KeyAlgorithm::ec_p256); }),
       Severity::warning},
      {"validity.zero", ee([](P& s) { s.validity.duration = 0s; })},
      {"validity.backdate_too_long", ee([](P& s) {
         s.validity.duration = 1h;
         s.validity.backdate = 1h;
       })},
      {"validity.forever_ca", ca([](P& s) { s.validity.forever = true; }), Severity::warning},
      {"rotation.renew_before_too_long", ee([](P& s) {
         s.rotation.enabled = true;
         s.rotation.renew_before = 365 * 24h;
       })},
      {"rotation.renew_before_zero", ee([](P& s) {
         s.rotation.enabled = true;
         s.rotation.renew_before = 0s;
       })},
      {"rotation.percent_out_of_range", ee([](P& s) {
         s.rotation.enabled = true;
         s.rotation.renew_before_percent = 0;
       })},
      {"rotation.percent_out_of_range", ee([](P& s) {
         s.rotation.enabled = true;
         s.rotation.renew_before_percent = 100;
       })},
      {"rotation.both_percent_and_duration", ee([](P& s) {
         s.rotation.enabled = true;
         s.rotation.renew_before_percent = 33;
         s.rotation.renew_before = 30 * 24h;
       })},
      {"rotation.renew_before_missing", ee([](P& s) { s.rotation.enabled = true; })},
      {"rotation.forever", ee([](P& s) {
         s.validity.forever = true;
         s.rotation.enabled = true;
         s.rotation.renew_before_percent = 33;
       })},
      {"rotation.jitter_too_long", ee([](P& s) {
         s.rotation.enabled = true;
         s.rotation.renew_before_percent = 1;
         s.rotation.jitter = 7 * 24h;
       }),
       Severity::warning},
      {"extended_key_usage.unknown",
       ee([](P& s) { s.extended_key_usage.push_back("clientAuht"); })},
      {"extended_key_usage.unknown", ee([](P& s) { s.extended_key_usage.push_back("3.1.2"); })},
      {"extended_key_usage.duplicate",
       ee([](P& s) { s.extended_key_usage.push_back("clientAuth"); }), Severity::warning},
      {"extended_key_usage.critical_without_eku", ee([](P& s) {
         s.extended_key_usage.clear();
         s.extended_key_usage_critical = true;
       }),
       Severity::warning},
      {"policies.bad_oid", ee([](P& s) { s.policies = {"acme-policy"}; })},
      {"policies.bad_oid", ee([](P& s) { s.policies = {"1.3.06.1"}; })},
      {"policies.duplicate", ee([](P& s) {
         s.policies = {"1.3.6.1.4.1.99999.1", "1.3.6.1.4.1.99999.1"};
       })},
      {"crl_distribution_points.bad_url",
       ee([](P& s) { s.crl_distribution_points = {"ftp://pki.acme.example/x.crl"}; })},
      {"crl_distribution_points.bad_url",
       ee([](P& s) { s.crl_distribution_points = {"http://pki.acme.example/{ca.crl"}; })},
      {"aia.bad_url", ee([](P& s) { s.aia.ocsp = {"ocsp.acme.example"}; })},
      {"aia.bad_url", ee([](P& s) { s.aia.ca_issuers = {"https:///ca.crt"}; })},
      {"san.bad_pattern", ee([](P& s) {
         s.san.allow = {{SanType::dns, "dev*.acme.example"}};
       })},
      {"san.bad_pattern", ee([](P& s) {
         s.san.allow = {{SanType::ip, "10.0.0.0/33"}};
       })},
      {"san.bad_pattern", ee([](P& s) {
         s.san.allow = {{SanType::email, "acme.example"}};
       })},
      {"san.bad_pattern", ee([](P& s) {
         s.san.allow = {{SanType::dns, ""}};
       })},
      {"san.bad_type", ee([](P& s) {
         s.san.allow = {{static_cast<SanType>(42), "x"}};
       })},
      {"san.bad_value", ee([](P& s) {
         s.san.add = {{SanType::dns, "*.acme.example"}};
       })},
      {"san.bad_value", ee([](P& s) {
         s.san.add = {{SanType::uri, "no scheme"}};
       })},
      {"san.max_too_small", ee([](P& s) { s.san.max = 0; })},
      {"subject.empty_without_san", ee([](P& s) { s.subject.clear(); })},
      {"subject.unknown_attribute", ee([](P& s) {
         s.subject.push_back({"cn", "x"});
       })},
      {"subject.empty_value", ee([](P& s) {
         s.subject.push_back({"O", ""});
       })},
      {"subject.bad_template", ee([](P& s) {
         s.subject.push_back({"O", "{org"});
       })},
      {"signature_digest.unknown", ee([](P& s) { s.signature_digest = "sha1"; })},
      {"crl.zero", ca([](P& s) { s.crl.next_update = 0s; })},
      {"crl.delta_not_shorter", ca([](P& s) { s.crl.delta_next_update = s.crl.next_update; })},
      {"crl.freshest_without_delta", ca([](P& s) {
         s.crl.delta_next_update.reset();
         s.crl.freshest_crl = {"http://pki.acme.example/crl/{ca}-delta.crl"};
       })},
      {"crl.bad_url", ca([](P& s) {
         s.crl.delta_next_update = 24h;
         s.crl.freshest_crl = {"ftp://pki.acme.example/{ca}-delta.crl"};
       })},
      {"crl.bad_url", ca([](P& s) {
         s.crl.delta_next_update = 24h;
         s.crl.freshest_crl = {"http:///no-host.crl"};
       })},
      {"name.missing", ee([](P& s) { s.name.clear(); })},
      {"name.invalid", ee([](P& s) { s.name = "../etc"; })},
  };
  for (const auto& c : cases) {
    CAPTURE(c.id);
    const pki::Findings f = validate_profile(c.make());
    CHECK(f.contains(c.id));
    for (const auto& item : f.items()) {
      if (item.id == c.id) CHECK(item.severity == c.severity);
    }
    // A warning alone never makes a profile unusable.
    if (c.severity == Severity::warning) CHECK_FALSE(f.has_errors());
  }
}

TEST_CASE("valid profiles have no findings") {
  CHECK(validate_profile(valid_end_entity()).empty());
  CHECK(validate_profile(valid_ca()).empty());

  auto ca = valid_ca();
  ca.subject.clear();  // a CA's subject comes from --subject
  ca.name_constraints.permitted = {{pki::SanType::dns, ".acme.example"},
                                   {pki::SanType::ip, "10.0.0.0/8"},
                                   {pki::SanType::email, "acme.example"},
                                   {pki::SanType::uri, ".acme.example"}};
  ca.name_constraints.excluded = {{pki::SanType::ip, "2001:db8::/32"}};
  CHECK(validate_profile(ca).empty());

  auto ee = valid_end_entity();
  ee.subject.clear();  // empty subject with a SAN the profile adds
  ee.san.add = {{pki::SanType::dns, "{device_id}.devices.acme.example"},
                {pki::SanType::ip, "192.0.2.1"},
                {pki::SanType::ip, "{ip}"},
                {pki::SanType::email, "{device_id}@acme.example"}};
  ee.san.allow = {{pki::SanType::dns, "*.*.acme.example"}, {pki::SanType::ip, "2001:db8::/64"}};
  ee.rotation.enabled = true;
  ee.rotation.renew_before_percent = 99;
  ee.extended_key_usage = {"serverAuth", "1.3.6.1.5.5.7.3.2", "2.999.1"};
  ee.policies = {"anyPolicy", "2.23.140.1.2.1"};
  const auto f = validate_profile(ee);
  CHECK_MESSAGE(f.empty(), f.error_summary());
}

TEST_CASE("rotation: renew_before as a percentage or a duration") {
  const auto pct = pki::parse_profile(kBase + "rotation:\n  renew_before: 33%\n", "t.yaml");
  CHECK(pct.rotation.enabled);
  CHECK(pct.rotation.renew_before_percent == 33);
  CHECK_FALSE(pct.rotation.renew_before.has_value());
  CHECK(pct.rotation.rekey == pki::Rekey::allowed);  // default

  const auto dur = pki::parse_profile(
      kBase + "rotation: {renew_before: 30d, grace_after_expiry: 1w, rekey: required}\n", "t.yaml");
  CHECK(dur.rotation.renew_before == 30 * 24h);
  CHECK_FALSE(dur.rotation.renew_before_percent.has_value());
  CHECK(dur.rotation.grace_after_expiry == 7 * 24h);
  CHECK(dur.rotation.rekey == pki::Rekey::required);

  // Out of range is a whole-profile error, reported with its line.
  const std::string msg = parse_error(kBase + "rotation:\n  renew_before: 120%\n");
  CHECK(msg.find("t.yaml:7: rotation.renew_before: ") != std::string::npos);
  CHECK(msg.find("[rotation.percent_out_of_range]") != std::string::npos);
  // A section without renew_before.
  const std::string missing = parse_error(kBase + "rotation:\n  rekey: allowed\n");
  CHECK(missing.find("t.yaml:6: rotation.renew_before: ") != std::string::npos);
  CHECK(missing.find("[rotation.renew_before_missing]") != std::string::npos);
}

TEST_CASE("load_profile: name must equal the file stem; file errors") {
  const TempDir dir;
  const fs::path good = dir.write("t.yaml", kBase);
  CHECK(pki::load_profile(good).name == "t");

  const fs::path other = dir.write("other.yaml", kBase);
  try {
    pki::load_profile(other);
    FAIL("expected an error");
  } catch (const pki::Error& e) {
    const std::string msg = e.what();
    CAPTURE(msg);
    CHECK(e.code() == pki::ErrorCode::invalid_input);
    CHECK(msg.find(other.string() + ":1: name: ") != std::string::npos);
    CHECK(msg.find("'other'") != std::string::npos);
  }

  // The file name is the source in every message.
  const fs::path bad = dir.write("bad.yaml", "name: bad\nvalidity: 1y\nkeys: [ec-p256]\nfoo: 1\n");
  try {
    pki::load_profile(bad);
    FAIL("expected an error");
  } catch (const pki::Error& e) {
    CHECK(std::string(e.what()).find(bad.string() + ":4: foo: unknown key 'foo'") !=
          std::string::npos);
  }

  try {
    pki::load_profile(dir.path / "missing.yaml");
    FAIL("expected an error");
  } catch (const pki::Error& e) {
    CHECK(e.code() == pki::ErrorCode::not_found);
  }
}

TEST_CASE("expand_template") {
  const std::map<std::string, std::string> vars{
      {"device_id", "SN123"}, {"ca", "factory"}, {"profile", "device-ldevid"}, {"site", ""}};
  struct Case {
    const char* templ;
    const char* expected;  // nullptr: an error containing `error`
    const char* error = nullptr;
  };
  const std::vector<Case> cases = {
      {"", ""},
      {"plain", "plain"},
      {"{device_id}", "SN123"},
      {"urn:acme:device:{device_id}", "urn:acme:device:SN123"},
      {"http://pki/{ca}/{profile}.crl", "http://pki/factory/device-ldevid.crl"},
      {"{device_id}{device_id}", "SN123SN123"},
      {"x{site}y", "xy"},
      {"{{device_id}}", "{device_id}"},
      {"a{{b", "a{b"},
      {"a}}b", "a}b"},
      {"{{{device_id}}}", "{SN123}"},
      {"{serial}", nullptr, "unknown variable '{serial}'"},
      {"{device_id", nullptr, "unterminated '{'"},
      {"a}b", nullptr, "unmatched '}'"},
      {"{}", nullptr, "empty variable name"},
      {"{a b}", nullptr, "invalid variable name 'a b'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.templ);
    if (c.expected) {
      CHECK(pki::expand_template(c.templ, vars) == c.expected);
      continue;
    }
    try {
      pki::expand_template(c.templ, vars);
      FAIL("expected an error");
    } catch (const pki::Error& e) {
      CHECK(e.code() == pki::ErrorCode::invalid_input);
      CHECK(std::string(e.what()).find(c.error) != std::string::npos);
      CHECK(std::string(e.what()).find(c.templ) != std::string::npos);
    }
  }
  // The message lists what is defined, so a typo is easy to see.
  try {
    pki::expand_template("{devce_id}", vars);
  } catch (const pki::Error& e) {
    CHECK(std::string(e.what()).find("device_id") != std::string::npos);
  }
}

TEST_CASE("enum names round-trip") {
  for (auto t : {pki::SanType::dns, pki::SanType::ip, pki::SanType::email, pki::SanType::uri}) {
    CHECK(pki::parse_san_type(to_string(t)) == t);
  }
  for (auto u :
       {pki::KeyUsage::digital_signature, pki::KeyUsage::non_repudiation,
        pki::KeyUsage::key_encipherment, pki::KeyUsage::data_encipherment,
        pki::KeyUsage::key_agreement, pki::KeyUsage::key_cert_sign, pki::KeyUsage::crl_sign}) {
    CHECK(pki::parse_key_usage(to_string(u)) == u);
  }
  CHECK(to_string(pki::KeyUsage::crl_sign) == "cRLSign");
  CHECK(pki::parse_key_usage("contentCommitment") == pki::KeyUsage::non_repudiation);
  CHECK(to_string(pki::KeyUsage::non_repudiation) == "nonRepudiation");
  CHECK(to_string(pki::Rekey::required) == "required");
  CHECK(to_string(pki::Rekey::forbidden) == "forbidden");
  CHECK_THROWS_AS(pki::parse_san_type("DNS"), pki::Error);
  CHECK_THROWS_AS(pki::parse_key_usage("crlSign"), pki::Error);
}
