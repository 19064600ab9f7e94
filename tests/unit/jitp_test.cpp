// Just-in-time provisioning in-process: the strict template parser and its
// file:line: key messages, the certificate fields on real certificates, each
// condition operator, the attribute mapping, and apply_jitp on a real home
// (register, unchanged, conflict, untrusted, refused, decommissioned, dry run).
#include <doctest/doctest.h>

#include <fstream>

#include "home_fixture.hpp"
#include "pki/issuance.hpp"
#include "pki/jitp.hpp"
#include "pki/revocation.hpp"

using namespace pki;
using namespace pki::test;
using namespace std::chrono;
namespace fs = std::filesystem;

namespace {

const TimePoint kNow = sys_days{2026y / November / 27} + 12h;
const fs::path kFleet = fs::path(DEVPKI_SOURCE_DIR) / "templates" / "fleet.yaml";

// The message of the pki::Error `f` throws, after checking its code.
template <class F>
std::string error_of(F&& f, ErrorCode code) {
  try {
    f();
  } catch (const Error& e) {
    CHECK(e.code() == code);
    return e.what();
  }
  FAIL("expected pki::Error(" << to_string(code) << ")");
  return {};
}

std::string parse_error(const std::string& yaml) {
  return error_of([&] { parse_jitp_template(yaml, "t.yaml"); }, ErrorCode::invalid_input);
}

// A profile with more of everything: two OUs, every SAN type, three EKUs.
const char* kMultiProfile = R"(name: jitp-multi
validity: 1y
keys: [ec-p256, ed25519, rsa-2048]
subject:
  - O: Acme
  - OU: Devices
  - OU: Sensors
  - CN: "{device_id}"
san:
  allow:
    - {type: dns, pattern: "*.devices.acme.example"}
    - {type: ip, pattern: "10.0.0.0/8"}
    - {type: email, pattern: "*@acme.example"}
  add:
    - {type: uri, value: "urn:acme:device:{device_id}"}
key_usage: [digitalSignature]
extended_key_usage: [clientAuth, serverAuth, "1.3.6.1.4.1.99999.1"]
basic_constraints: {ca: false}
)";

struct Fixture : HomeFixture {
  Fixture() : HomeFixture(kNow) {
    std::ofstream(home.profiles_dir() / "jitp-multi.yaml") << kMultiProfile;
  }

  Certificate issue(const std::string& profile, const std::string& device,
                    const CsrOptions& csr = {}, const std::string& ca = "factory",
                    KeyAlgorithm alg = KeyAlgorithm::ec_p256) {
    SignRequest r;
    r.ca = ca;
    r.profile = profile;
    r.csr = make_csr_der(PrivateKey::generate(alg), csr);
    r.device_id = device;
    r.out = dir.path() / (device + "-" + std::to_string(++m_issued) + ".pem");
    r.passphrase = "pw";
    return sign_csr(home, r, clock).certificate;
  }

  void add_ca(const std::string& name) {
    IssuingCaOptions ica;
    ica.name = name;
    ica.parent = "root";
    ica.subject = DistinguishedName::parse("/O=Acme/CN=" + name);
    ica.protection.passphrase = "pw";
    ica.protection.encryption.pbkdf2_iterations = 1000;
    ica.parent_passphrase = "pw";
    create_issuing_ca(home, ica, clock);
  }

  JitpResult apply(const JitpTemplate& t, const Certificate& cert, bool dry_run = false) {
    JitpRequest r;
    r.cert = cert;
    r.dry_run = dry_run;
    r.actor = "tester";
    return apply_jitp(home, t, r, clock);
  }

  std::size_t audit_rows() { return home.store().audit_log().size(); }
  std::string devices() {
    return sql(
        "SELECT device_id || '|' || status || '|' || attributes || '|' || created_at || '|' || "
        "updated_at || '|' || ifnull(registered_by, '') || '|' || ifnull(registered_cert, '') "
        "FROM devices ORDER BY device_id");
  }

 private:
  int m_issued = 0;
};

// The fleet template of jitp.hpp's example, with `conditions` and
// `attributes` as given.
JitpTemplate fleet(const std::string& conditions, const std::string& attributes) {
  std::string yaml = "name: fleet\ntrust: [factory]\n";
  if (!conditions.empty()) yaml += "conditions:\n" + conditions;
  yaml += "attributes:\n" + attributes;
  return parse_jitp_template(yaml, "fleet.yaml");
}

const std::string kLdevidAttrs = "  device_id: \"{subject.CN}\"\n";

}  // namespace

// ---- parsing --------------------------------------------------------------------------

