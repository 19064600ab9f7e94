// The issuance pipeline end to end in-process: a home, a root, an issuing CA,
// CSRs signed under the shipped profiles, and the refusals that must leave the
// store untouched.
#include <doctest/doctest.h>

#include <fstream>

#include "issuance/san_match.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"
#include "pki/issuance.hpp"
#include "test_util.hpp"

using namespace pki;
using namespace std::chrono;

namespace {

const std::filesystem::path kProfiles = std::filesystem::path(DEVPKI_SOURCE_DIR) / "profiles";
const TimePoint kNow = sys_days{2026y / November / 27} + 12h;

struct Fixture {
  test::TempDir dir;
  FixedClock clock{kNow};
  Home home = Home::create(dir.path() / "pki", kProfiles);

  Fixture() {
    RootOptions root;
    root.name = "root";
    root.subject = DistinguishedName::parse("/O=Acme/CN=Acme Root CA");
    root.protection.passphrase = "pw";
    root.protection.encryption.pbkdf2_iterations = 1000;  // speed; the CLI tests check the default
    create_root(home, root, clock);
    IssuingCaOptions ica;
    ica.name = "factory";
    ica.parent = "root";
    ica.subject = DistinguishedName::parse("/O=Acme/CN=Acme Factory CA");
    ica.protection = root.protection;
    ica.parent_passphrase = "pw";
    create_issuing_ca(home, ica, clock);
  }

  SignRequest request(const std::vector<std::uint8_t>& csr, const std::string& device,
                      const std::string& out) {
    SignRequest r;
    r.ca = "factory";
    r.profile = "device-ldevid";
    r.csr = csr;
    r.device_id = device;
    r.out = dir.path() / out;
    r.passphrase = "pw";
    return r;
  }

  std::size_t cert_rows() { return home.store().find_certs({}).size(); }
};

}  // namespace

TEST_CASE("sign_csr issues, records and delivers") {
  Fixture f;
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const SignResult res =
      sign_csr(f.home, f.request(test::make_csr_der(key), "SN-1", "sn1.pem"), f.clock);

  CHECK(res.certificate.public_key() == key.public_key());
  CHECK(res.certificate.subject().get("CN") == "SN-1");
  CHECK(res.certificate.not_before() == kNow - minutes(5));
  CHECK(res.certificate.not_after() == kNow + days(365));
  CHECK(res.certificate.aki_hex() == ca_chain(f.home, "factory").front().ski_hex());
  const auto rec = f.home.store().find_cert("factory", res.serial_hex);
  REQUIRE(rec);
  CHECK(rec->status == CertStatus::issued);
  CHECK(rec->device_id == "SN-1");
  CHECK(rec->der == res.certificate.der());
  CHECK(Certificate::load(f.dir.path() / "sn1.pem").der() == res.certificate.der());
  // Serial: 16 random bytes with the top bit clear, so 15 or 16 octets encoded.
  CHECK(res.serial_hex.size() >= 16);
  CHECK(res.serial_hex.size() <= 32);
}

TEST_CASE("refusals before the reserve step leave the store and output untouched") {
  Fixture f;
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  sign_csr(f.home, f.request(test::make_csr_der(key), "SN-1", "first.pem"), f.clock);
  const std::size_t rows = f.cert_rows();

  struct Case {
    const char* name;
    SignRequest req;
    ErrorCode code;
  };
  std::vector<Case> cases;
  cases.push_back({"live duplicate device", f.request(test::make_csr_der(key), "SN-1", "dup.pem"),
                   ErrorCode::conflict});
  cases.push_back(
      {"CA:TRUE requested",
       f.request(test::make_csr_der(key, test::CsrOptions().with_ca()), "SN-2", "ca.pem"),
       ErrorCode::policy});
  cases.push_back(
      {"SAN outside the profile",
       f.request(test::make_csr_der(key, test::CsrOptions().with_sans("DNS:evil.example")), "SN-3",
                 "san.pem"),
       ErrorCode::policy});
  cases.push_back({"bad device id", f.request(test::make_csr_der(key), "bad id", "id.pem"),
                   ErrorCode::invalid_input});
  cases.push_back({"existing output", f.request(test::make_csr_der(key), "SN-4", "first.pem"),
                   ErrorCode::conflict});
  auto wrong_pw = f.request(test::make_csr_der(key), "SN-5", "pw.pem");
  wrong_pw.passphrase = "nope";
  cases.push_back({"wrong passphrase", wrong_pw, ErrorCode::crypto});
  auto unknown_ca = f.request(test::make_csr_der(key), "SN-6", "ca2.pem");
  unknown_ca.ca = "nope";
  cases.push_back({"unknown CA", unknown_ca, ErrorCode::not_found});
  auto ca_profile = f.request(test::make_csr_der(key), "SN-7", "cap.pem");
  ca_profile.profile = "issuing-ca";
  cases.push_back({"CA profile", ca_profile, ErrorCode::policy});

  for (const auto& c : cases) {
    CAPTURE(c.name);
    const bool existed = std::filesystem::exists(c.req.out);
    try {
      sign_csr(f.home, c.req, f.clock);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == c.code);
    }
    CHECK(f.cert_rows() == rows);
    CHECK(std::filesystem::exists(c.req.out) == existed);
  }
}

