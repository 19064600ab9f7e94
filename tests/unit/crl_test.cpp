// CRLs: publish_crl's output read back with OpenSSL (version, issuer, number,
// key identifier, entries and their extensions, signature), numbering across
// publications, delta CRLs, clamping, refusals, the chain bundle, freshness,
// and one round through the real `openssl` binary.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cert/asn1_time.hpp"
#include "core/fs.hpp"
#include "crl/crl_builder.hpp"
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
const std::vector<std::uint8_t> kFakeDer = {0x30, 0x03, 0x02, 0x01, 0x01};

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
    issuing_ca("factory");
  }

  CreatedCa issuing_ca(const std::string& name, KeyAlgorithm key = KeyAlgorithm::ec_p256,
                       const std::string& profile = "issuing-ca",
                       std::optional<seconds> validity = std::nullopt) {
    IssuingCaOptions ica;
    ica.name = name;
    ica.parent = "root";
    ica.subject = DistinguishedName::parse("/O=Acme/CN=Acme " + name + " CA");
    ica.key = key;
    ica.profile = profile;
    ica.validity = validity;
    ica.protection.passphrase = "pw";
    ica.protection.encryption.pbkdf2_iterations = 1000;
    ica.parent_passphrase = "pw";
    return create_issuing_ca(home, ica, clock);
  }

  Authority ca(const std::string& name) { return load_authority(home, name, "pw"); }

  PublishedCrl publish(const std::string& name, bool delta = false) {
    CrlOptions o;
    o.delta = delta;
    return publish_crl(home, ca(name), o, clock);
  }

  // An issued certificate row (the DER is not a certificate: the CRL never reads it).
  void issued(const std::string& serial, TimePoint not_after,
              const std::string& issuer = "factory") {
    CertRecord r;
    r.issuer = issuer;
    r.serial_hex = serial;
    r.device_id = "dev-" + serial;
    r.profile = "device-ldevid";
    r.subject = "CN=dev-" + serial;
    r.not_before = kNow - 24h;
    r.not_after = not_after;
    r.spki_sha256 = std::string(64, 'b');
    home.store().reserve(r, ReserveOptions{false, clock.now()});
    home.store().commit_issued(issuer, serial, kFakeDer, clock.now());
  }

  void revoke(const std::string& serial, int reason,
              std::optional<TimePoint> invalidity = std::nullopt,
              const std::string& issuer = "factory") {
    RevokeRequest req;
    req.issuer = issuer;
    req.serial_hex = serial;
    req.reason = reason;
    req.revoked_at = clock.now();
    req.invalidity_date = invalidity;
    const auto res = home.store().revoke(std::span<const RevokeRequest>(&req, 1), clock.now());
    REQUIRE(res.size() == 1);
    REQUIRE(res[0].outcome == RevokeOutcome::revoked);
  }
};

ossl::X509CrlPtr d2i_crl(const std::vector<std::uint8_t>& der) {
  const unsigned char* p = der.data();
  ossl::X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(crl);
  CHECK(p == der.data() + der.size());
  return crl;
}

X509* x509(const Certificate& c) {
  return static_cast<X509*>(c.native_handle());
}

// The entry for `serial_hex`, or nullptr.
X509_REVOKED* entry(X509_CRL* crl, const std::string& serial_hex) {
  const auto bytes = ossl::from_hex(serial_hex);
  ossl::Asn1IntegerPtr serial(ASN1_INTEGER_new());
  ASN1_STRING_set(serial.get(), bytes.data(), static_cast<int>(bytes.size()));
  X509_REVOKED* rev = nullptr;
  // 2: found, a removeFromCRL entry.
  return X509_CRL_get0_by_serial(crl, &rev, serial.get()) > 0 ? rev : nullptr;
}

std::size_t entry_count(X509_CRL* crl) {
  const auto* list = X509_CRL_get_REVOKED(crl);
  return list == nullptr ? 0 : static_cast<std::size_t>(sk_X509_REVOKED_num(list));
}