TEST_CASE("the example template parses with lines and kinds") {
  const auto t = parse_jitp_template(R"(name: fleet
description: "Acme devices from the factory line"
trust: [factory, acme-mfg]
conditions:
  - {field: subject.O, equals: Acme}
  - {field: subject.CN, matches: "ACME-[0-9]{8}"}
  - {field: eku, contains: clientAuth}
  - field: subject.OU
    one_of: [Devices, Sensors]
  - {field: san.dns, present: false}
attributes:
  device_id: "{subject.serialNumber}"
  model: {field: subject.CN, pattern: "([A-Z]+)-.*"}
  tenant: acme
)",
                                     "fleet.yaml");
  CHECK(t.name == "fleet");
  CHECK(t.description == "Acme devices from the factory line");
  CHECK(t.file == "fleet.yaml");
  CHECK(t.trust == std::vector<std::string>{"factory", "acme-mfg"});
  REQUIRE(t.conditions.size() == 5);
  CHECK(t.conditions[0].field == "subject.O");
  CHECK(t.conditions[0].op == JitpOp::equals);
  CHECK(t.conditions[0].values == std::vector<std::string>{"Acme"});
  CHECK(t.conditions[0].line == 5);
  CHECK(t.conditions[1].op == JitpOp::matches);
  CHECK(t.conditions[2].op == JitpOp::contains);
  CHECK(t.conditions[3].op == JitpOp::one_of);
  CHECK(t.conditions[3].values == std::vector<std::string>{"Devices", "Sensors"});
  CHECK(t.conditions[3].line == 8);
  CHECK(t.conditions[4].op == JitpOp::present);
  CHECK_FALSE(t.conditions[4].present);

  CHECK(t.conditions[0].describe() == "subject.O equals \"Acme\"");
  CHECK(t.conditions[1].describe() == "subject.CN matches \"ACME-[0-9]{8}\"");
  CHECK(t.conditions[2].describe() == "eku contains \"clientAuth\"");
  CHECK(t.conditions[3].describe() == "subject.OU one_of [\"Devices\", \"Sensors\"]");
  CHECK(t.conditions[4].describe() == "san.dns is absent");

  REQUIRE(t.attributes.size() == 3);  // document order
  CHECK(t.attributes[0].name == "device_id");
  CHECK(t.attributes[0].text == "{subject.serialNumber}");
  CHECK(t.attributes[0].line == 12);
  CHECK(t.attributes[1].name == "model");
  CHECK(t.attributes[1].field == "subject.CN");
  CHECK(t.attributes[1].pattern == "([A-Z]+)-.*");
  CHECK(t.attributes[1].text.empty());
  CHECK(t.attributes[2].name == "tenant");
  CHECK(t.attributes[2].text == "acme");

  CHECK(to_string(JitpOp::one_of) == "one_of");
  CHECK(to_string(JitpOp::present) == "present");
}

TEST_CASE("the shipped template loads") {
  const auto t = load_jitp_template(kFleet);
  CHECK(t.name == "fleet");
  CHECK(t.trust == std::vector<std::string>{"factory"});
  CHECK(t.file == kFleet.string());
  CHECK(t.conditions.size() >= 3);
  CHECK(t.attributes.size() == 3);
  require_error([] { load_jitp_template("/nonexistent/t.yaml"); }, ErrorCode::not_found,
                "template '/nonexistent/t.yaml' not found");
}

