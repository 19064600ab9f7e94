// Build, check and sign: the Authority object and the lint that reads the
// encoded certificate.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "cert/builder.hpp"
#include "pki/authority.hpp"
#include "pki/error.hpp"
#include "test_util.hpp"

using namespace pki;
using namespace std::chrono;

namespace {

const TimePoint kNow = sys_days{2026y / November / 27};

ProfileSpec ca_profile(std::optional<int> path_len = std::nullopt) {
  ProfileSpec p;
  p.name = "ca";
  p.is_ca = true;
  p.path_len = path_len;
  p.key_usage = {KeyUsage::key_cert_sign, KeyUsage::crl_sign};
  p.key_algorithms = all_key_algorithms();
  p.validity.duration = years(10);
  return p;
}

ProfileSpec leaf_profile() {
  ProfileSpec p;
  p.name = "leaf";
  p.key_usage = {KeyUsage::digital_signature, KeyUsage::key_encipherment};
  p.extended_key_usage = {"clientAuth"};
  p.key_algorithms = all_key_algorithms();
  p.validity.duration = years(1);
  return p;
}

CertificateSpec spec_for(const ProfileSpec& p, const std::string& dn, const PublicKey& key,
                         TimePoint nb, TimePoint na) {
  CertificateSpec s;
  s.profile = p;
  s.subject = DistinguishedName::parse(dn);
  s.public_key = key;
  s.not_before = nb;
  s.not_after = na;
  return s;
}

struct Ca {
  PrivateKey key;
  Certificate cert;
  std::shared_ptr<KeySigner> signer;
};

Ca make_root(const ProfileSpec& p, TimePoint na = kNow + years(20)) {
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  auto signer = std::make_shared<KeySigner>(key, "test");
  const Certificate cert =
      Authority::self_sign(spec_for(p, "/O=Acme/CN=Root", key.public_key(), kNow, na), *signer);
  return {key, cert, signer};
}

int time_type(const ASN1_TIME* t) {
  return ASN1_STRING_type(t);
}

}  // namespace

TEST_CASE("a root is self-signed with AKI = SKI and critical CA extensions") {
  const Ca root = make_root(ca_profile(1));
  CHECK(root.cert.is_self_signed());
  CHECK(root.cert.is_ca());
  CHECK(root.cert.path_len() == 1);
  CHECK(!root.cert.ski_hex().empty());
  CHECK(root.cert.aki_hex() == root.cert.ski_hex());
  CHECK(root.cert.serial_hex().size() >= 16);
}

TEST_CASE("the Authority refuses a certificate that cannot issue") {
  const Ca root = make_root(ca_profile());
  const PrivateKey other = PrivateKey::generate(KeyAlgorithm::ec_p256);
  CHECK_THROWS_AS(Authority("root", {root.cert}, std::make_shared<KeySigner>(other, "wrong key")),
                  Error);

  Authority ca("root", {root.cert}, root.signer);
  const PrivateKey leaf_key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const Certificate leaf = ca.sign(
      ca.draft(spec_for(leaf_profile(), "/CN=leaf", leaf_key.public_key(), kNow, kNow + days(30))));
  CHECK_THROWS_AS(
      Authority("leaf", {leaf, root.cert}, std::make_shared<KeySigner>(leaf_key, "leaf")), Error);
}

TEST_CASE("a draft is signed once, and the certificate is complete without re-parsing") {
  const Ca root = make_root(ca_profile());
  Authority ca("root", {root.cert}, root.signer);
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p384);
  const Draft d =
      ca.draft(spec_for(leaf_profile(), "/CN=once", key.public_key(), kNow, kNow + days(30)));
  const Certificate c = ca.sign(d);
  CHECK_THROWS_AS(ca.sign(d), Error);
  CHECK(c.public_key() == key.public_key());
  CHECK(c.der() == Certificate::from_der(c.der()).der());
  CHECK(c.serial_hex() == d.serial_hex());
  CHECK(X509_verify(static_cast<X509*>(c.native_handle()),
                    static_cast<EVP_PKEY*>(root.key.native_handle())) == 1);
}

TEST_CASE("key usage is adapted to the key type, with a warning") {
  const Ca root = make_root(ca_profile());
  Authority ca("root", {root.cert}, root.signer);
  const PrivateKey ec = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const Draft d =
      ca.draft(spec_for(leaf_profile(), "/CN=leaf", ec.public_key(), kNow, kNow + days(30)));
  CHECK(d.findings().contains("key_usage.adapted"));
  const Certificate c = ca.sign(d);
  CHECK(c.key_usage() == std::vector<KeyUsage>{KeyUsage::digital_signature});
}

