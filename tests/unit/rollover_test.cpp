// Issuing CA rollover (devpki-ca rollover): the successor's defaults,
// refusals that change nothing, lineage and current issuer, the overlap
// during which the old CA keeps answering, keys loaded for issuing vs CRLs,
// the trust chain, sign_csr's redirect and the CRL bundles of both CAs.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "core/fs.hpp"
#include "pki/crl.hpp"
#include "pki/error.hpp"
#include "pki/hierarchy.hpp"
#include "pki/issuance.hpp"
#include "test_util.hpp"

using namespace pki;
using namespace std::chrono;

namespace {

const std::filesystem::path kProfiles = std::filesystem::path(DEVPKI_SOURCE_DIR) / "profiles";
const TimePoint kNow = sys_days{2026y / November / 27} + 12h;

template <class F>
void require_error(F&& f, ErrorCode code, const std::string& text) {
  try {
    f();
    FAIL("no error; expected: " << text);
  } catch (const Error& e) {
    CHECK_MESSAGE(e.code() == code, e.what());
    CHECK_MESSAGE(std::string(e.what()).find(text) != std::string::npos, e.what());
  }
}

struct Fixture {
  test::TempDir dir;
  FixedClock clock{kNow};
  Home home = Home::create(dir.path() / "pki", kProfiles);

  Fixture() {
    RootOptions root;
    root.name = "root";
    root.subject = DistinguishedName::parse("/O=Acme/CN=Acme Root CA");
    root.protection.passphrase = "pw";
    root.protection.encryption.pbkdf2_iterations = 1000;  // speed
    create_root(home, root, clock);
    IssuingCaOptions ica;
    ica.name = "factory";
    ica.parent = "root";
    ica.subject = DistinguishedName::parse("/O=Acme/CN=Acme Factory CA");
    ica.key = KeyAlgorithm::ec_p384;
    ica.protection.passphrase = "pw";
    ica.protection.encryption.pbkdf2_iterations = 1000;
    ica.parent_passphrase = "pw";
    create_issuing_ca(home, ica, clock);
  }

  RolloverOptions options(const std::string& ca) {
    RolloverOptions o;
    o.ca = ca;
    o.protection.passphrase = "pw";
    o.protection.encryption.pbkdf2_iterations = 1000;
    o.parent_passphrase = "pw";
    return o;
  }
  // Without `cn`, the default subject ("... <year>"), which a second
  // rollover in the same year cannot reuse.
  RolloverResult roll(const std::string& ca, const std::string& name = "",
                      const std::string& cn = "") {
    RolloverOptions o = options(ca);
    o.name = name;
    if (!cn.empty()) o.subject = DistinguishedName::parse("/O=Acme/CN=" + cn);
    return rollover_ca(home, o, clock);
  }

  SignResult sign(const std::string& ca, const std::string& device) {
    SignRequest r;
    r.ca = ca;
    r.profile = "device-ldevid";
    r.csr = test::make_csr_der(PrivateKey::generate(KeyAlgorithm::ec_p256));
    r.device_id = device;
    r.out = dir.path() / (device + ".pem");
    r.passphrase = "pw";
    return sign_csr(home, r, clock);
  }

  PublishedCrl publish(const std::string& ca) {
    return publish_crl(home, load_authority(home, ca, "pw", AuthorityUse::crl), CrlOptions{},
                       clock);
  }