TEST_CASE("parse errors name the file, the line and the key") {
  const std::string head = "name: fleet\ntrust: [factory]\n";
  const std::string attrs = "attributes:\n  device_id: \"{subject.CN}\"\n";
  struct Case {
    std::string yaml;
    std::string message;
  };
  const std::vector<Case> cases{
      {head + "owner: me\n" + attrs,
       "t.yaml:3: owner: unknown key 'owner' (allowed: name, description, trust, conditions, "
       "attributes)"},
      {head + "attributes:\n  model: x\n", "t.yaml:3: attributes.device_id: required key missing"},
      {"trust: [factory]\n" + attrs, "t.yaml:1: name: required key missing"},
      {"name: fleet\n" + attrs, "t.yaml:1: trust: required key missing"},
      {head, "t.yaml:1: attributes: required key missing"},
      {head + "conditions:\n  - {field: subject.CN, matches: \"ACME-[0-9\"}\n" + attrs,
       "t.yaml:4: conditions[0].matches: regex \"ACME-[0-9\" does not compile: "},
      {head + "conditions:\n  - {field: subject.XX, equals: a}\n" + attrs,
       "t.yaml:4: conditions[0].field: unknown field 'subject.XX' (fields: subject.<attr>, "
       "issuer.<attr>, san.dns, san.uri, san.email, san.ip, eku, serial, key)"},
      {head + "conditions:\n  - {field: color, equals: a}\n" + attrs,
       "t.yaml:4: conditions[0].field: unknown field 'color'"},
      {head +
           "conditions:\n  - {field: subject.O, equals: Acme}\n  - field: subject.CN\n"
           "    equals: a\n    matches: b\n" +
           attrs,
       "t.yaml:7: conditions[1].matches: two operators (equals, matches): one per condition"},
      {head + "conditions:\n  - {field: subject.O, startswith: A}\n" + attrs,
       "t.yaml:4: conditions[0].startswith: unknown operator 'startswith' (operators: equals, "
       "matches, contains, one_of, present; and field)"},
      {head + "conditions:\n  - {field: subject.O}\n" + attrs,
       "t.yaml:4: conditions[0]: no operator (one of equals, matches, contains, one_of, present)"},
      {head + "conditions:\n  - {equals: Acme}\n" + attrs,
       "t.yaml:4: conditions[0].field: required key missing"},
      {head + "conditions:\n  - {field: san.dns, present: yes}\n" + attrs,
       "t.yaml:4: conditions[0].present: expected true or false, found 'yes'"},
      {head + "conditions:\n  - {field: subject.OU, one_of: Devices}\n" + attrs,
       "t.yaml:4: conditions[0].one_of: expected a list, found 'Devices'"},
      {head + "conditions:\n  - {field: subject.OU, one_of: []}\n" + attrs,
       "t.yaml:4: conditions[0].one_of: expected a non-empty list"},
      {head + "conditions:\n  - {field: eku, contains: ClientAuth}\n" + attrs,
       "t.yaml:4: conditions[0].contains: 'ClientAuth' is neither an extended key usage"},
      {head + "conditions:\n  - {field: serial, equals: \"0A:1B\"}\n" + attrs,
       "t.yaml:4: conditions[0].equals: '0A:1B' is not a serial as certificates are read"},
      {head + "conditions:\n  - subject.O\n" + attrs,
       "t.yaml:4: conditions[0]: expected a mapping, found 'subject.O'"},
      {head + attrs + "  Model: x\n",
       "t.yaml:5: attributes.Model: 'Model' is not an attribute name ([a-z][a-z0-9_]{0,31})"},
      {head + attrs + "  model: \"{subject.Colour}\"\n",
       "t.yaml:5: attributes.model: unknown field '{subject.Colour}'"},
      {head + attrs + "  model: \"{subject.CN\"\n", "t.yaml:5: attributes.model: unterminated '{'"},
      {head + attrs + "  model: {field: subject.CN}\n",
       "t.yaml:5: attributes.model.pattern: required key missing"},
      {head + attrs + "  model: {field: subject.CN, pattern: \"(\"}\n",
       "t.yaml:5: attributes.model.pattern: regex \"(\" does not compile"},
      {head + attrs + "  model: {field: subject.CN, pattern: x, group: 1}\n",
       "t.yaml:5: attributes.model.group: unknown key 'group' (allowed: field, pattern)"},
      {head + attrs + "  model: [a, b]\n", "t.yaml:5: attributes.model: expected text"},
      {head + attrs + "  model: \"\"\n", "t.yaml:5: attributes.model: expected non-empty text"},
      {head + attrs + "  device_id: x\n",
       "t.yaml:5: attributes.device_id: duplicate key (first at line 4)"},
      {"name: Fleet\ntrust: [factory]\n" + attrs, "t.yaml:1: name: 'Fleet' is not a template name"},
      {"name: fleet\ntrust: []\n" + attrs, "t.yaml:2: trust: expected a non-empty list"},
      {"name: fleet\ntrust: factory\n" + attrs,
       "t.yaml:2: trust: expected a list, found 'factory'"},
      {"name: fleet\ntrust: [factory, factory]\n" + attrs,
       "t.yaml:2: trust[1]: 'factory' is listed twice"},
      {"name: fleet\ntrust: [\"Acme CA\"]\n" + attrs,
       "t.yaml:2: trust[0]: 'Acme CA' is not a CA or trust anchor name"},
      {head + attrs + "---\nname: other\n", "t.yaml:6: one template per file"},
      {"name: [fleet\n", "t.yaml:2: YAML syntax error: "},
      {"", "t.yaml:1: empty template"},
      {"- a\n- b\n", "t.yaml:1: expected a mapping, found a list"},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    const std::string msg = parse_error(c.yaml);
    CHECK_MESSAGE(msg.rfind(c.message, 0) == 0, msg);
  }
  // `conditions:` with nothing, and an empty list, mean no conditions.
  CHECK(parse_jitp_template(head + "conditions:\n" + attrs, "t.yaml").conditions.empty());
  CHECK(parse_jitp_template(head + "conditions: []\n" + attrs, "t.yaml").conditions.empty());
  // Braces doubled are literal; long names, OIDs and the issuer are fields.
  const auto t = parse_jitp_template(
      head + attrs + "  note: \"{{x}} {issuer.commonName} {subject.2.5.4.3}\"\n", "t.yaml");
  CHECK(t.attributes.back().text == "{{x}} {issuer.commonName} {subject.2.5.4.3}");
}