TEST_CASE("an expired certificate no longer blocks its device") {
  Fixture f;
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  sign_csr(f.home, f.request(test::make_csr_der(key), "SN-1", "a.pem"), f.clock);
  f.clock.advance(days(366));
  CHECK_NOTHROW(sign_csr(f.home, f.request(test::make_csr_der(key), "SN-1", "b.pem"), f.clock));
}

TEST_CASE("issuing CA validity is clamped to the parent's, pathLen is honoured") {
  Fixture f;
  IssuingCaOptions o;
  o.name = "long";
  o.parent = "root";
  o.subject = DistinguishedName::parse("/O=Acme/CN=Long");
  o.validity = years(60);
  o.protection.plaintext = true;
  o.parent_passphrase = "pw";
  const CaRecord rec = create_issuing_ca(f.home, o, f.clock).record;
  CHECK(rec.not_after == f.home.store().find_ca("root")->not_after);

  // issuing-ca has pathLen 0: it cannot sign another CA.
  o.name = "under-factory";
  o.parent = "factory";
  o.validity.reset();
  try {
    create_issuing_ca(f.home, o, f.clock);
    FAIL("a CA under a pathLen 0 CA was created");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::policy);
    CHECK(std::string(e.what()).find("pathLen") != std::string::npos);
  }
  CHECK_FALSE(f.home.store().find_ca("under-factory"));
  CHECK_FALSE(std::filesystem::exists(f.home.keys_dir() / "under-factory.key.pem"));
}

TEST_CASE("profiles decide the subject; CSR SANs pass only through allow rules") {
  ProfileSpec p;
  p.name = "t";
  p.subject = {{"O", "Acme"}, {"OU", "{unit}"}, {"CN", "{device_id}"}};
  p.san.allow = {{SanType::dns, "{device_id}.devices.example"}, {SanType::ip, "10.0.0.0/8"}};
  p.san.add = {{SanType::uri, "urn:dev:{device_id}"}};
  p.san.max = 3;
  const std::map<std::string, std::string> vars = {{"device_id", "d1"}, {"unit", ""}};

  CHECK(build_subject(p, vars).to_slash_string() == "/O=Acme/CN=d1");  // empty OU dropped
  const auto sans =
      build_sans(p, {{SanType::dns, "d1.devices.example"}, {SanType::ip, "10.1.2.3"}}, vars);
  CHECK(sans.size() == 3);
  CHECK(sans[0] == SubjectAltName{SanType::uri, "urn:dev:d1"});
  CHECK_THROWS_AS(build_sans(p, {{SanType::dns, "d2.devices.example"}}, vars), Error);
  CHECK_THROWS_AS(build_sans(p, {{SanType::ip, "192.168.0.1"}}, vars), Error);
  CHECK_THROWS_AS(build_sans(p, {{SanType::email, "a@d1.devices.example"}}, vars), Error);
}

TEST_CASE("SAN pattern matching") {
  struct Case {
    SanType type;
    const char* pattern;
    const char* value;
    bool match;
  };
  const Case cases[] = {
      {SanType::dns, "*.acme.example", "a.acme.example", true},
      {SanType::dns, "*.acme.example", "A.ACME.example", true},
      {SanType::dns, "*.acme.example", "a.b.acme.example", false},  // one label only
      {SanType::dns, "*.acme.example", "acme.example", false},
      {SanType::dns, "*.acme.example", ".acme.example", false},
      {SanType::ip, "10.0.0.0/8", "10.255.1.1", true},
      {SanType::ip, "10.0.0.0/8", "11.0.0.1", false},
      {SanType::ip, "2001:db8::/32", "2001:db8::1", true},
      {SanType::ip, "2001:db8::/32", "10.0.0.1", false},
      {SanType::ip, "192.0.2.1", "192.0.2.1", true},
      {SanType::email, "*@acme.example", "ops@ACME.example", true},
      {SanType::email, "*@acme.example", "ops@evil.example", false},
      {SanType::uri, "urn:acme:*", "urn:acme:dev1", true},
      {SanType::uri, "https://acme.example/*", "https://acme.example/a/b", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.pattern);
    CAPTURE(c.value);
    CHECK(san_matches(c.type, c.pattern, c.value) == c.match);
  }
}