  // Everything a refused rollover must leave as it was.
  struct Snapshot {
    std::vector<std::string> cas;
    std::size_t certs = 0;
    std::size_t audit = 0;
    std::set<std::string> keys;
    bool operator==(const Snapshot&) const = default;
  };
  Snapshot snapshot() {
    Snapshot s;
    for (const auto& c : home.store().list_cas()) {
      std::string row = c.name + " " + std::string(to_string(c.status)) + " " + c.successor;
      row += c.retired_at ? format_time(*c.retired_at) : "-";
      s.cas.push_back(std::move(row));
    }
    s.certs = home.store().find_certs(CertQuery{}).size();
    s.audit = home.store().audit_log().size();
    for (const auto& e : std::filesystem::directory_iterator(home.keys_dir()))
      s.keys.insert(e.path().filename().string());
    return s;
  }
};

std::vector<std::string> names(const std::vector<CaRecord>& cas) {
  std::vector<std::string> out;
  for (const auto& c : cas)
    out.push_back(c.name);
  return out;
}

std::vector<std::string> subjects(const std::vector<Certificate>& chain) {
  std::vector<std::string> out;
  for (const auto& c : chain)
    out.push_back(c.subject().to_string());
  return out;
}

}  // namespace

TEST_CASE("rollover defaults: name and CN get this year, same parent, profile and key type") {
  Fixture f;
  const RolloverResult r = f.roll("factory");
  const CaRecord& next = r.successor.record;
  CHECK(next.name == "factory-2026");
  CHECK(next.parent == "root");
  CHECK(next.profile == "issuing-ca");
  CHECK(next.status == CaStatus::active);
  CHECK(next.successor.empty());
  const Certificate cert = Certificate::from_der(next.cert_der);
  CHECK(cert.subject().to_string() == "CN=Acme Factory CA 2026,O=Acme");
  CHECK(cert.public_key().describe().algorithm() == KeyAlgorithm::ec_p384);
  CHECK(cert.issuer() == ca_chain(f.home, "root").front().subject());
  CHECK(cert.is_ca());
  // A new key: not the old CA's.
  CHECK(next.spki_sha256 != f.home.store().find_ca("factory")->spki_sha256);
  CHECK(std::filesystem::exists(f.home.keys_dir() / "factory-2026.key.pem"));

  CHECK(r.predecessor.name == "factory");
  CHECK(r.predecessor.status == CaStatus::retired);
  CHECK(r.predecessor.successor == "factory-2026");
  REQUIRE(r.predecessor.retired_at);
  CHECK(*r.predecessor.retired_at == kNow);

  // The successor's certificate row is issued under the parent.
  const auto row = f.home.store().find_cert("root", next.serial_hex);
  REQUIRE(row);
  CHECK(row->status == CertStatus::issued);
  CHECK(row->output == "ca:factory-2026");
  const auto log = f.home.store().audit_log();
  REQUIRE(!log.empty());
  CHECK(log.back().action == "ca.rollover");
  CHECK(log.back().subject == "factory");
  CHECK(log.back().detail.find("\"successor\":\"factory-2026\"") != std::string::npos);

  // A year later: "factory-2026" -> "factory-2027", CN "... 2026" -> "... 2027".
  f.clock.set(kNow + days(365));
  const RolloverResult again = f.roll("factory-2026");
  CHECK(again.successor.record.name == "factory-2027");
  CHECK(Certificate::from_der(again.successor.record.cert_der).subject().to_string() ==
        "CN=Acme Factory CA 2027,O=Acme");
}

TEST_CASE("rollover with an explicit name, subject, key and validity") {
  Fixture f;
  RolloverOptions o = f.options("factory");
  o.name = "line-b";
  o.subject = DistinguishedName::parse("/O=Acme/OU=Line B/CN=Acme Line B CA");
  o.key = KeyAlgorithm::ec_p256;
  o.validity = days(3 * 365);
  const RolloverResult r = rollover_ca(f.home, o, f.clock);
  const Certificate cert = Certificate::from_der(r.successor.record.cert_der);
  CHECK(r.successor.record.name == "line-b");
  CHECK(cert.subject() == *o.subject);
  CHECK(cert.public_key().describe().algorithm() == KeyAlgorithm::ec_p256);
  CHECK(cert.not_after() == kNow + days(3 * 365));
  CHECK(f.home.store().find_ca("factory")->successor == "line-b");
}