// reasonCode of an entry; nullopt when absent.
std::optional<long> reason_of(X509_REVOKED* rev) {
  int crit = 0;
  ossl::Asn1EnumeratedPtr r(
      static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, nullptr)));
  if (!r) {
    CHECK(crit == -1);
    return std::nullopt;
  }
  CHECK(crit == 0);
  return ASN1_ENUMERATED_get(r.get());
}

// An extension of the CRL itself: -1 absent, else its critical flag.
int crl_ext_critical(X509_CRL* crl, int nid) {
  const int i = X509_CRL_get_ext_by_NID(crl, nid, -1);
  return i < 0 ? -1 : X509_EXTENSION_get_critical(X509_CRL_get_ext(crl, i));
}

std::vector<std::string> freshest_urls(X509_CRL* crl) {
  std::vector<std::string> out;
  ossl::CrlDistPointsPtr dps(
      static_cast<CRL_DIST_POINTS*>(X509_CRL_get_ext_d2i(crl, NID_freshest_crl, nullptr, nullptr)));
  if (!dps) return out;
  for (int i = 0; i < sk_DIST_POINT_num(dps.get()); ++i) {
    const DIST_POINT* dp = sk_DIST_POINT_value(dps.get(), i);
    REQUIRE(dp->distpoint != nullptr);
    REQUIRE(dp->distpoint->type == 0);
    const GENERAL_NAMES* names = dp->distpoint->name.fullname;
    for (int j = 0; j < sk_GENERAL_NAME_num(names); ++j) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, j);
      REQUIRE(gn->type == GEN_URI);
      out.emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier)),
          static_cast<std::size_t>(ASN1_STRING_length(gn->d.uniformResourceIdentifier)));
    }
  }
  return out;
}

bool signed_by(X509_CRL* crl, const Certificate& ca) {
  return X509_CRL_verify(crl, X509_get0_pubkey(x509(ca))) == 1;
}

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

std::string run(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  *status = ::pclose(p);
  return out;
}