TEST_CASE("known fields") {
  for (const char* f :
       {"subject.CN", "subject.O", "subject.OU", "subject.C", "subject.L", "subject.ST",
        "subject.serialNumber", "subject.commonName", "subject.2.5.4.3", "issuer.CN", "issuer.O",
        "san.dns", "san.uri", "san.email", "san.ip", "eku", "serial", "key"}) {
    CHECK_MESSAGE(is_known_field(f), f);
  }
  for (const char* f : {"", "subject", "subject.", "subject.XX", "san", "san.rid", "ekus", "Serial",
                        "issuer.CN.x", "subject.9.9", "cn"}) {
    CHECK_FALSE_MESSAGE(is_known_field(f), f);
  }
}

// ---- certificate fields ----------------------------------------------------------------

TEST_CASE("certificate_field reads every kind of field") {
  Fixture f;
  const Certificate idevid = f.issue("device-idevid", "ACME-00000001");
  CHECK(certificate_field(idevid, "subject.O") == std::vector<std::string>{"Acme"});
  CHECK(certificate_field(idevid, "subject.CN") == std::vector<std::string>{"ACME-00000001"});
  CHECK(certificate_field(idevid, "subject.commonName") ==
        std::vector<std::string>{"ACME-00000001"});
  CHECK(certificate_field(idevid, "subject.2.5.4.3") == std::vector<std::string>{"ACME-00000001"});
  CHECK(certificate_field(idevid, "subject.serialNumber") ==
        std::vector<std::string>{"ACME-00000001"});
  CHECK(certificate_field(idevid, "subject.OU").empty());
  CHECK(certificate_field(idevid, "issuer.CN") == std::vector<std::string>{"Acme Factory CA"});
  CHECK(certificate_field(idevid, "issuer.O") == std::vector<std::string>{"Acme"});
  CHECK(certificate_field(idevid, "eku") == std::vector<std::string>{"clientAuth"});
  CHECK(certificate_field(idevid, "serial") == std::vector<std::string>{idevid.serial_hex()});
  CHECK(certificate_field(idevid, "key") == std::vector<std::string>{"ec-p256"});
  for (const char* san : {"san.dns", "san.uri", "san.email", "san.ip"})
    CHECK(certificate_field(idevid, san).empty());

  const Certificate multi =
      f.issue("jitp-multi", "m-1",
              CsrOptions{}.with_cn("m-1").with_sans(
                  "DNS:m-1.devices.acme.example,DNS:alt.devices.acme.example,IP:10.1.2.3,"
                  "email:m-1@acme.example"),
              "factory", KeyAlgorithm::ed25519);
  CHECK(certificate_field(multi, "subject.OU") == std::vector<std::string>{"Devices", "Sensors"});
  CHECK(certificate_field(multi, "san.dns") ==
        std::vector<std::string>{"m-1.devices.acme.example", "alt.devices.acme.example"});
  CHECK(certificate_field(multi, "san.ip") == std::vector<std::string>{"10.1.2.3"});
  CHECK(certificate_field(multi, "san.email") == std::vector<std::string>{"m-1@acme.example"});
  CHECK(certificate_field(multi, "san.uri") == std::vector<std::string>{"urn:acme:device:m-1"});
  CHECK(certificate_field(multi, "eku") ==
        std::vector<std::string>{"clientAuth", "serverAuth", "1.3.6.1.4.1.99999.1"});
  CHECK(certificate_field(multi, "key") == std::vector<std::string>{"ed25519"});

  const Certificate rsa =
      f.issue("device-idevid", "ACME-00000002", {}, "factory", KeyAlgorithm::rsa_2048);
  CHECK(certificate_field(rsa, "key") == std::vector<std::string>{"rsa-2048"});

  require_error([&] { certificate_field(idevid, "subject.XX"); }, ErrorCode::invalid_input,
                "unknown certificate field 'subject.XX'");
}

// ---- conditions --------------------------------------------------------------------------