TEST_CASE("refused rollovers change neither the store nor keys/") {
  Fixture f;
  f.roll("factory");  // factory -> factory-2026
  IssuingCaOptions other;
  other.name = "other";
  other.parent = "root";
  other.subject = DistinguishedName::parse("/O=Acme/CN=Acme Other CA");
  other.protection.passphrase = "pw";
  other.protection.encryption.pbkdf2_iterations = 1000;
  other.parent_passphrase = "pw";
  create_issuing_ca(f.home, other, f.clock);
  const Fixture::Snapshot before = f.snapshot();

  require_error([&] { f.roll("root"); }, ErrorCode::policy, "'root' is a root");
  require_error([&] { f.roll("factory"); }, ErrorCode::policy,
                "CA 'factory' is retired (rolled over to 'factory-2026' on 2026-11-27); roll over "
                "its current issuer 'factory-2026' instead");
  require_error([&] { f.roll("nope"); }, ErrorCode::not_found, "no CA named 'nope'");
  require_error([&] { f.roll("factory-2026", "other"); }, ErrorCode::conflict,
                "a CA named 'other' already exists");
  require_error([&] { f.roll("factory-2026", "Bad/Name"); }, ErrorCode::invalid_input,
                "invalid CA name");
  // The default name of factory-2026's successor this year is taken by itself.
  require_error([&] { f.roll("factory-2026"); }, ErrorCode::conflict,
                "a CA named 'factory-2026' already exists; name the successor with --name");
  // And its default subject would be its own.
  require_error([&] { f.roll("factory-2026", "factory-b"); }, ErrorCode::conflict,
                "CA 'factory-2026' already has the subject");
  {
    RolloverOptions o = f.options("other");
    o.parent_passphrase = "wrong";
    require_error([&] { rollover_ca(f.home, o, f.clock); }, ErrorCode::crypto, "'root' key");
  }
  {
    RolloverOptions o = f.options("other");
    o.protection.passphrase.reset();
    require_error([&] { rollover_ca(f.home, o, f.clock); }, ErrorCode::invalid_input,
                  "CA keys are stored encrypted");
  }
  CHECK(f.snapshot() == before);

  // A stray key file under the successor's name is never overwritten.
  fs::write_file_atomic(f.home.keys_dir() / "other-2026.key.pem", "stray", 0600, false);
  const Fixture::Snapshot with_stray = f.snapshot();
  require_error([&] { f.roll("other"); }, ErrorCode::conflict, "already exists");
  CHECK(f.snapshot() == with_stray);
  CHECK(fs::read_text(f.home.keys_dir() / "other-2026.key.pem", 100) == "stray");
}

TEST_CASE("current_issuer and ca_lineage follow two rollovers") {
  Fixture f;
  CHECK(current_issuer(f.home, "factory") == "factory");
  CHECK(names(ca_lineage(f.home, "factory")) == std::vector<std::string>{"factory"});
  f.roll("factory", "factory-b", "Acme Factory CA B");
  f.roll("factory-b", "factory-c", "Acme Factory CA C");
  for (const std::string n : {"factory", "factory-b", "factory-c"}) {
    CHECK(current_issuer(f.home, n) == "factory-c");
    CHECK(names(ca_lineage(f.home, n)) ==
          std::vector<std::string>{"factory", "factory-b", "factory-c"});
  }
  CHECK(current_issuer(f.home, "root") == "root");
  CHECK(names(ca_lineage(f.home, "root")) == std::vector<std::string>{"root"});
  require_error([&] { current_issuer(f.home, "nope"); }, ErrorCode::not_found, "nope");
  require_error([&] { ca_lineage(f.home, "nope"); }, ErrorCode::not_found, "nope");
}