void write_text(const std::filesystem::path& f, const std::string& text) {
  std::ofstream(f, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("a full CRL read back with OpenSSL") {
  Fixture f;
  f.issued("0a", kNow + 365 * 24h);
  f.issued("8b01", kNow + 365 * 24h);  // high bit: encoded with a 0x00 pad
  f.issued("0c", kNow + 365 * 24h);
  f.issued("0d", kNow + 365 * 24h);  // not revoked
  const TimePoint compromised = kNow - 72h;
  f.revoke("0a", 1, compromised);  // keyCompromise, with invalidity date
  f.revoke("8b01", 0);             // unspecified: no reasonCode
  f.revoke("0c", 6);               // certificateHold

  const PublishedCrl pub = f.publish("factory");
  CHECK(pub.warnings.empty());
  CHECK(pub.record.number == 1);
  CHECK_FALSE(pub.record.delta);
  CHECK(pub.record.entries == 3);
  CHECK(pub.record.this_update == kNow);
  CHECK(pub.record.next_update == kNow + 7 * 24h);  // issuing-ca: crl.next_update 7d
  CHECK(pub.record.file == "crl/factory.crl");
  CHECK(pub.record.sha256 == ossl::hex(ossl::sha256(pub.der)));
  CHECK(pub.der_file == f.home.root() / "crl" / "factory.crl");
  CHECK(pub.pem_file == f.home.root() / "crl" / "factory.crl.pem");
  CHECK(fs::read_file(pub.der_file, 1 << 20) == pub.der);
  CHECK(parse_crl(fs::read_file(pub.pem_file, 1 << 20)).number == 1);
  struct stat st {};
  REQUIRE(::stat(pub.der_file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);

  const auto last = f.home.store().last_crl("factory", false);
  REQUIRE(last);
  CHECK(last->number == 1);
  CHECK(last->sha256 == pub.record.sha256);

  const Certificate cacert = ca_chain(f.home, "factory").front();
  auto crl = d2i_crl(pub.der);
  CHECK(X509_CRL_get_version(crl.get()) == X509_CRL_VERSION_2);
  CHECK(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(x509(cacert))) == 0);
  CHECK(signed_by(crl.get(), cacert));
  CHECK_FALSE(signed_by(crl.get(), ca_chain(f.home, "root").front()));
  // The issuing-ca profile signs with sha384.
  CHECK(X509_CRL_get_signature_nid(crl.get()) == NID_ecdsa_with_SHA384);
  CHECK(from_asn1_time(X509_CRL_get0_lastUpdate(crl.get())) == kNow);
  CHECK(from_asn1_time(X509_CRL_get0_nextUpdate(crl.get())) == kNow + 7 * 24h);
  // RFC 5280 5.1.2.4: UTCTime through 2049.
  CHECK(ASN1_STRING_type(X509_CRL_get0_lastUpdate(crl.get())) == V_ASN1_UTCTIME);

  ossl::AuthorityKeyIdPtr akid(static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl.get(), NID_authority_key_identifier, nullptr, nullptr)));
  REQUIRE(akid);
  REQUIRE(akid->keyid != nullptr);
  CHECK(ossl::hex({ASN1_STRING_get0_data(akid->keyid),
                   static_cast<std::size_t>(ASN1_STRING_length(akid->keyid))}) == cacert.ski_hex());
  CHECK(crl_ext_critical(crl.get(), NID_authority_key_identifier) == 0);
  CHECK(crl_ext_critical(crl.get(), NID_crl_number) == 0);
  CHECK(crl_ext_critical(crl.get(), NID_delta_crl) == -1);

  CHECK(entry_count(crl.get()) == 3);
  X509_REVOKED* a = entry(crl.get(), "0a");
  X509_REVOKED* b = entry(crl.get(), "8b01");
  X509_REVOKED* c = entry(crl.get(), "0c");
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(c);
  CHECK(entry(crl.get(), "0d") == nullptr);
  CHECK(reason_of(a) == 1);
  CHECK(reason_of(b) == std::nullopt);  // RFC 5280 5.3.1: absent rather than unspecified
  CHECK(reason_of(c) == 6);
  CHECK(from_asn1_time(X509_REVOKED_get0_revocationDate(a)) == kNow);
  int crit = 0;
  ossl::Asn1GeneralizedTimePtr inv(static_cast<ASN1_GENERALIZEDTIME*>(
      X509_REVOKED_get_ext_d2i(a, NID_invalidity_date, &crit, nullptr)));
  REQUIRE(inv);
  CHECK(crit == 0);
  CHECK(ASN1_STRING_type(inv.get()) == V_ASN1_GENERALIZEDTIME);  // RFC 5280 5.3.2
  CHECK(from_asn1_time(inv.get()) == compromised);
  CHECK(X509_REVOKED_get_ext_by_NID(b, NID_invalidity_date, -1) < 0);

  const CrlInfo info = parse_crl(pub.der);
  CHECK(info.number == 1);
  CHECK_FALSE(info.delta_base);
  CHECK(info.issuer == cacert.subject().to_string());
  CHECK(info.this_update == kNow);
  CHECK(info.next_update == kNow + 7 * 24h);
  CHECK(info.entries == 3);

  const auto log = f.home.store().audit_log(1);
  REQUIRE(log.size() == 1);
  CHECK(log[0].action == "crl.publish");
  CHECK(log[0].subject == "factory");
  CHECK(log[0].detail.find("\"number\":1") != std::string::npos);
  CHECK(log[0].detail.find("\"entries\":3") != std::string::npos);
  CHECK(log[0].detail.find("\"delta\":false") != std::string::npos);
}