TEST_CASE("home: open needs a home, create refuses an existing one") {
  test::TempDir dir;
  CHECK_THROWS_AS(Home::open(dir.path() / "none"), Error);
  Home::create(dir.path() / "h", kProfiles);
  CHECK_THROWS_AS(Home::create(dir.path() / "h", kProfiles), Error);
  Home h = Home::open(dir.path() / "h");
  CHECK(h.profile("device-ldevid").name == "device-ldevid");
  CHECK_THROWS_WITH_AS(h.profile("../secret"), doctest::Contains("available:"), Error);
}

TEST_CASE("recover_reserved completes delivered certificates and abandons the rest") {
  Fixture f;
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const SignResult done =
      sign_csr(f.home, f.request(test::make_csr_der(key), "SN-1", "done.pem"), f.clock);

  // A crash between deliver and commit: the row is reserved, the file exists.
  CertRecord delivered = *f.home.store().find_cert("factory", done.serial_hex);
  delivered.serial_hex = "01";  // not the file's serial: must not be completed
  delivered.device_id = "SN-2";
  delivered.output = (f.dir.path() / "done.pem").string();
  f.home.store().reserve(delivered, ReserveOptions{true, kNow});
  // A crash before deliver: the row is reserved, no file.
  CertRecord lost = delivered;
  lost.serial_hex = "02";
  lost.device_id = "SN-3";
  lost.output = (f.dir.path() / "never-written.pem").string();
  f.home.store().reserve(lost, ReserveOptions{true, kNow});

  // Too recent: left alone.
  RecoveryReport early = recover_reserved(f.home, f.clock);
  CHECK(early.skipped.size() == 2);
  CHECK(f.home.store().find_cert("factory", "02")->status == CertStatus::reserved);

  f.clock.advance(hours(1));
  const RecoveryReport r = recover_reserved(f.home, f.clock);
  CHECK(r.completed.empty());
  REQUIRE(r.abandoned.size() == 2);
  CHECK(r.abandoned[0].status == CertStatus::abandoned);
  CHECK(f.home.store().find_cert("factory", "01")->status == CertStatus::abandoned);
  CHECK(f.home.store().find_cert("factory", "02")->status == CertStatus::abandoned);
}

TEST_CASE("recover_reserved completes a row whose output matches") {
  Fixture f;
  // Replay the pipeline by hand and "crash" after deliver, before commit.
  const Authority ca = load_authority(f.home, "factory", std::string("pw"));
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  CertificateSpec spec;
  spec.profile = f.home.profile("device-ldevid");
  spec.subject = DistinguishedName::parse("/CN=SN-9");
  spec.public_key = key.public_key();
  spec.not_before = kNow;
  spec.not_after = kNow + days(30);
  spec.variables = {{"ca", "factory"}};
  const Draft draft = ca.draft(spec);
  CertRecord row;
  row.issuer = "factory";
  row.serial_hex = draft.serial_hex();
  row.device_id = "SN-9";
  row.profile = "device-ldevid";
  row.not_before = draft.not_before();
  row.not_after = draft.not_after();
  row.spki_sha256 = draft.spki_sha256();
  row.output = (f.dir.path() / "sn9.pem").string();
  f.home.store().reserve(row, ReserveOptions{true, kNow});
  const Certificate cert = ca.sign(draft);
  std::ofstream(row.output) << cert.to_pem();

  f.clock.advance(hours(1));
  const RecoveryReport r = recover_reserved(f.home, f.clock);
  REQUIRE(r.completed.size() == 1);
  CHECK(r.completed[0].status == CertStatus::issued);
  CHECK(r.abandoned.empty());
  const auto rec = f.home.store().find_cert("factory", draft.serial_hex());
  CHECK(rec->status == CertStatus::issued);
  CHECK(rec->der == cert.der());
}