TEST_CASE("each operator holds or refuses with its exact message") {
  Fixture f;
  const Certificate cert =
      f.issue("device-ldevid", "dev-1", CsrOptions{}.with_sans("DNS:dev-1.devices.acme.example"));
  const Certificate multi =
      f.issue("jitp-multi", "m-1", CsrOptions{}.with_sans("DNS:m-1.devices.acme.example"));
  struct Case {
    std::string condition;
    bool multi = false;
    std::string refusal;  // empty: holds
  };
  const std::vector<Case> cases{
      {"{field: subject.O, equals: Acme}", false, ""},
      {"{field: subject.O, equals: Evil}", false,
       "condition 1 (subject.O equals \"Evil\") failed: subject.O is \"Acme\""},
      {"{field: subject.OU, equals: Sensors}", true, ""},  // any value
      {"{field: subject.C, equals: DE}", false,
       "condition 1 (subject.C equals \"DE\") failed: subject.C has no value"},
      {"{field: subject.CN, matches: \"dev-[0-9]+\"}", false, ""},
      {"{field: subject.CN, matches: \"dev\"}", false,  // the whole value
       "condition 1 (subject.CN matches \"dev\") failed: subject.CN is \"dev-1\""},
      {"{field: san.dns, matches: \".*\\\\.acme\\\\.example\"}", false, ""},
      {"{field: eku, contains: clientAuth}", false, ""},
      {"{field: eku, contains: serverAuth}", false,
       "condition 1 (eku contains \"serverAuth\") failed: eku is [\"clientAuth\"]"},
      {"{field: eku, contains: \"1.3.6.1.4.1.99999.1\"}", true, ""},
      {"{field: eku, contains: codeSigning}", true,
       "condition 1 (eku contains \"codeSigning\") failed: eku is [\"clientAuth\", \"serverAuth\", "
       "\"1.3.6.1.4.1.99999.1\"]"},
      {"{field: subject.OU, one_of: [Devices, Sensors]}", false, ""},
      {"{field: subject.OU, one_of: [Devices, Sensors]}", true, ""},
      {"{field: subject.OU, one_of: [Devices]}", true,
       "condition 1 (subject.OU one_of [\"Devices\"]) failed: subject.OU is [\"Devices\", "
       "\"Sensors\"]"},
      {"{field: subject.OU, one_of: [Sensors]}", false,
       "condition 1 (subject.OU one_of [\"Sensors\"]) failed: subject.OU is \"Devices\""},
      {"{field: san.email, one_of: [a@acme.example]}", false,
       "condition 1 (san.email one_of [\"a@acme.example\"]) failed: san.email has no value"},
      {"{field: key, one_of: [ec-p256, ed25519]}", false, ""},
      {"{field: san.dns, present: true}", false, ""},
      {"{field: san.email, present: false}", false, ""},
      {"{field: san.email, present: true}", false,
       "condition 1 (san.email is present) failed: san.email has no value"},
      {"{field: san.dns, present: false}", false,
       "condition 1 (san.dns is absent) failed: san.dns is [\"dev-1.devices.acme.example\"]"},
      {"{field: issuer.CN, equals: Acme Factory CA}", false, ""},
  };
  for (const auto& c : cases) {
    INFO(c.condition);
    const JitpTemplate t = fleet("  - " + c.condition + "\n", kLdevidAttrs);
    const Certificate& subject = c.multi ? multi : cert;
    if (c.refusal.empty()) {
      const auto r = f.apply(t, subject, true);
      CHECK(r.conditions == std::vector<std::string>{t.conditions[0].describe()});
    } else {
      CHECK(error_of([&] { f.apply(t, subject, true); }, ErrorCode::policy) == c.refusal);
    }
  }
  // In order: the first that fails is named.
  const JitpTemplate t = fleet(
      "  - {field: subject.O, equals: Acme}\n  - {field: subject.OU, equals: Sensors}\n"
      "  - {field: subject.CN, equals: nope}\n",
      kLdevidAttrs);
  CHECK(error_of([&] { f.apply(t, cert, true); }, ErrorCode::policy) ==
        "condition 2 (subject.OU equals \"Sensors\") failed: subject.OU is \"Devices\"");
}

// ---- attributes --------------------------------------------------------------------------