TEST_CASE("an empty CRL, numbers that strictly increase, expired certificates drop off") {
  Fixture f;
  const PublishedCrl first = f.publish("factory");
  CHECK(first.record.number == 1);
  CHECK(first.record.entries == 0);
  CHECK(entry_count(d2i_crl(first.der).get()) == 0);

  f.issued("01", kNow + 48h);
  f.issued("02", kNow + 365 * 24h);
  f.revoke("01", 1);
  f.revoke("02", 4);
  f.clock.advance(1h);
  const PublishedCrl second = f.publish("factory");
  CHECK(second.record.number == 2);
  CHECK(second.record.entries == 2);
  CHECK(second.record.covered_seq > first.record.covered_seq);

  // After 01 expires its entry leaves the CRL (RFC 5280 3.3); 02 stays.
  f.clock.advance(72h);
  const PublishedCrl third = f.publish("factory");
  CHECK(third.record.number == 3);
  auto crl = d2i_crl(third.der);
  CHECK(entry_count(crl.get()) == 1);
  CHECK(entry(crl.get(), "01") == nullptr);
  CHECK(entry(crl.get(), "02") != nullptr);
  CHECK(parse_crl(third.der).number == 3);

  // Numbers are per CA.
  CHECK(f.publish("root").record.number == 1);
  CHECK(f.home.store().last_crl_number("factory") == 3);
}

TEST_CASE("delta CRLs: base number, only the changes, removeFromCRL; freshestCRL on full CRLs") {
  Fixture f;
  for (const char* s : {"0a", "0b", "0c", "0d"})
    f.issued(s, kNow + 365 * 24h);
  f.revoke("0a", 1);
  f.revoke("0b", 6);  // certificateHold

  // No full CRL yet: nothing to base a delta on.
  require_error([&] { f.publish("factory", true); }, ErrorCode::policy, "no full CRL");

  const PublishedCrl full = f.publish("factory");
  CHECK(full.record.number == 1);
  auto full_crl = d2i_crl(full.der);
  // issuing-ca has freshest_crl: where the delta is, {ca} = the CA itself.
  CHECK(freshest_urls(full_crl.get()) ==
        std::vector<std::string>{"http://pki.acme.example/crl/factory-delta.crl"});
  CHECK(crl_ext_critical(full_crl.get(), NID_freshest_crl) == 0);

  f.clock.advance(2h);
  f.revoke("0c", 4);  // superseded, after the base
  CHECK(f.home.store().release_hold("factory", "0b", f.clock.now()) == ReleaseOutcome::released);

  const PublishedCrl delta = f.publish("factory", true);
  CHECK(delta.record.delta);
  CHECK(delta.record.number == 2);  // one sequence for full and delta CRLs
  CHECK(delta.record.base_number == 1);
  CHECK(delta.record.next_update == f.clock.now() + 24h);  // delta_next_update 1d
  CHECK(delta.der_file == f.home.root() / "crl" / "factory-delta.crl");
  CHECK(delta.record.file == "crl/factory-delta.crl");
  CHECK(std::filesystem::exists(f.home.root() / "crl" / "factory-delta.crl.pem"));
  auto d = d2i_crl(delta.der);
  CHECK(signed_by(d.get(), ca_chain(f.home, "factory").front()));
  CHECK(crl_ext_critical(d.get(), NID_delta_crl) == 1);  // RFC 5280 5.2.4: critical
  CHECK(freshest_urls(d.get()).empty());                 // 5.2.6: not on a delta
  const CrlInfo info = parse_crl(delta.der);
  CHECK(info.number == 2);
  CHECK(info.delta_base == 1);
  CHECK(entry_count(d.get()) == 2);
  CHECK(entry(d.get(), "0a") == nullptr);  // on the base already
  REQUIRE(entry(d.get(), "0c"));
  CHECK(reason_of(entry(d.get(), "0c")) == 4);
  REQUIRE(entry(d.get(), "0b"));
  CHECK(reason_of(entry(d.get(), "0b")) == 8);  // removeFromCRL
  CHECK(from_asn1_time(X509_REVOKED_get0_revocationDate(entry(d.get(), "0b"))) == f.clock.now());
  CHECK(f.home.store().audit_log(1)[0].detail.find("\"base\":1") != std::string::npos);
  // The full CRL is untouched by a delta.
  CHECK(fs::read_file(full.der_file, 1 << 20) == full.der);

  // The next full CRL has the changes and no released hold.
  const PublishedCrl full2 = f.publish("factory");
  CHECK(full2.record.number == 3);
  auto c2 = d2i_crl(full2.der);
  CHECK(entry_count(c2.get()) == 2);
  CHECK(entry(c2.get(), "0a") != nullptr);
  CHECK(entry(c2.get(), "0c") != nullptr);
  CHECK(entry(c2.get(), "0b") == nullptr);

  // A delta right after a full CRL lists nothing.
  const PublishedCrl empty_delta = f.publish("factory", true);
  CHECK(empty_delta.record.base_number == 3);
  CHECK(empty_delta.record.entries == 0);

  // The root's profile has no delta CRLs, and its full CRL no freshestCRL.
  require_error([&] { f.publish("root", true); }, ErrorCode::policy, "delta_next_update");
  CHECK(freshest_urls(d2i_crl(f.publish("root").der).get()).empty());
}

