// Bootstrap trust anchors (add, default names, conflicts, removal, audit)
// and verify_device_certificate(): chains with partial-chain anchors,
// validity, revocation from the store for this home's CAs and from a CRL
// for another home's CA (current, revoked, expired, signed by the wrong key).
#include <doctest/doctest.h>

#include <algorithm>

#include "home_fixture.hpp"
#include "pki/crl.hpp"
#include "pki/issuance.hpp"
#include "pki/revocation.hpp"
#include "pki/trust.hpp"

using namespace pki;
using namespace pki::test;
using namespace std::chrono;
namespace fs = std::filesystem;

namespace {

const TimePoint kNow = sys_days{2026y / November / 27} + 12h;

// Another home: "the manufacturer's", a root and an issuing CA "idevid"
// with the given subjects. Its CA is trusted here from a file; its CRL is
// what tells this home about its revocations.
struct OtherHome {
  TempDir dir;
  const Clock& clock;
  Home home = Home::create(dir.path() / "pki", kShippedProfiles);

  OtherHome(const Clock& c, const std::string& root_subject, const std::string& ca_subject)
      : clock(c) {
    RootOptions root;
    root.name = "mroot";
    root.subject = DistinguishedName::parse(root_subject);
    root.protection.passphrase = "pw";
    root.protection.encryption.pbkdf2_iterations = 1000;
    create_root(home, root, clock);
    IssuingCaOptions ica;
    ica.name = "idevid";
    ica.parent = "mroot";
    ica.subject = DistinguishedName::parse(ca_subject);
    ica.protection = root.protection;
    ica.parent_passphrase = "pw";
    create_issuing_ca(home, ica, clock);
  }

  Certificate ca_cert() { return home_ca_certificate(home, "idevid"); }

  Certificate mint(const std::string& device, const std::string& profile = "device-ldevid") {
    const auto key = PrivateKey::generate(KeyAlgorithm::ec_p256);
    return issue(home, clock, "idevid", profile, device, key, dir.path() / (device + ".pem"));
  }

  PublishedCrl crl() {
    return publish_crl(home, load_authority(home, "idevid", "pw", AuthorityUse::crl), {}, clock);
  }

  void revoke_cert(const Certificate& c, RevocationReason reason) {
    RevokeTarget t;
    t.serial_hex = c.serial_hex();
    t.ca = "idevid";
    RevokeOptions o;
    o.reason = reason;
    revoke(home, t, o, clock);
  }
};

OtherHome maker(const Clock& clock) {
  return OtherHome(clock, "/O=Maker/CN=Maker Root CA", "/O=Maker/CN=Maker IDevID CA");
}

struct Fixture : HomeFixture {
  Fixture() : HomeFixture(kNow) {}

  Certificate device(const std::string& id, const std::string& ca = "factory",
                     const std::string& profile = "device-ldevid") {
    const auto key = PrivateKey::generate(KeyAlgorithm::ec_p256);
    return issue(home, clock, ca, profile, id, key, dir.path() / (id + ".pem"));
  }

  void add_operations_ca() {
    IssuingCaOptions ica;
    ica.name = "operations";
    ica.parent = "root";
    ica.subject = DistinguishedName::parse("/O=Acme/CN=Acme Operations CA");
    ica.protection.passphrase = "pw";
    ica.protection.encryption.pbkdf2_iterations = 1000;
    ica.parent_passphrase = "pw";
    create_issuing_ca(home, ica, clock);
  }

  std::string audit_count(const std::string& action) {
    return sql("SELECT count(*) FROM audit WHERE action = '" + action + "'");
  }

  DeviceCertCheck check_with(std::vector<Certificate> anchors) {
    DeviceCertCheck c;
    c.anchors = std::move(anchors);
    c.at = clock.now();
    return c;
  }
};

bool has_anchor(Home& home, const std::string& name) {
  const auto all = bootstrap_anchors(home);
  return std::any_of(all.begin(), all.end(),
                     [&](const TrustAnchorRecord& a) { return a.name == name; });
}

}  // namespace

// ---- anchors ------------------------------------------------------------------------