TEST_CASE("attributes: templates, patterns, literals and missing values") {
  Fixture f;
  const Certificate cert =
      f.issue("device-ldevid", "dev-1", CsrOptions{}.with_sans("DNS:dev-1.devices.acme.example"));
  const Certificate multi =
      f.issue("jitp-multi", "m-1",
              CsrOptions{}.with_sans("DNS:m-1.devices.acme.example,DNS:n-1.devices.acme.example"));

  const auto r = f.apply(fleet("", R"y(  device_id: "{subject.CN}"
  path: "{subject.O}/{subject.OU}/{subject.CN}"
  number: {field: subject.CN, pattern: "dev-([0-9]+)"}
  host: {field: san.dns, pattern: ".*\\.acme\\.example"}
  tenant: acme
  braces: "{{literal}}"
)y"),
                         cert, true);
  CHECK(r.device_id == "dev-1");
  CHECK(r.attributes == std::map<std::string, std::string>{{"path", "Acme/Devices/dev-1"},
                                                           {"number", "1"},
                                                           {"host", "dev-1.devices.acme.example"},
                                                           {"tenant", "acme"},
                                                           {"braces", "{literal}"}});
  CHECK(r.outcome == RegisterOutcome::registered);
  CHECK(r.device.device_id == "dev-1");
  CHECK(
      r.device.attributes ==
      R"({"braces":"{literal}","host":"dev-1.devices.acme.example","number":"1","path":"Acme/Devices/dev-1","tenant":"acme"})");

  // A pattern picks the one value of a multi-valued field that matches.
  const auto m = f.apply(fleet("", R"y(  device_id: "{subject.CN}"
  oid: {field: eku, pattern: "1\\.3\\.6\\.1\\.4\\.1\\.99999\\.(.*)"}
  host: {field: san.dns, pattern: "(n-1)\\..*"}
)y"),
                         multi, true);
  CHECK(m.attributes == std::map<std::string, std::string>{{"oid", "1"}, {"host", "n-1"}});

  struct Case {
    std::string attributes;
    bool multi = false;
    std::string refusal;
  };
  const std::vector<Case> cases{
      {"  device_id: \"{subject.CN}\"\n  model: \"{subject.serialNumber}\"\n", false,
       "attribute model: subject.serialNumber has no value"},
      {"  device_id: \"{subject.serialNumber}\"\n", false,
       "attribute device_id: subject.serialNumber has no value"},
      {"  device_id: \"{subject.CN}\"\n  model: {field: subject.CN, pattern: \"x(.*)\"}\n", false,
       "attribute model: subject.CN is \"dev-1\", which does not match \"x(.*)\""},
      {"  device_id: \"{subject.CN}\"\n  model: {field: san.email, pattern: \"(.*)\"}\n", false,
       "attribute model: san.email has no value"},
      {"  device_id: \"{subject.CN}\"\n  ou: \"{subject.OU}\"\n", true,
       "attribute ou: subject.OU is [\"Devices\", \"Sensors\"]; {subject.OU} needs exactly one (a "
       "pattern attribute picks one)"},
      {"  device_id: \"{subject.CN}\"\n  host: {field: san.dns, pattern: \"(.*)\\\\..*\"}\n", true,
       "attribute host: san.dns is [\"m-1.devices.acme.example\", \"n-1.devices.acme.example\"], "
       "several of which match \"(.*)\\..*\" with different results"},
      {"  device_id: \"{subject.CN}\"\n  host: {field: san.dns, pattern: \"x\"}\n", true,
       "attribute host: san.dns is [\"m-1.devices.acme.example\", \"n-1.devices.acme.example\"], "
       "none of which matches \"x\""},
      {"  device_id: \"{subject.CN} x\"\n", false, "attribute device_id: "},
      {"  device_id: \"{subject.CN}\"\n  model: {field: subject.CN, pattern: \"dev-1()\"}\n", false,
       "attribute model maps to an empty value"},
  };
  for (const auto& c : cases) {
    INFO(c.attributes);
    const std::string msg = error_of(
        [&] { f.apply(fleet("", c.attributes), c.multi ? multi : cert, true); }, ErrorCode::policy);
    CHECK_MESSAGE(msg.rfind(c.refusal, 0) == 0, msg);
  }
}

// ---- apply_jitp on a home ------------------------------------------------------------------