TEST_CASE("nextUpdate is clamped to the CA's notAfter") {
  Fixture f;
  const CreatedCa shortlived = f.issuing_ca("short", KeyAlgorithm::ec_p256, "issuing-ca", 72h);
  const TimePoint not_after = shortlived.record.not_after;
  REQUIRE(not_after < kNow + 7 * 24h);
  const PublishedCrl pub = f.publish("short");
  CHECK(pub.record.next_update == not_after);
  CHECK(parse_crl(pub.der).next_update == not_after);
  CHECK(pub.warnings.contains("crl.next_update_clamped"));
  CHECK_FALSE(pub.warnings.has_errors());

  // The delta (1d) fits; 60 hours later it does not.
  CHECK(f.publish("short", true).warnings.empty());
  f.clock.advance(60h);
  const PublishedCrl late = f.publish("short", true);
  CHECK(late.record.next_update == not_after);
  CHECK(late.warnings.contains("crl.next_update_clamped"));

  // Once the CA has expired it publishes nothing.
  f.clock.set(not_after);
  require_error([&] { f.publish("short"); }, ErrorCode::policy, "expired");
}

TEST_CASE("a CA whose certificate lacks cRLSign is refused and not monitored") {
  Fixture f;
  std::string yaml = fs::read_text(kProfiles / "issuing-ca.yaml", 1 << 20);
  const auto replace = [&](const std::string& from, const std::string& to) {
    const auto pos = yaml.find(from);
    REQUIRE(pos != std::string::npos);
    yaml.replace(pos, from.size(), to);
  };
  replace("name: issuing-ca", "name: nocrl-ca");
  replace("key_usage: [keyCertSign, cRLSign]", "key_usage: [keyCertSign]");
  write_text(f.home.profiles_dir() / "nocrl-ca.yaml", yaml);
  f.issuing_ca("nocrl", KeyAlgorithm::ec_p256, "nocrl-ca");

  const auto numbers = f.home.store().last_crl_number("nocrl");
  require_error([&] { f.publish("nocrl"); }, ErrorCode::policy, "cRLSign");
  CHECK(f.home.store().last_crl_number("nocrl") == numbers);
  CHECK_FALSE(std::filesystem::exists(f.home.root() / "crl" / "nocrl.crl"));
  for (const auto& s : crl_status(f.home, kNow))
    CHECK(s.ca != "nocrl");
}

TEST_CASE("Ed25519 CAs sign CRLs without a digest") {
  Fixture f;
  f.issuing_ca("edca", KeyAlgorithm::ed25519);
  const PublishedCrl pub = f.publish("edca");
  auto crl = d2i_crl(pub.der);
  CHECK(X509_CRL_get_signature_nid(crl.get()) == NID_ED25519);
  CHECK(signed_by(crl.get(), ca_chain(f.home, "edca").front()));
}