TEST_CASE("validity: clamped to the issuer, UTCTime through 2049, GeneralizedTime from 2050") {
  const Ca root = make_root(ca_profile(), forever());
  Authority ca("root", {root.cert}, root.signer);
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);

  const TimePoint end_2049 = sys_days{2049y / December / 31} + 23h + 59min + 59s;
  const Certificate a =
      ca.sign(ca.draft(spec_for(leaf_profile(), "/CN=a", key.public_key(), kNow, end_2049)));
  CHECK(time_type(X509_get0_notAfter(static_cast<X509*>(a.native_handle()))) == V_ASN1_UTCTIME);
  const Certificate b =
      ca.sign(ca.draft(spec_for(leaf_profile(), "/CN=b", key.public_key(), kNow, end_2049 + 1s)));
  CHECK(time_type(X509_get0_notAfter(static_cast<X509*>(b.native_handle()))) ==
        V_ASN1_GENERALIZEDTIME);
  CHECK(time_type(X509_get0_notBefore(static_cast<X509*>(b.native_handle()))) == V_ASN1_UTCTIME);
  const Certificate c =
      ca.sign(ca.draft(spec_for(leaf_profile(), "/CN=c", key.public_key(), kNow, forever())));
  CHECK(is_forever(c.not_after()));

  const Ca short_root = make_root(ca_profile(), kNow + days(10));
  Authority short_ca("short", {short_root.cert}, short_root.signer);
  const Draft d = short_ca.draft(
      spec_for(leaf_profile(), "/CN=d", key.public_key(), kNow - days(1), kNow + days(365)));
  CHECK(d.not_after() == short_root.cert.not_after());
  CHECK(d.not_before() == short_root.cert.not_before());
  CHECK(d.findings().contains("validity.clamped"));
  // "No expiry" (IEEE 802.1AR) is not clamped: it is meant to outlive every date.
  const Draft e =
      short_ca.draft(spec_for(leaf_profile(), "/CN=e", key.public_key(), kNow, forever()));
  CHECK(is_forever(e.not_after()));
}

TEST_CASE("pathLen and name constraints of the issuer are enforced") {
  ProfileSpec constrained = ca_profile(0);
  constrained.name_constraints.permitted = {{SanType::dns, ".acme.example"}};
  const Ca root = make_root(constrained);
  Authority ca("root", {root.cert}, root.signer);
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);

  CertificateSpec inside =
      spec_for(leaf_profile(), "/CN=in", key.public_key(), kNow, kNow + days(30));
  inside.sans = {{SanType::dns, "dev.acme.example"}};
  CHECK_NOTHROW(ca.draft(inside));

  CertificateSpec outside = inside;
  outside.sans = {{SanType::dns, "dev.evil.example"}};
  CHECK_THROWS_WITH_AS(ca.draft(outside), doctest::Contains("name constraints"), Error);

  CertificateSpec sub_ca =
      spec_for(ca_profile(), "/CN=sub", key.public_key(), kNow, kNow + days(30));
  CHECK_THROWS_WITH_AS(ca.draft(sub_ca), doctest::Contains("pathLen"), Error);
}

TEST_CASE("the lint reads the encoded certificate") {
  const Ca root = make_root(ca_profile());
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  IssuerView issuer;
  issuer.cert = static_cast<const X509*>(root.cert.native_handle());
  issuer.chain = {issuer.cert};
  Findings notes;

  SUBCASE("a clean build has no errors") {
    auto tbs = build_tbs(spec_for(leaf_profile(), "/CN=x", key.public_key(), kNow, kNow + days(1)),
                         issuer, random_serial(), notes);
    CHECK_FALSE(lint_tbs(tbs.get(), issuer).has_errors());
  }
  SUBCASE("missing SKI, short serial, empty subject without SAN") {
    auto tbs = build_tbs(spec_for(leaf_profile(), "/CN=x", key.public_key(), kNow, kNow + days(1)),
                         issuer, std::vector<std::uint8_t>{0x01, 0x02}, notes);
    X509_EXTENSION_free(
        X509_delete_ext(tbs.get(), X509_get_ext_by_NID(tbs.get(), NID_subject_key_identifier, -1)));
    X509_NAME* empty = X509_NAME_new();
    X509_set_subject_name(tbs.get(), empty);
    X509_NAME_free(empty);
    const Findings f = lint_tbs(tbs.get(), issuer);
    CHECK(f.contains("ski.missing"));
    CHECK(f.contains("serial.too_short"));
    CHECK(f.contains("subject.empty"));
  }
  SUBCASE("keyCertSign on an end entity, non-critical keyUsage") {
    ProfileSpec bad = leaf_profile();
    bad.key_usage = {KeyUsage::digital_signature, KeyUsage::key_cert_sign};
    auto tbs = build_tbs(spec_for(bad, "/CN=x", key.public_key(), kNow, kNow + days(1)), issuer,
                         random_serial(), notes);
    const int idx = X509_get_ext_by_NID(tbs.get(), NID_key_usage, -1);
    X509_EXTENSION_set_critical(X509_get_ext(tbs.get(), idx), 0);
    const Findings f = lint_tbs(tbs.get(), issuer);
    CHECK(f.contains("key_usage.end_entity"));
    CHECK(f.contains("key_usage.not_critical"));
  }
}

TEST_CASE("URL templates may take scheme and host from a variable, checked once expanded") {
  const Ca root = make_root(ca_profile());
  Authority ca("root", {root.cert}, root.signer);
  const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  ProfileSpec p = leaf_profile();
  p.crl_distribution_points = {"{base_url}/crl/{ca}.crl"};
  CHECK_FALSE(validate_profile(p).contains("crl_distribution_points.bad_url"));
  CertificateSpec spec = spec_for(p, "/CN=u", key.public_key(), kNow, kNow + days(30));
  spec.variables = {{"base_url", "http://pki.example.test"}, {"ca", "root"}};
  const auto der = ca.sign(ca.draft(spec)).der();
  const std::string url = "http://pki.example.test/crl/root.crl";
  CHECK(std::search(der.begin(), der.end(), url.begin(), url.end()) != der.end());

  spec.variables["base_url"] = "ftp://pki.example.test";
  CHECK_THROWS_WITH_AS(ca.draft(spec), doctest::Contains("not an http://"), Error);
}

TEST_CASE("serials: positive, 16 random bytes, distinct") {
  std::set<std::vector<std::uint8_t>> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto s = random_serial();
    CHECK(s.size() == 16);
    CHECK((s[0] & 0x80) == 0);
    seen.insert(s);
  }
  CHECK(seen.size() == 1000);
}