TEST_CASE("apply_jitp registers once, then leaves the device unchanged") {
  Fixture f;
  const Certificate cert = f.issue("device-idevid", "ACME-00000042");
  const JitpTemplate t = load_jitp_template(kFleet);

  const std::size_t before = f.audit_rows();
  const auto r = f.apply(t, cert);
  CHECK(r.outcome == RegisterOutcome::registered);
  CHECK(r.device_id == "ACME-00000042");
  CHECK(r.attributes == std::map<std::string, std::string>{{"model", "ACME"}, {"tenant", "acme"}});
  CHECK(r.device.device_id == "ACME-00000042");
  CHECK(r.device.status == "active");
  CHECK(r.device.attributes == R"({"model":"ACME","tenant":"acme"})");
  CHECK(r.device.registered_by == "fleet");
  CHECK(r.device.registered_cert == cert.fingerprint_sha256_hex());
  CHECK(r.verified.home_issuer == "factory");
  CHECK(r.conditions.size() == t.conditions.size());
  CHECK(r.conditions[0] == "subject.O equals \"Acme\"");

  const auto log = f.home.store().audit_log();
  REQUIRE(log.size() == before + 1);
  CHECK(log.back().action == "jitp.register");
  CHECK(log.back().actor == "tester");
  CHECK(log.back().subject == "device/ACME-00000042");
  const auto detail = nlohmann::json::parse(log.back().detail);
  CHECK(detail["template"] == "fleet");
  CHECK(detail["certificate_sha256"] == cert.fingerprint_sha256_hex());
  CHECK(detail["attributes"] == nlohmann::json{{"model", "ACME"}, {"tenant", "acme"}});

  const auto stored = f.home.store().find_device("ACME-00000042");
  REQUIRE(stored);
  CHECK(stored->attributes == R"({"model":"ACME","tenant":"acme"})");
  CHECK(stored->registered_by == "fleet");

  const std::string row = f.devices();
  f.clock.advance(hours(1));
  const auto again = f.apply(t, cert);
  CHECK(again.outcome == RegisterOutcome::unchanged);
  CHECK(again.device.attributes == r.device.attributes);
  CHECK(f.audit_rows() == before + 1);
  CHECK(f.devices() == row);

  // A dry run now says unchanged too, and writes nothing.
  const auto dry = f.apply(t, cert, true);
  CHECK(dry.outcome == RegisterOutcome::unchanged);
  CHECK(f.audit_rows() == before + 1);
}

TEST_CASE("apply_jitp refuses other attributes for a registered device") {
  Fixture f;
  const Certificate cert = f.issue("device-idevid", "ACME-00000042");
  const auto yaml = [](const std::string& tenant, const std::string& extra) {
    return "name: fleet\ntrust: [factory]\nattributes:\n  device_id: \"{subject.serialNumber}\"\n"
           "  model: {field: subject.CN, pattern: \"([A-Z]+)-.*\"}\n  tenant: " +
           tenant + "\n" + extra;
  };
  f.apply(parse_jitp_template(yaml("acme", ""), "a.yaml"), cert);
  const std::string row = f.devices();
  const std::size_t rows = f.audit_rows();

  const JitpTemplate other = parse_jitp_template(yaml("globex", "  site: berlin\n"), "b.yaml");
  const std::string expected =
      "device ACME-00000042 is registered with site=(none), tenant=\"acme\"; this certificate "
      "maps site=\"berlin\", tenant=\"globex\": nothing changed";
  CHECK(error_of([&] { f.apply(other, cert, true); }, ErrorCode::conflict) == expected);
  CHECK(f.audit_rows() == rows);  // a dry run records nothing
  CHECK(error_of([&] { f.apply(other, cert); }, ErrorCode::conflict) == expected);
  CHECK(f.devices() == row);
  const auto log = f.home.store().audit_log();
  REQUIRE(log.size() == rows + 1);
  CHECK(log.back().action == "jitp.refused");
  CHECK(log.back().subject == "device/ACME-00000042");
  const auto detail = nlohmann::json::parse(log.back().detail);
  CHECK(detail["template"] == "fleet");
  CHECK(detail["certificate_sha256"] == cert.fingerprint_sha256_hex());
  CHECK(detail["reason"] == expected);
}