TEST_CASE("the chain bundle: the CA's CRL then its parents', each checked against its record") {
  Fixture f;
  f.publish("factory");
  require_error([&] { write_crl_bundle(f.home, "factory", kNow); }, ErrorCode::not_found,
                "'root' (in the chain of 'factory') has no CRL; publish one with "
                "`devpki-ca crl --ca root`");
  require_error([&] { write_crl_bundle(f.home, "nope", kNow); }, ErrorCode::not_found, "nope");
  f.publish("root");

  const auto path = write_crl_bundle(f.home, "factory", kNow);
  CHECK(path == f.home.root() / "crl" / "factory-chain.crl.pem");
  const std::string text = fs::read_text(path, 1 << 20);
  const std::string begin = "-----BEGIN X509 CRL-----";
  const auto second = text.find(begin, 1);
  REQUIRE(text.starts_with(begin));
  REQUIRE(second != std::string::npos);
  CHECK(text.find(begin, second + 1) == std::string::npos);
  const std::string first_pem = text.substr(0, second);
  const std::string root_pem = text.substr(second);
  const auto bytes = [](const std::string& s) {
    return std::vector<std::uint8_t>(s.begin(), s.end());
  };
  CHECK(parse_crl(bytes(first_pem)).issuer ==
        ca_chain(f.home, "factory").front().subject().to_string());
  CHECK(parse_crl(bytes(root_pem)).issuer ==
        ca_chain(f.home, "root").front().subject().to_string());

  // A root's bundle is its own CRL.
  const std::string root_only = fs::read_text(write_crl_bundle(f.home, "root", kNow), 1 << 20);
  CHECK(root_only == root_pem);

  // A file that is not the recorded CRL.
  const auto factory_der = fs::read_file(f.home.root() / "crl" / "factory.crl", 1 << 20);
  std::filesystem::copy_file(f.home.root() / "crl" / "root.crl",
                             f.home.root() / "crl" / "factory.crl",
                             std::filesystem::copy_options::overwrite_existing);
  require_error([&] { write_crl_bundle(f.home, "factory", kNow); }, ErrorCode::conflict,
                "is not CRL 1 of 'factory'");
  write_text(f.home.root() / "crl" / "factory.crl",
             std::string(factory_der.begin(), factory_der.end()));
  CHECK_NOTHROW(write_crl_bundle(f.home, "factory", kNow));

  // The factory's CRL (7 days) expires long before the root's (90 days).
  require_error([&] { write_crl_bundle(f.home, "factory", kNow + 7 * 24h + 1s); },
                ErrorCode::policy, "the last CRL of 'factory' (number 1) expired");
}

TEST_CASE("crl_status: missing, fresh, stale, expired; deltas; revocations since") {
  Fixture f;
  const auto row = [&](TimePoint now, const std::string& ca) {
    for (auto& s : crl_status(f.home, now)) {
      if (s.ca == ca) return s;
    }
    FAIL("no status row for " << ca);
    return CrlStatus{};
  };
  CHECK(crl_status(f.home, kNow).size() == 2);
  CHECK(row(kNow, "root").freshness == CrlFreshness::missing);
  CHECK_FALSE(row(kNow, "root").delta_freshness);  // root-ca publishes no deltas
  CHECK(row(kNow, "factory").freshness == CrlFreshness::missing);
  CHECK_FALSE(
      row(kNow, "factory").delta_freshness);  // deltas are opt-in: none yet is not "missing"
  CHECK_FALSE(row(kNow, "factory").full);

  f.issued("01", kNow + 365 * 24h);
  f.revoke("01", 1);
  CHECK(row(kNow, "factory").revoked_since == 1);

  f.publish("factory");
  CHECK(row(kNow, "factory").revoked_since == 0);
  CHECK(row(kNow, "factory").full->number == 1);
  // 7 days of life: stale from half of it, expired after nextUpdate.
  struct Case {
    seconds after;
    CrlFreshness expect;
  };
  for (const Case& c : {Case{0s, CrlFreshness::fresh}, Case{84h - 1s, CrlFreshness::fresh},
                        Case{84h, CrlFreshness::stale}, Case{7 * 24h, CrlFreshness::stale},
                        Case{7 * 24h + 1s, CrlFreshness::expired}}) {
    CAPTURE(c.after.count());
    CHECK(row(kNow + c.after, "factory").freshness == c.expect);
  }
  CHECK_FALSE(row(kNow, "factory").delta_freshness);

  f.publish("factory", true);
  const CrlStatus s = row(kNow, "factory");
  REQUIRE(s.delta);
  CHECK(s.delta->number == 2);
  CHECK(s.delta_freshness == CrlFreshness::fresh);
  CHECK(row(kNow + 12h, "factory").delta_freshness == CrlFreshness::stale);
  CHECK(row(kNow + 25h, "factory").delta_freshness == CrlFreshness::expired);

  f.issued("02", kNow + 365 * 24h);
  f.revoke("02", 1);
  CHECK(row(kNow, "factory").revoked_since == 1);
  CHECK(to_string(CrlFreshness::stale) == "stale");
  CHECK(to_string(CrlFreshness::missing) == "missing");
}