TEST_CASE("add_bootstrap_anchor refuses a certificate that is not a CA, or not valid now") {
  Fixture f;
  const Certificate dev = f.device("D-1");
  require_error([&] { add_bootstrap_anchor(f.home, dev, "", "file:d.pem", f.clock); },
                ErrorCode::invalid_input, "is not a CA certificate");

  const Certificate factory = home_ca_certificate(f.home, "factory");
  FixedClock late(factory.not_after() + seconds(1));
  require_error([&] { add_bootstrap_anchor(f.home, factory, "", "file:f.pem", late); },
                ErrorCode::invalid_input, "expired at " + format_time(factory.not_after()));
  FixedClock early(factory.not_before() - seconds(1));
  require_error([&] { add_bootstrap_anchor(f.home, factory, "", "file:f.pem", early); },
                ErrorCode::invalid_input, "is not valid before");
  // Valid up to and including its notAfter.
  FixedClock last(factory.not_after());
  CHECK(add_bootstrap_anchor(f.home, factory, "", "file:f.pem", last).name == "acme-factory-ca");

  CHECK(bootstrap_anchors(f.home).size() == 1);
  CHECK(f.audit_count("trust.add") == "1");
}

TEST_CASE("add_bootstrap_anchor: default name from the CN, the record, conflicts") {
  Fixture f;
  auto m = maker(f.clock);
  const Certificate ca = m.ca_cert();
  const TrustAnchorRecord rec = add_bootstrap_anchor(f.home, ca, "", "file:maker.pem", f.clock);
  CHECK(rec.name == "maker-idevid-ca");
  CHECK(rec.purpose == "bootstrap");
  CHECK(rec.subject == ca.subject().to_string());
  CHECK(rec.sha256 == ca.fingerprint_sha256_hex());
  CHECK(rec.spki_sha256 == ca.public_key().spki_sha256_hex());
  CHECK(rec.der == ca.der());
  CHECK(rec.source == "file:maker.pem");
  CHECK(rec.not_after == ca.not_after());
  CHECK(rec.added_at == kNow);

  const auto all = bootstrap_anchors(f.home);
  REQUIRE(all.size() == 1);
  CHECK(all[0].name == "maker-idevid-ca");
  CHECK(all[0].der == ca.der());
  CHECK(Certificate::from_der(all[0].der).fingerprint_sha256_hex() == rec.sha256);

  // The same name for another certificate; the same certificate under another name.
  const Certificate factory = home_ca_certificate(f.home, "factory");
  require_error([&] { add_bootstrap_anchor(f.home, factory, "maker-idevid-ca", "x", f.clock); },
                ErrorCode::conflict, "maker-idevid-ca");
  require_error([&] { add_bootstrap_anchor(f.home, ca, "other-name", "file:again.pem", f.clock); },
                ErrorCode::conflict, "maker-idevid-ca");
  CHECK(bootstrap_anchors(f.home).size() == 1);
  CHECK(f.audit_count("trust.add") == "1");

  // An explicit name is taken as given (and validated as CA names are).
  CHECK(add_bootstrap_anchor(f.home, factory, "acme", "file:acme.pem", f.clock).name == "acme");
  require_error([&] { add_bootstrap_anchor(f.home, m.ca_cert(), "Bad Name", "x", f.clock); },
                ErrorCode::invalid_input, "Bad Name");
  CHECK(f.audit_count("trust.add") == "2");

  // The trust.add event names the anchor.
  const std::string detail = f.sql(
      "SELECT detail FROM audit WHERE action = 'trust.add' AND "
      "subject = 'trust/maker-idevid-ca'");
  CHECK(detail.find(rec.sha256) != std::string::npos);
  CHECK(detail.find("file:maker.pem") != std::string::npos);
}