TEST_CASE("apply_jitp refuses an untrusted CA, a failing condition, a decommissioned device") {
  Fixture f;
  f.add_ca("other");
  const JitpTemplate t = load_jitp_template(kFleet);

  SUBCASE("a certificate from a CA the template does not trust") {
    const Certificate cert = f.issue("device-idevid", "ACME-00000007", {}, "other");
    const std::size_t rows = f.audit_rows();
    const std::string msg = error_of([&] { f.apply(t, cert); }, ErrorCode::policy);
    CHECK(msg.find("does not chain to a trusted CA") != std::string::npos);
    CHECK(f.devices().empty());
    const auto log = f.home.store().audit_log();
    REQUIRE(log.size() == rows + 1);
    CHECK(log.back().action == "jitp.refused");
    CHECK(log.back().subject == "certificate/" + cert.fingerprint_sha256_hex());
    CHECK(nlohmann::json::parse(log.back().detail)["reason"] == msg);
    // Trusting it makes the difference.
    auto both = t;
    both.trust.push_back("other");
    CHECK(f.apply(both, cert, true).outcome == RegisterOutcome::registered);
  }
  SUBCASE("a condition that fails") {
    const Certificate cert = f.issue("device-idevid", "ACME-7");
    const std::size_t rows = f.audit_rows();
    const std::string expected =
        "condition 2 (subject.CN matches \"ACME-[0-9]{8}\") failed: subject.CN is \"ACME-7\"";
    CHECK(error_of([&] { f.apply(t, cert); }, ErrorCode::policy) == expected);
    CHECK(f.devices().empty());
    const auto log = f.home.store().audit_log();
    REQUIRE(log.size() == rows + 1);
    CHECK(log.back().action == "jitp.refused");
    const auto detail = nlohmann::json::parse(log.back().detail);
    CHECK(detail["reason"] == expected);
    CHECK(detail["template"] == "fleet");
    CHECK(detail["certificate_sha256"] == cert.fingerprint_sha256_hex());
  }
  SUBCASE("a revoked certificate") {
    const Certificate cert = f.issue("device-idevid", "ACME-00000008");
    RevokeOptions opts;
    opts.reason = RevocationReason::key_compromise;
    RevokeTarget target;
    target.serial_hex = cert.serial_hex();
    target.ca = "factory";
    revoke(f.home, target, opts, f.clock);
    const std::string msg = error_of([&] { f.apply(t, cert); }, ErrorCode::policy);
    CHECK(msg.find("revoked") != std::string::npos);
    CHECK(f.devices().empty());
  }
  SUBCASE("a trust name that is neither a CA nor an anchor") {
    auto bad = t;
    bad.trust = {"factory", "nobody"};
    const Certificate cert = f.issue("device-idevid", "ACME-00000009");
    CHECK(error_of([&] { f.apply(bad, cert); }, ErrorCode::not_found) ==
          "template " + kFleet.string() +
              ": trust: 'nobody' is neither a CA of this home nor a bootstrap anchor "
              "(devpki-ca trust list)");
  }
  SUBCASE("a decommissioned device") {
    // The template's device id is not the certificate's, so the device can
    // be decommissioned while the certificate stays valid.
    const JitpTemplate j = parse_jitp_template(
        "name: fleet-j\ntrust: [factory]\nattributes:\n  device_id: \"{subject.serialNumber}-j\"\n",
        "j.yaml");
    const Certificate cert = f.issue("device-idevid", "ACME-00000010");
    CHECK(f.apply(j, cert).outcome == RegisterOutcome::registered);
    const std::vector<std::string> ids{"ACME-00000010-j"};
    f.home.store().decommission(ids, 5, f.clock.now(), false);
    const std::string row = f.devices();
    const std::size_t rows = f.audit_rows();
    CHECK(error_of([&] { f.apply(j, cert, true); }, ErrorCode::policy)
              .rfind("device ACME-00000010-j is decommissioned", 0) == 0);
    CHECK(f.audit_rows() == rows);
    CHECK(error_of([&] { f.apply(j, cert); }, ErrorCode::policy)
              .rfind("device ACME-00000010-j is decommissioned", 0) == 0);
    CHECK(f.devices() == row);
    CHECK(f.audit_rows() == rows + 1);
    CHECK(f.home.store().audit_log().back().action == "jitp.refused");
  }
}

TEST_CASE("a dry run decides and writes nothing") {
  Fixture f;
  const Certificate cert = f.issue("device-idevid", "ACME-00000042");
  const Certificate bad = f.issue("device-idevid", "ACME-7");
  const JitpTemplate t = load_jitp_template(kFleet);
  const std::size_t rows = f.audit_rows();

  const auto r = f.apply(t, cert, true);
  CHECK(r.outcome == RegisterOutcome::registered);
  CHECK(r.device_id == "ACME-00000042");
  CHECK(r.device.attributes == R"({"model":"ACME","tenant":"acme"})");
  CHECK(r.device.registered_by == "fleet");
  CHECK(r.device.registered_cert == cert.fingerprint_sha256_hex());
  CHECK(r.device.status == "active");
  CHECK(r.verified.home_issuer == "factory");
  CHECK(r.conditions.size() == t.conditions.size());
  CHECK_FALSE(f.home.store().find_device("ACME-00000042"));
  CHECK(f.devices().empty());

  CHECK_THROWS_AS(f.apply(t, bad, true), Error);
  CHECK(f.audit_rows() == rows);

  // What the dry run planned is what the real run does.
  const auto real = f.apply(t, cert);
  CHECK(real.outcome == RegisterOutcome::registered);
  CHECK(real.device.attributes == r.device.attributes);
}