TEST_CASE("parse_crl refuses what is not a CRL") {
  Fixture f;
  const auto cert_pem = ca_chain(f.home, "root").front().to_pem();
  require_error([&] { parse_crl(std::vector<std::uint8_t>(cert_pem.begin(), cert_pem.end())); },
                ErrorCode::invalid_input, "X509 CRL");
  require_error([&] { parse_crl(ca_chain(f.home, "root").front().der()); },
                ErrorCode::invalid_input, "not a CRL");
  require_error([&] { parse_crl({'x', 'y'}); }, ErrorCode::invalid_input, "neither PEM nor DER");
  auto der = f.publish("root").der;
  der.push_back(0);
  require_error([&] { parse_crl(der); }, ErrorCode::invalid_input, "CRL");
}

TEST_CASE("the builder refuses bad entries") {
  Fixture f;
  const Certificate cacert = ca_chain(f.home, "factory").front();
  crl::CrlHeader h;
  h.issuer = x509(cacert);
  h.number = 1;
  h.this_update = kNow;
  h.next_update = kNow + 24h;
  crl::CrlBuilder b(h);
  RevocationRecord r;
  r.serial_hex = "0a";
  r.reason = 7;  // unused in RFC 5280 5.3.1
  CHECK_THROWS_AS(b.add(r), Error);
  r.reason = 8;  // removeFromCRL is not a revocation reason
  CHECK_THROWS_AS(b.add(r), Error);
  r.reason = 1;
  r.released_at = kNow;  // a released hold on a full CRL
  CHECK_THROWS_AS(b.add(r), Error);
  r.released_at.reset();
  r.serial_hex = "zz";
  CHECK_THROWS_AS(b.add(r), Error);
  r.serial_hex = "0a";
  b.add(r);
  b.add(r);
  CHECK(b.entries() == 2);
  require_error(
      [&] {
        const PrivateKey key = PrivateKey::generate(KeyAlgorithm::ec_p256);
        b.sign(static_cast<EVP_PKEY*>(key.native_handle()), "sha256");
      },
      ErrorCode::internal, "twice");

  h.delta_base = 1;
  h.freshest_crl = {"http://pki.acme.example/x.crl"};
  CHECK_THROWS_AS(crl::CrlBuilder{h}, Error);
}

TEST_CASE("openssl verifies the CRLs and sees the revoked leaf") {
  Fixture f;
  const PrivateKey good_key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const PrivateKey bad_key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const auto sign = [&](const PrivateKey& key, const std::string& device) {
    SignRequest r;
    r.ca = "factory";
    r.profile = "device-ldevid";
    r.csr = test::make_csr_der(key);
    r.device_id = device;
    r.out = f.dir.path() / (device + ".pem");
    r.passphrase = "pw";
    return sign_csr(f.home, r, f.clock);
  };
  sign(good_key, "good");
  const SignResult bad = sign(bad_key, "bad");
  f.revoke(bad.serial_hex, 1);
  const PublishedCrl pub = f.publish("factory");
  f.publish("root");
  const auto bundle = write_crl_bundle(f.home, "factory", kNow);

  const auto dir = f.dir.path();
  write_text(dir / "root.pem", ca_chain(f.home, "root").front().to_pem());
  write_text(dir / "factory.pem", ca_chain(f.home, "factory").front().to_pem());
  const std::string attime = std::to_string((kNow + 1h).time_since_epoch().count());

  int status = 0;
  std::string out = run("openssl crl -in " + pub.pem_file.string() + " -CAfile " +
                            (dir / "factory.pem").string() + " -noout",
                        &status);
  CHECK_MESSAGE(status == 0, out);
  CHECK_MESSAGE(out.find("verify OK") != std::string::npos, out);

  const std::string verify = "openssl verify -crl_check_all -attime " + attime + " -CAfile " +
                             (dir / "root.pem").string() + " -untrusted " +
                             (dir / "factory.pem").string() + " -CRLfile " + bundle.string() + " ";
  out = run(verify + (dir / "good.pem").string(), &status);
  CHECK_MESSAGE(status == 0, out);
  out = run(verify + (dir / "bad.pem").string(), &status);
  CHECK_MESSAGE(status != 0, out);
  CHECK_MESSAGE(out.find("certificate revoked") != std::string::npos, out);
}