TEST_CASE("default anchor names: odd characters folded to '-', a CN-less CA by fingerprint") {
  Fixture f;
  OtherHome odd(f.clock, "/O=Odd/CN=Odd Root", "/O=Odd/CN=Grüße & Co. (IDevID) CA #2");
  const auto rec = add_bootstrap_anchor(f.home, odd.ca_cert(), "", "file:odd.pem", f.clock);
  INFO("name: " << rec.name);
  CHECK_NOTHROW(validate_ca_name(rec.name));
  CHECK(rec.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-") == std::string::npos);
  CHECK(rec.name.find("co.") != std::string::npos);
  CHECK(rec.name.find("idevid-ca-2") != std::string::npos);

  OtherHome nocn(f.clock, "/O=NoCN/CN=NoCN Root", "/O=NoCN Devices/OU=Line 1");
  const Certificate ca = nocn.ca_cert();
  const auto rec2 = add_bootstrap_anchor(f.home, ca, "", "file:nocn.pem", f.clock);
  CHECK(rec2.name == "anchor-" + ca.fingerprint_sha256_hex().substr(0, 8));
}

TEST_CASE("add_bootstrap_ca trusts a CA of this home under its name") {
  Fixture f;
  const auto rec = add_bootstrap_ca(f.home, "factory", "", f.clock, "tester");
  CHECK(rec.name == "factory");
  CHECK(rec.source == "ca:factory");
  CHECK(rec.der == home_ca_certificate(f.home, "factory").der());
  CHECK(f.sql("SELECT actor FROM audit WHERE action = 'trust.add'") == "tester");
  // Under another name it is still the same certificate: a conflict.
  require_error([&] { add_bootstrap_ca(f.home, "factory", "factory-2", f.clock); },
                ErrorCode::conflict, "factory");
  CHECK(add_bootstrap_ca(f.home, "root", "acme-root", f.clock).name == "acme-root");
  require_error([&] { add_bootstrap_ca(f.home, "nosuch", "", f.clock); }, ErrorCode::not_found,
                "nosuch");
  CHECK(bootstrap_anchors(f.home).size() == 2);
}

TEST_CASE("remove_trust_anchor: unknown names list the anchors; removal is audited") {
  Fixture f;
  require_error([&] { remove_trust_anchor(f.home, "factory", f.clock); }, ErrorCode::not_found,
                "there are none");
  add_bootstrap_ca(f.home, "factory", "", f.clock);
  add_bootstrap_ca(f.home, "root", "", f.clock);
  require_error([&] { remove_trust_anchor(f.home, "nosuch", f.clock); }, ErrorCode::not_found,
                "factory, root");
  CHECK(f.audit_count("trust.remove") == "0");

  remove_trust_anchor(f.home, "factory", f.clock, "tester");
  CHECK_FALSE(has_anchor(f.home, "factory"));
  CHECK(has_anchor(f.home, "root"));
  CHECK(f.audit_count("trust.remove") == "1");
  CHECK(f.sql("SELECT subject || ' ' || actor FROM audit WHERE action = 'trust.remove'") ==
        "trust/factory tester");
  require_error([&] { remove_trust_anchor(f.home, "factory", f.clock); }, ErrorCode::not_found,
                "there are: root");
  // Removed, it can be added again.
  CHECK(add_bootstrap_ca(f.home, "factory", "", f.clock).name == "factory");
}

// ---- verify_device_certificate: this home's CAs ---------------------------------------

TEST_CASE("verify: a device certificate of this home's CA, revocation from the store") {
  Fixture f;
  const Certificate dev = f.device("D-1");
  const Certificate factory = home_ca_certificate(f.home, "factory");
  const Certificate root = home_ca_certificate(f.home, "root");

  SUBCASE("anchor: the issuing CA alone (partial chain)") {
    const auto v = verify_device_certificate(f.home, dev, f.check_with({factory}));
    CHECK(v.cert.der() == dev.der());
    REQUIRE(v.chain.size() == 2);
    CHECK(v.chain[0].der() == dev.der());
    CHECK(v.chain[1].der() == factory.der());
    CHECK(v.anchor_sha256 == factory.fingerprint_sha256_hex());
    CHECK(v.anchor_subject == factory.subject().to_string());
    CHECK(v.home_issuer == "factory");
    CHECK(v.revocation_source == "store");
  }
  SUBCASE("anchor: the root, the issuing CA as an intermediate") {
    auto c = f.check_with({root});
    c.intermediates = {factory};
    const auto v = verify_device_certificate(f.home, dev, c);
    REQUIRE(v.chain.size() == 3);
    CHECK(v.chain[1].der() == factory.der());
    CHECK(v.anchor_sha256 == root.fingerprint_sha256_hex());
    CHECK(v.home_issuer == "factory");
    CHECK(v.revocation_source == "store");
  }
  SUBCASE("anchor: the root without the intermediate does not chain") {
    require_error([&] { verify_device_certificate(f.home, dev, f.check_with({root})); },
                  ErrorCode::policy, "does not chain to a trusted CA");
  }
  SUBCASE("no anchors at all") {
    require_error([&] { verify_device_certificate(f.home, dev, f.check_with({})); },
                  ErrorCode::invalid_input, "no trusted CA");
  }
}

TEST_CASE("verify: revoked in the store") {
  Fixture f;
  const Certificate dev = f.device("D-1");
  const Certificate other = f.device("D-2");
  RevokeTarget t;
  t.serial_hex = dev.serial_hex();
  t.ca = "factory";
  RevokeOptions o;
  o.reason = RevocationReason::key_compromise;
  revoke(f.home, t, o, f.clock);
  const auto c = f.check_with({home_ca_certificate(f.home, "factory")});
  require_error([&] { verify_device_certificate(f.home, dev, c); }, ErrorCode::policy,
                "revoked (keyCompromise) at " + format_time(kNow));
  CHECK(verify_device_certificate(f.home, other, c).revocation_source == "store");
}

TEST_CASE("verify: a CA certificate is not a device certificate") {
  Fixture f;
  const Certificate factory = home_ca_certificate(f.home, "factory");
  const Certificate root = home_ca_certificate(f.home, "root");
  require_error([&] { verify_device_certificate(f.home, factory, f.check_with({root})); },
                ErrorCode::policy, "is a CA certificate");
}

TEST_CASE("verify: validity of the certificate at the time checked") {
  Fixture f;
  const Certificate dev = f.device("D-1");
  auto c = f.check_with({home_ca_certificate(f.home, "factory")});
  c.at = dev.not_after() + seconds(1);
  require_error([&] { verify_device_certificate(f.home, dev, c); }, ErrorCode::policy,
                "expired at " + format_time(dev.not_after()));
  c.at = dev.not_before() - seconds(1);
  require_error([&] { verify_device_certificate(f.home, dev, c); }, ErrorCode::policy,
                "is not valid before " + format_time(dev.not_before()));
  // OpenSSL counts notAfter itself as expired (X509_cmp_time); the second before is valid.
  c.at = dev.not_after() - seconds(1);
  CHECK(verify_device_certificate(f.home, dev, c).home_issuer == "factory");
  c.at = dev.not_before();
  CHECK(verify_device_certificate(f.home, dev, c).home_issuer == "factory");
}

TEST_CASE("verify: a certificate that does not chain to the anchors") {
  Fixture f;
  f.add_operations_ca();
  const Certificate dev = f.device("D-1");
  const auto c = f.check_with({home_ca_certificate(f.home, "operations")});
  require_error([&] { verify_device_certificate(f.home, dev, c); }, ErrorCode::policy,
                "does not chain to a trusted CA (");
  // Certificates of the other CA chain to it.
  const Certificate ops = f.device("D-2", "operations");
  CHECK(verify_device_certificate(f.home, ops, c).home_issuer == "operations");
}

// ---- verify_device_certificate: another home's CA, revocation from its CRL -------------

TEST_CASE("verify: another home's CA needs its current CRL") {
  Fixture f;
  auto m = maker(f.clock);
  const Certificate ca = m.ca_cert();
  const Certificate dev = m.mint("M-1");
  const Certificate other = m.mint("M-2");
  auto c = f.check_with({ca});

  require_error([&] { verify_device_certificate(f.home, dev, c); }, ErrorCode::policy,
                "no revocation information");
  // A CRL of some other issuer does not count.
  c.crls = {
      publish_crl(f.home, load_authority(f.home, "factory", "pw", AuthorityUse::crl), {}, f.clock)
          .der};
  require_error([&] { verify_device_certificate(f.home, dev, c); }, ErrorCode::policy,
                "no revocation information");

  const PublishedCrl crl1 = m.crl();
  const std::string name1 =
      "CRL " + std::to_string(crl1.record.number) + " of " + ca.subject().to_string();
  c.crls.push_back(crl1.der);
  auto v = verify_device_certificate(f.home, dev, c);
  CHECK(v.home_issuer.empty());
  CHECK(v.revocation_source == name1);
  CHECK(v.anchor_sha256 == ca.fingerprint_sha256_hex());
  REQUIRE(v.chain.size() == 2);
  // PEM is as good as DER.
  c.crls = {std::vector<std::uint8_t>(crl1.pem.begin(), crl1.pem.end())};
  CHECK(verify_device_certificate(f.home, dev, c).revocation_source == name1);

  // Revoked there: the old CRL does not know yet; the new one does.
  m.revoke_cert(dev, RevocationReason::key_compromise);
  CHECK(verify_device_certificate(f.home, dev, c).revocation_source == name1);
  const PublishedCrl crl2 = m.crl();
  CHECK(crl2.record.number > crl1.record.number);
  c.crls = {crl2.der};
  require_error([&] { verify_device_certificate(f.home, dev, c); }, ErrorCode::policy,
                "is revoked (keyCompromise) at " + format_time(kNow) + " according to CRL " +
                    std::to_string(crl2.record.number) + " of " + ca.subject().to_string());
  CHECK(verify_device_certificate(f.home, other, c)
            .revocation_source.starts_with("CRL " + std::to_string(crl2.record.number) + " of "));

  // Past its nextUpdate the CRL says nothing any more.
  c.at = crl2.record.next_update;
  require_error([&] { verify_device_certificate(f.home, other, c); }, ErrorCode::policy,
                "expired at " + format_time(crl2.record.next_update));
  c.at = crl2.record.next_update - seconds(1);
  CHECK_NOTHROW(verify_device_certificate(f.home, other, c));

  // Not a CRL at all.
  c.crls = {std::vector<std::uint8_t>{'x', 'y', 'z'}};
  CHECK_THROWS_AS(verify_device_certificate(f.home, other, c), Error);
}

TEST_CASE("verify: of several CRLs of the issuer the newest decides, in any order") {
  Fixture f;
  auto m = maker(f.clock);
  const Certificate ca = m.ca_cert();
  const Certificate dev = m.mint("M-1");
  const PublishedCrl crl1 = m.crl();
  m.revoke_cert(dev, RevocationReason::key_compromise);
  const PublishedCrl crl2 = m.crl();
  auto c = f.check_with({ca});
  for (const auto& crls : {std::vector<std::vector<std::uint8_t>>{crl1.der, crl2.der},
                           std::vector<std::vector<std::uint8_t>>{crl2.der, crl1.der}}) {
    c.crls = crls;
    require_error([&] { verify_device_certificate(f.home, dev, c); }, ErrorCode::policy,
                  "revoked (keyCompromise)");
  }

  // An expired CRL next to a current one: the current one is used.
  const Certificate other = m.mint("M-2");
  f.clock.advance(days(8));
  const PublishedCrl crl3 = m.crl();
  c.at = f.clock.now();
  for (const auto& crls : {std::vector<std::vector<std::uint8_t>>{crl1.der, crl3.der},
                           std::vector<std::vector<std::uint8_t>>{crl3.der, crl1.der}}) {
    c.crls = crls;
    CHECK(verify_device_certificate(f.home, other, c).revocation_source ==
          "CRL " + std::to_string(crl3.record.number) + " of " + ca.subject().to_string());
  }
  // The expired one alone says so.
  c.crls = {crl1.der};
  require_error([&] { verify_device_certificate(f.home, other, c); }, ErrorCode::policy,
                "expired at");
  // A CRL issued after the time checked is not used for it.
  c.at = kNow + seconds(1);
  c.crls = {crl3.der, crl1.der};
  CHECK(verify_device_certificate(f.home, other, c).revocation_source ==
        "CRL " + std::to_string(crl1.record.number) + " of " + ca.subject().to_string());
  c.crls = {crl3.der};
  require_error([&] { verify_device_certificate(f.home, other, c); }, ErrorCode::policy,
                "is not valid yet");
}

TEST_CASE("verify: a CRL with the issuer's name but another CA's signature") {
  Fixture f;
  // The other home's CAs have exactly this home's subject names.
  OtherHome twin(f.clock, "/O=Acme/CN=Acme Root CA", "/O=Acme/CN=Acme Factory CA");
  const Certificate twin_ca = twin.ca_cert();
  REQUIRE(twin_ca.subject().to_string() ==
          home_ca_certificate(f.home, "factory").subject().to_string());
  const Certificate dev = twin.mint("T-1");
  auto c = f.check_with({twin_ca});
  // This home's factory CRL: same issuer name, another key.
  c.crls = {
      publish_crl(f.home, load_authority(f.home, "factory", "pw", AuthorityUse::crl), {}, f.clock)
          .der};
  require_error([&] { verify_device_certificate(f.home, dev, c); }, ErrorCode::policy,
                "not signed by that CA");
  // The twin's own CRL does it.
  c.crls = {twin.crl().der};
  const auto v = verify_device_certificate(f.home, dev, c);
  CHECK(v.home_issuer.empty());
  CHECK(v.revocation_source.starts_with("CRL "));
  // And this home's own device certificate (same issuer name) is checked with
  // the store, not mistaken for the twin's.
  const Certificate mine = f.device("D-1");
  const auto mv = verify_device_certificate(f.home, mine,
                                            f.check_with({home_ca_certificate(f.home, "factory")}));
  CHECK(mv.home_issuer == "factory");
}