TEST_CASE("the overlap ends when the old CA's last certificate expires") {
  Fixture f;
  const SignResult dev = f.sign("factory", "dev-1");
  const TimePoint dev_expiry = dev.certificate.not_after();
  f.roll("factory");
  const auto old = *f.home.store().find_ca("factory");
  const auto next = *f.home.store().find_ca("factory-2026");
  CHECK(ca_in_overlap(f.home, next, kNow + days(3650)));  // active: always
  CHECK(ca_in_overlap(f.home, old, kNow));
  CHECK(ca_in_overlap(f.home, old, dev_expiry));
  CHECK_FALSE(ca_in_overlap(f.home, old, dev_expiry + 1s));

  const auto listed = [&](TimePoint at, const std::string& ca) {
    const auto rows = crl_status(f.home, at);
    return std::any_of(rows.begin(), rows.end(), [&](const CrlStatus& s) { return s.ca == ca; });
  };
  CHECK(listed(kNow, "factory"));
  CHECK(listed(dev_expiry, "factory"));
  CHECK_FALSE(listed(dev_expiry + 1s, "factory"));
  CHECK(listed(dev_expiry + 1s, "factory-2026"));

  // A retired CA that issued nothing answers for nothing.
  f.roll("factory-2026", "factory-b", "Acme Factory CA B");
  CHECK_FALSE(ca_in_overlap(f.home, *f.home.store().find_ca("factory-2026"), kNow));
  CHECK_FALSE(listed(kNow, "factory-2026"));
}

TEST_CASE("load_authority: a retired CA signs CRLs, never certificates") {
  Fixture f;
  f.sign("factory", "dev-1");
  f.roll("factory");
  require_error([&] { load_authority(f.home, "factory", "pw"); }, ErrorCode::policy,
                "CA 'factory' was rolled over to 'factory-2026' on 2026-11-27; issue from "
                "factory-2026");
  require_error([&] { load_authority(f.home, "factory", "pw", AuthorityUse::issue); },
                ErrorCode::policy, "issue from factory-2026");
  const Authority old = load_authority(f.home, "factory", "pw", AuthorityUse::crl);
  CHECK(old.name() == "factory");
  CHECK(load_authority(f.home, "factory-2026", "pw").name() == "factory-2026");
  // The message names the CA that issues now, two rollovers on.
  f.roll("factory-2026", "factory-b", "Acme Factory CA B");
  require_error([&] { load_authority(f.home, "factory", "pw"); }, ErrorCode::policy,
                "rolled over to 'factory-2026' on 2026-11-27; issue from factory-b");

  const PublishedCrl crl = f.publish("factory");
  CHECK(crl.record.issuer == "factory");
  CHECK(crl.record.number == 1);
}

TEST_CASE("ca_trust_chain: the CA, the others of its lineage in overlap (newest first), root") {
  Fixture f;
  const std::string root = "CN=Acme Root CA,O=Acme";
  const std::string a = "CN=Acme Factory CA,O=Acme";
  const std::string b = "CN=Acme Factory CA 2026,O=Acme";
  CHECK(subjects(ca_trust_chain(f.home, "factory", kNow)) == subjects(ca_chain(f.home, "factory")));
  const SignResult dev = f.sign("factory", "dev-1");
  f.roll("factory");
  CHECK(subjects(ca_trust_chain(f.home, "factory-2026", kNow)) ==
        std::vector<std::string>{b, a, root});
  CHECK(subjects(ca_trust_chain(f.home, "factory", kNow)) == std::vector<std::string>{a, b, root});
  // Two rollovers: the newest first after the CA itself.
  f.roll("factory-2026", "factory-c", "Acme Factory CA C");
  f.sign("factory-c", "dev-2");
  const std::string c = "CN=Acme Factory CA C,O=Acme";
  // factory-2026 issued nothing: not in overlap, left out.
  CHECK(subjects(ca_trust_chain(f.home, "factory-c", kNow)) ==
        std::vector<std::string>{c, a, root});
  // Once the old CA's last device expired it is left out too.
  const TimePoint later = dev.certificate.not_after() + 1s;
  CHECK(subjects(ca_trust_chain(f.home, "factory-c", later)) == std::vector<std::string>{c, root});
  CHECK(subjects(ca_trust_chain(f.home, "root", kNow)) == std::vector<std::string>{root});
}