TEST_CASE("write_crl_bundles: a parent's new CRL reaches the bundles of the CAs under it") {
  Fixture f;
  f.issuing_ca("fleet");
  f.publish("root");
  f.publish("factory");
  // fleet has published nothing: it gets no bundle; root's own bundle and factory's do.
  auto results = write_crl_bundles(f.home, "root", kNow);
  std::vector<std::string> cas;
  for (const auto& r : results) {
    cas.push_back(r.ca);
    CHECK(r.problem.empty());
    CHECK(std::filesystem::exists(r.file));
  }
  std::sort(cas.begin(), cas.end());
  CHECK(cas == std::vector<std::string>{"factory", "root"});

  // The root revokes fleet and publishes CRL 2: factory's bundle now carries it.
  const auto fleet = f.home.store().find_ca("fleet");
  f.revoke(fleet->serial_hex, 2, std::nullopt, "root");
  f.publish("root");
  write_crl_bundles(f.home, "root", kNow);
  const std::string text = fs::read_text(f.home.root() / "crl" / "factory-chain.crl.pem", 1 << 20);
  const auto second = text.find("-----BEGIN X509 CRL-----", 1);
  REQUIRE(second != std::string::npos);
  const std::string root_pem = text.substr(second);
  const auto info = parse_crl(std::vector<std::uint8_t>(root_pem.begin(), root_pem.end()));
  CHECK(info.number == 2);
  CHECK(info.entries == 1);

  // Only CAs at or under the one given: factory's bundles do not touch root's.
  results = write_crl_bundles(f.home, "factory", kNow);
  REQUIRE(results.size() == 1);
  CHECK(results.front().ca == "factory");
  // A problem is reported, not thrown.
  const auto later = write_crl_bundles(f.home, "root", kNow + 7 * 24h + 1s);
  bool factory_problem = false;
  for (const auto& r : later)
    if (r.ca == "factory") factory_problem = r.problem.find("expired") != std::string::npos;
  CHECK(factory_problem);
}

TEST_CASE("crl_status notices a CRL file that is not the one recorded (a crash before writing)") {
  Fixture f;
  f.publish("factory");
  const auto row = [&] {
    for (const auto& s : crl_status(f.home, kNow))
      if (s.ca == "factory") return s;
    FAIL("no row for factory");
    return CrlStatus{};
  };
  CHECK(row().file_ok);
  // What a crash between record_crl and the file writes leaves: the store
  // counts CRL 2 as published, the file is still CRL 1.
  const auto crl1 = fs::read_file(f.home.root() / "crl" / "factory.crl", 1 << 20);
  f.publish("factory");
  write_text(f.home.root() / "crl" / "factory.crl", std::string(crl1.begin(), crl1.end()));
  CHECK_FALSE(row().file_ok);
  CHECK(row().revoked_since == 0);  // which is why revoked_since alone cannot tell
  std::filesystem::remove(f.home.root() / "crl" / "factory.crl");
  CHECK_FALSE(row().file_ok);
  f.publish("factory");
  CHECK(row().file_ok);
}