TEST_CASE("sign_csr for a rolled-over CA issues from its successor with a warning") {
  Fixture f;
  f.roll("factory");
  const SignResult res = f.sign("factory", "dev-1");
  CHECK(res.issuer == "factory-2026");
  CHECK(res.certificate.issuer().to_string() == "CN=Acme Factory CA 2026,O=Acme");
  const auto& items = res.warnings.items();
  const auto w = std::find_if(items.begin(), items.end(),
                              [](const Finding& x) { return x.id == "ca.rolled_over"; });
  REQUIRE(w != items.end());
  CHECK(w->message.find("issued by its successor 'factory-2026'") != std::string::npos);
  const auto row = f.home.store().find_cert("factory-2026", res.serial_hex);
  REQUIRE(row);
  CHECK(row->status == CertStatus::issued);
  CHECK_FALSE(f.home.store().find_cert("factory", res.serial_hex));
  // The CRL distribution point names the CA that signed.
  const std::vector<std::uint8_t> der_bytes = res.certificate.der();
  const std::string der(der_bytes.begin(), der_bytes.end());
  CHECK(der.find("http://pki.acme.example/crl/factory-2026.crl") != std::string::npos);
  CHECK(f.home.store().audit_log().back().detail.find("\"requested_ca\":\"factory\"") !=
        std::string::npos);

  // The successor directly: no warning.
  const SignResult direct = f.sign("factory-2026", "dev-2");
  CHECK(direct.issuer == "factory-2026");
  CHECK(std::none_of(direct.warnings.items().begin(), direct.warnings.items().end(),
                     [](const Finding& x) { return x.id == "ca.rolled_over"; }));
}

TEST_CASE("CRL bundles carry both CAs of a rollover while the old one answers") {
  Fixture f;
  const SignResult dev = f.sign("factory", "dev-1");
  f.roll("factory");
  f.publish("root");
  f.publish("factory");
  // The successor has no CRL yet: the old CA's bundle says which command fixes it.
  require_error(
      [&] { write_crl_bundle(f.home, "factory", kNow); }, ErrorCode::not_found,
      "CA 'factory-2026' (same rollover lineage as 'factory', whose bundle carries its CRL");
  f.publish("factory-2026");
  const auto count = [](const std::filesystem::path& p) {
    const std::string text = fs::read_text(p, 1 << 20);
    std::size_t n = 0;
    for (auto pos = text.find("BEGIN X509 CRL"); pos != std::string::npos;
         pos = text.find("BEGIN X509 CRL", pos + 1))
      ++n;
    return n;
  };
  CHECK(count(write_crl_bundle(f.home, "factory-2026", kNow)) == 3);
  CHECK(count(write_crl_bundle(f.home, "factory", kNow)) == 3);

  // Publishing either member rewrites the bundles that carry it.
  const auto results = write_crl_bundles(f.home, "factory", kNow);
  std::set<std::string> rewritten;
  for (const auto& b : results) {
    CHECK_MESSAGE(b.problem.empty(), b.problem);
    rewritten.insert(b.ca);
  }
  CHECK(rewritten == std::set<std::string>{"factory", "factory-2026"});
  std::set<std::string> from_root;
  for (const auto& b : write_crl_bundles(f.home, "root", kNow))
    from_root.insert(b.ca);
  CHECK(from_root == std::set<std::string>{"root", "factory", "factory-2026"});

  // After the old CA's last device expired: the successor's bundle is its
  // chain again, and the old CA's bundle is no longer rewritten.
  const TimePoint later = dev.certificate.not_after() + 1s;
  f.clock.set(later);
  f.publish("root");
  f.publish("factory-2026");
  CHECK(count(write_crl_bundle(f.home, "factory-2026", later)) == 2);
  std::set<std::string> late;
  for (const auto& b : write_crl_bundles(f.home, "factory-2026", later))
    late.insert(b.ca);
  CHECK(late == std::set<std::string>{"factory-2026"});
}
