// Enrollment in-process: the bootstrap exchange (an IDevID of this home or
// of another home trusted by file, proof of possession over the CSR bytes,
// each refusal audited with nothing issued) and one-time enrollment secrets
// (token and setup-code syntax, storage as keyed hashes only, issue rules,
// redemption with its refusals, the setup code's typed and QR forms, and
// two redeemers racing for one token).
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "enrollment/secrets_internal.hpp"
#include "home_fixture.hpp"
#include "ossl/der.hpp"
#include "pki/crl.hpp"
#include "pki/enrollment.hpp"
#include "pki/issuance.hpp"
#include "pki/onboarding.hpp"
#include "pki/revocation.hpp"
#include "pki/trust.hpp"

using namespace pki;
using namespace pki::test;
using namespace std::chrono;
namespace fs = std::filesystem;

namespace {

const TimePoint kNow = sys_days{2026y / November / 27} + 12h;

std::vector<std::uint8_t> bytes_of(const std::string& s) {
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

// The same CSR as PEM.
std::vector<std::uint8_t> csr_pem(const std::vector<std::uint8_t>& der) {
  const unsigned char* p = der.data();
  ossl::X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(req);
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509_REQ(bio.get(), req.get()) == 1);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::vector<std::uint8_t>(data, data + n);
}

// The IDevID key's signature over `msg`: SHA-256 with ECDSA/RSA, pure Ed25519.
std::vector<std::uint8_t> sign_bytes(const PrivateKey& key, const std::vector<std::uint8_t>& msg) {
  auto* pkey = static_cast<EVP_PKEY*>(key.native_handle());
  const bool pure = EVP_PKEY_is_a(pkey, "ED25519");
  ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  REQUIRE(ctx);
  REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, pure ? nullptr : EVP_sha256(), nullptr, pkey) ==
          1);
  std::size_t len = 0;
  REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size()) == 1);
  std::vector<std::uint8_t> sig(len);
  REQUIRE(EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) == 1);
  sig.resize(len);
  return sig;
}

struct Idevid {
  PrivateKey key;
  Certificate cert;
};

// The manufacturer's home: root "mroot" and IDevID CA "idevid".
struct MakerHome {
  TempDir dir;
  const Clock& clock;
  Home home = Home::create(dir.path() / "pki", kShippedProfiles);

  explicit MakerHome(const Clock& c) : clock(c) {
    RootOptions root;
    root.name = "mroot";
    root.subject = DistinguishedName::parse("/O=Maker/CN=Maker Root CA");
    root.protection.passphrase = "pw";
    root.protection.encryption.pbkdf2_iterations = 1000;
    create_root(home, root, clock);
    IssuingCaOptions ica;
    ica.name = "idevid";
    ica.parent = "mroot";
    ica.subject = DistinguishedName::parse("/O=Maker/CN=Maker IDevID CA");
    ica.protection = root.protection;
    ica.parent_passphrase = "pw";
    create_issuing_ca(home, ica, clock);
  }

  Idevid mint(const std::string& device) {
    auto key = PrivateKey::generate(KeyAlgorithm::ec_p256);
    auto cert =
        issue(home, clock, "idevid", "device-idevid", device, key, dir.path() / (device + ".pem"));
    return {std::move(key), std::move(cert)};
  }

  std::vector<std::uint8_t> crl() {
    return publish_crl(home, load_authority(home, "idevid", "pw", AuthorityUse::crl), {}, clock)
        .der;
  }
};

struct Fixture : HomeFixture {
  Fixture() : HomeFixture(kNow) {}

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

  Idevid mint_idevid(const std::string& device, KeyAlgorithm alg = KeyAlgorithm::ec_p256) {
    auto key = PrivateKey::generate(alg);
    auto cert = issue(home, clock, "factory", "device-idevid", device, key,
                      dir.path() / (device + ".idevid.pem"));
    return {std::move(key), std::move(cert)};
  }

  // An LDevID request: a new key's CSR, signed over by the IDevID key.
  BootstrapEnrollRequest request(const Idevid& id, const std::string& out) {
    BootstrapEnrollRequest r;
    r.bootstrap_cert = id.cert.der();
    r.csr = make_csr_der(PrivateKey::generate(KeyAlgorithm::ec_p256));
    r.proof = sign_bytes(id.key, r.csr);
    r.ca = "operations";
    r.profile = "device-ldevid";
    r.out = dir.path() / out;
    r.passphrase = "pw";
    return r;
  }

  std::string count(const std::string& table_where) {
    return sql("SELECT count(*) FROM " + table_where);
  }
  std::string audit_count(const std::string& action) {
    return count("audit WHERE action = '" + action + "'");
  }

  // The request is refused with `code` and `text`, nothing is issued and
  // exactly one "provision.enroll.refused" event is recorded.
  void expect_refused(const BootstrapEnrollRequest& req, ErrorCode code, const std::string& text) {
    const std::string certs = count("certificates");
    const std::string refused = audit_count("provision.enroll.refused");
    const std::string enrolled = audit_count("provision.enroll");
    require_error([&] { enroll_with_bootstrap(home, req, clock); }, code, text);
    CHECK(count("certificates") == certs);
    CHECK(audit_count("provision.enroll.refused") == std::to_string(std::stoi(refused) + 1));
    CHECK(audit_count("provision.enroll") == enrolled);
    CHECK_FALSE(fs::exists(req.out));
    const std::string detail =
        sql("SELECT detail FROM audit WHERE action = 'provision.enroll.refused' "
            "ORDER BY id DESC LIMIT 1");
    CHECK(detail.find(text) != std::string::npos);
  }
};

// ---- secrets helpers ------------------------------------------------------------------

IssueSecretRequest secret_request(const std::string& device, SecretKind kind = SecretKind::token) {
  IssueSecretRequest r;
  r.kind = kind;
  r.device_id = device;
  r.profile = "device-ldevid";
  return r;
}

IssuedSecret issue_one(Fixture& f, const IssueSecretRequest& r) {
  const auto v =
      issue_enrollment_secrets(f.home, std::span<const IssueSecretRequest>(&r, 1), f.clock);
  REQUIRE(v.size() == 1);
  return v[0];
}

RedeemRequest redeem_request(Fixture& f, const std::string& secret, const std::string& out) {
  RedeemRequest r;
  r.secret = secret;
  r.csr =
      make_csr_der(PrivateKey::generate(KeyAlgorithm::ec_p256), CsrOptions{}.with_cn("whatever"));
  r.out = f.dir.path() / out;
  r.passphrase = "pw";
  return r;
}

std::string secret_row(Fixture& f, const std::string& id) {
  return f.sql(
      "SELECT id || '|' || kind || '|' || device_id || '|' || ca || '|' || profile || '|' || "
      "secret_hash || '|' || state || '|' || created_at || '|' || expires_at || '|' || "
      "ifnull(redeemed_at, '-') || '|' || ifnull(redeemed_issuer, '-') || '|' || "
      "ifnull(redeemed_serial, '-') || '|' || ifnull(revoked_at, '-') "
      "FROM enrollment_secrets WHERE id = '" +
      id + "'");
}

bool is_token(const std::string& t) {
  return t.size() == 34 && t.starts_with("dpt_") &&
         t.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567", 4) == std::string::npos;
}

// Every byte of the store's files, as text to search.
std::string store_bytes(Fixture& f) {
  std::string all;
  for (const char* suffix : {"", "-wal", "-journal"}) {
    const fs::path p = f.home.root() / (std::string("store.db") + suffix);
    if (fs::exists(p)) all += slurp(p);
  }
  return all;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string dp1_payload(const std::string& device, const std::string& code) {
  OnboardingPayload p;
  p.device_id = device;
  p.setup_code = code;
  p.anchor_sha256 = std::string(64, 'a');
  p.endpoint = "https://enroll.acme.example/v1";
  return encode_payload(p);
}

}  // namespace

// ---- the bootstrap exchange -----------------------------------------------------------

TEST_CASE("bootstrap: an IDevID of this home is exchanged for an LDevID") {
  Fixture f;
  f.add_operations_ca();
  add_bootstrap_ca(f.home, "factory", "", f.clock);
  const Idevid id = f.mint_idevid("ACME-000001");
  auto req = f.request(id, "ldevid.pem");
  req.actor = "enroller";
  const std::string idevid_serial = id.cert.serial_hex();

  const auto res = enroll_with_bootstrap(f.home, req, f.clock);
  CHECK(res.device_id == "ACME-000001");
  CHECK(res.device_id_from == "serialNumber");
  CHECK(res.issued.issuer == "operations");
  const Certificate& cert = res.issued.certificate;
  CHECK(cert.subject().get("CN") == "ACME-000001");
  CHECK(cert.subject().get("OU") == "Devices");
  CHECK(cert.public_key() == CertificationRequest::parse(req.csr).public_key());
  CHECK(cert.not_after() == kNow + days(365));
  CHECK(Certificate::load(req.out).der() == cert.der());
  CHECK(res.bootstrap.home_issuer == "factory");
  CHECK(res.bootstrap.revocation_source == "store");
  CHECK(res.bootstrap.cert.der() == id.cert.der());

  const auto row = f.home.store().find_cert("operations", res.issued.serial_hex);
  REQUIRE(row);
  CHECK(row->status == CertStatus::issued);
  CHECK(row->device_id == "ACME-000001");
  CHECK(row->profile == "device-ldevid");
  // The IDevID is untouched.
  CHECK(f.home.store().find_cert("factory", idevid_serial)->status == CertStatus::issued);

  CHECK(f.audit_count("provision.enroll") == "1");
  CHECK(f.audit_count("provision.enroll.refused") == "0");
  const std::string ev = f.sql(
      "SELECT subject || ' ' || actor || ' ' || detail FROM audit WHERE action = "
      "'provision.enroll'");
  CHECK(ev.starts_with("device/ACME-000001 enroller "));
  CHECK(ev.find(res.issued.serial_hex) != std::string::npos);
  CHECK(ev.find(id.cert.fingerprint_sha256_hex()) != std::string::npos);
  CHECK(ev.find("signature over the CSR") != std::string::npos);

  std::string chain;
  for (const auto& c : ca_chain(f.home, "operations"))
    chain += c.to_pem();
  CHECK(verifies(cert.to_pem(), chain, kNow));
}

TEST_CASE("bootstrap: PEM IDevID, Ed25519 key with a raw Ed25519 signature") {
  Fixture f;
  f.add_operations_ca();
  add_bootstrap_ca(f.home, "factory", "", f.clock);
  const Idevid id = f.mint_idevid("ED-1", KeyAlgorithm::ed25519);
  auto req = f.request(id, "ed.pem");
  req.bootstrap_cert = bytes_of(id.cert.to_pem());
  const auto res = enroll_with_bootstrap(f.home, req, f.clock);
  CHECK(res.device_id == "ED-1");
  CHECK(res.issued.certificate.subject().get("CN") == "ED-1");

  // A signature made over the SHA-256 of the bytes is not the Ed25519 proof.
  const Idevid id2 = f.mint_idevid("ED-2", KeyAlgorithm::ed25519);
  auto req2 = f.request(id2, "ed2.pem");
  req2.proof = sign_bytes(id2.key, ossl::sha256(req2.csr));
  f.expect_refused(req2, ErrorCode::policy, "proof of possession does not verify");
}

TEST_CASE("bootstrap: possession established by the caller needs no proof") {
  Fixture f;
  f.add_operations_ca();
  add_bootstrap_ca(f.home, "factory", "", f.clock);
  const Idevid id = f.mint_idevid("D-1");
  auto req = f.request(id, "l.pem");
  req.proof.reset();
  req.possession_established = true;
  const auto res = enroll_with_bootstrap(f.home, req, f.clock);
  CHECK(res.device_id == "D-1");
  CHECK(f.sql("SELECT detail FROM audit WHERE action = 'provision.enroll'")
            .find("established by the caller") != std::string::npos);
}

// Registers `device` as JITP does, from `cert`.
void register_from(Home& home, const std::string& device, const Certificate& cert, TimePoint at) {
  AuditEvent ev;
  ev.at = at;
  ev.actor = "test";
  ev.action = "jitp.register";
  ev.subject = "device/" + device;
  const auto r =
      home.store().register_device(DeviceRegistration{device, R"({"tenant":"maker"})", "test",
                                                      cert.fingerprint_sha256_hex(), at},
                                   ev);
  REQUIRE(r.outcome == RegisterOutcome::registered);
}

TEST_CASE("bootstrap: an IDevID of another home counts only for the device it registered") {
  Fixture f;
  f.add_operations_ca();
  MakerHome m(f.clock);
  add_bootstrap_anchor(f.home, home_ca_certificate(m.home, "idevid"), "", "file:maker.pem",
                       f.clock);
  const Idevid id = m.mint("M-1");
  // Known here, but from a certificate of this home: a trusted maker cannot
  // claim it by putting its id in a certificate of its own.
  issue(f.home, f.clock, "factory", "device-ldevid", "M-1",
        PrivateKey::generate(KeyAlgorithm::ec_p256), f.dir.path() / "m1-old.pem");
  auto req = f.request(id, "m1.pem");
  f.expect_refused(req, ErrorCode::policy, "no revocation information");
  req.crls = {m.crl()};
  f.expect_refused(req, ErrorCode::policy,
                   "device M-1 is not known to this home from this certificate");

  // Registered from another of the maker's certificates: refused too.
  const Idevid other = m.mint("M-2");
  const Idevid second = m.mint("M-2b");
  register_from(f.home, "M-2", second.cert, f.clock.now());
  auto req2 = f.request(other, "m2.pem");
  req2.crls = {m.crl()};
  f.expect_refused(req2, ErrorCode::policy, "device M-2 was registered from another certificate");

  // Registered from this very certificate: enrolled.
  const Idevid third = m.mint("M-3");
  register_from(f.home, "M-3", third.cert, f.clock.now());
  auto req3 = f.request(third, "m3.pem");
  req3.crls = {m.crl()};
  const auto res = enroll_with_bootstrap(f.home, req3, f.clock);
  CHECK(res.device_id == "M-3");
  CHECK(res.bootstrap.home_issuer.empty());
  CHECK(res.bootstrap.revocation_source.starts_with("CRL "));
  CHECK(res.issued.certificate.subject().get("CN") == "M-3");
}

TEST_CASE("bootstrap: the device id from serialNumber, else CN") {
  Fixture f;
  MakerHome m(f.clock);
  const Idevid with_serial = m.mint("SN-1");
  CHECK(bootstrap_device_id(with_serial.cert) ==
        std::pair<std::string, std::string>{"SN-1", "serialNumber"});
  const Certificate cn_only =
      issue(m.home, f.clock, "idevid", "device-ldevid", "CN-1",
            PrivateKey::generate(KeyAlgorithm::ec_p256), m.dir.path() / "cn1.pem");
  CHECK_FALSE(cn_only.subject().get("serialNumber"));
  CHECK(bootstrap_device_id(cn_only) == std::pair<std::string, std::string>{"CN-1", "CN"});
  // "Maker IDevID CA" is no device id.
  require_error([&] { bootstrap_device_id(home_ca_certificate(m.home, "idevid")); },
                ErrorCode::policy, "is not a device id");

  // Enrolled by its CN.
  f.add_operations_ca();
  add_bootstrap_anchor(f.home, home_ca_certificate(m.home, "idevid"), "", "file:m.pem", f.clock);
  issue(f.home, f.clock, "factory", "device-ldevid", "CN-1",
        PrivateKey::generate(KeyAlgorithm::ec_p256), f.dir.path() / "cn1-old.pem");
  // The proof: made with the key the maker minted for it.
  const auto key = PrivateKey::generate(KeyAlgorithm::ec_p256);
  const Certificate idevid =
      issue(m.home, f.clock, "idevid", "device-ldevid", "CN-2", key, m.dir.path() / "cn2.pem");
  register_from(f.home, "CN-2", idevid, f.clock.now());
  auto req = f.request(Idevid{key, idevid}, "cn2-new.pem");
  req.crls = {m.crl()};
  const auto res = enroll_with_bootstrap(f.home, req, f.clock);
  CHECK(res.device_id == "CN-2");
  CHECK(res.device_id_from == "CN");
}

TEST_CASE("bootstrap refusals: nothing issued, one audit event each") {
  Fixture f;
  f.add_operations_ca();
  const Idevid id = f.mint_idevid("D-1");

  SUBCASE("no bootstrap anchors") {
    f.expect_refused(f.request(id, "x.pem"), ErrorCode::policy, "trusts no bootstrap CA");
  }
  SUBCASE("with anchors") {
    add_bootstrap_ca(f.home, "factory", "", f.clock);

    SUBCASE("an unreadable bootstrap certificate") {
      auto req = f.request(id, "x.pem");
      req.bootstrap_cert = bytes_of("not a certificate");
      f.expect_refused(req, ErrorCode::invalid_input, "the bootstrap certificate");
    }
    SUBCASE("an IDevID of a CA that is not an anchor") {
      MakerHome m(f.clock);
      auto req = f.request(m.mint("D-1"), "x.pem");
      req.crls = {m.crl()};
      f.expect_refused(req, ErrorCode::policy, "does not chain to a trusted CA");
    }
    SUBCASE("a revoked IDevID") {
      RevokeTarget t;
      t.serial_hex = id.cert.serial_hex();
      t.ca = "factory";
      RevokeOptions o;
      o.reason = RevocationReason::key_compromise;
      revoke(f.home, t, o, f.clock);
      f.expect_refused(f.request(id, "x.pem"), ErrorCode::policy, "revoked (keyCompromise)");
    }
    SUBCASE("a device this home does not know") {
      MakerHome m(f.clock);
      add_bootstrap_anchor(f.home, home_ca_certificate(m.home, "idevid"), "", "file:m.pem",
                           f.clock);
      auto req = f.request(m.mint("STRANGER-1"), "x.pem");
      req.crls = {m.crl()};
      f.expect_refused(req, ErrorCode::policy, "device STRANGER-1 is not known to this home");
    }
    SUBCASE("a decommissioned device") {
      // Known here by an earlier certificate; its IDevID is the maker's, so
      // the decommissioning does not revoke it and the device check is what refuses.
      MakerHome m(f.clock);
      add_bootstrap_anchor(f.home, home_ca_certificate(m.home, "idevid"), "", "file:m.pem",
                           f.clock);
      issue(f.home, f.clock, "factory", "device-ldevid", "GONE-1",
            PrivateKey::generate(KeyAlgorithm::ec_p256), f.dir.path() / "gone-old.pem");
      DecommissionOptions dop;
      decommission(f.home, {"GONE-1"}, dop, f.clock);
      auto req = f.request(m.mint("GONE-1"), "x.pem");
      req.crls = {m.crl()};
      f.expect_refused(req, ErrorCode::policy, "device GONE-1 is decommissioned");
    }
    SUBCASE("a decommissioned device of this home: its IDevID was revoked") {
      DecommissionOptions dop;
      decommission(f.home, {"D-1"}, dop, f.clock);
      f.expect_refused(f.request(id, "x.pem"), ErrorCode::policy, "revoked (cessationOfOperation)");
    }
    SUBCASE("no proof") {
      auto req = f.request(id, "x.pem");
      req.proof.reset();
      f.expect_refused(req, ErrorCode::policy, "no proof of possession");
      req.proof = std::vector<std::uint8_t>{};
      f.expect_refused(req, ErrorCode::policy, "no proof of possession");
    }
    SUBCASE("a proof by another key") {
      auto req = f.request(id, "x.pem");
      req.proof = sign_bytes(PrivateKey::generate(KeyAlgorithm::ec_p256), req.csr);
      f.expect_refused(req, ErrorCode::policy, "proof of possession does not verify");
    }
    SUBCASE("a proof over other bytes") {
      auto req = f.request(id, "x.pem");
      auto other = req.csr;
      other.push_back(0);
      req.proof = sign_bytes(id.key, other);
      f.expect_refused(req, ErrorCode::policy, "proof of possession does not verify");
      // The CSR as PEM is other bytes than the DER that was signed.
      req.proof = sign_bytes(id.key, req.csr);
      req.csr = csr_pem(req.csr);
      f.expect_refused(req, ErrorCode::policy, "proof of possession does not verify");
    }
    SUBCASE("a garbage proof") {
      auto req = f.request(id, "x.pem");
      req.proof = bytes_of("garbage");
      f.expect_refused(req, ErrorCode::policy, "proof of possession does not verify");
    }
    SUBCASE("a CSR with the bootstrap key") {
      auto req = f.request(id, "x.pem");
      req.csr = make_csr_der(id.key);
      req.proof = sign_bytes(id.key, req.csr);
      f.expect_refused(req, ErrorCode::policy, "carries the bootstrap certificate's key");
    }
    SUBCASE("a malformed CSR") {
      auto req = f.request(id, "x.pem");
      req.csr = bytes_of(
          "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END "
          "CERTIFICATE REQUEST-----\n");
      req.proof = sign_bytes(id.key, req.csr);
      f.expect_refused(req, ErrorCode::invalid_input, "the CSR");
    }
    SUBCASE("a CSR the profile does not allow") {
      auto req = f.request(id, "x.pem");
      req.csr = make_csr_der(PrivateKey::generate(KeyAlgorithm::ec_p256),
                             CsrOptions{}.with_sans("DNS:other.example"));
      req.proof = sign_bytes(id.key, req.csr);
      f.expect_refused(req, ErrorCode::policy, "is not allowed by profile");
    }
  }
}

// ---- enrollment secrets: syntax and storage --------------------------------------------

TEST_CASE("tokens: dpt_ and 30 lower-case base32 characters, each one different") {
  Fixture f;
  std::vector<IssueSecretRequest> reqs;
  for (int i = 0; i < 100; ++i)
    reqs.push_back(secret_request("T-" + std::to_string(i)));
  const auto issued = issue_enrollment_secrets(f.home, reqs, f.clock);
  REQUIRE(issued.size() == 100);
  std::set<std::string> seen;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < issued.size(); ++i) {
    const auto& s = issued[i];
    INFO("token " << s.secret);
    CHECK(is_token(s.secret));
    CHECK(s.record.kind == "token");
    CHECK(s.record.device_id == reqs[i].device_id);
    CHECK(s.record.ca == "factory");
    CHECK(s.record.state == "active");
    CHECK(s.record.expires_at == kNow + hours(24));
    CHECK(s.record.id.size() == 16);
    CHECK(enrollment::canonical_token(s.secret) == s.secret);
    CHECK(enrollment::canonical_token(upper(s.secret)) == s.secret);
    seen.insert(s.secret);
    ids.insert(s.record.id);
  }
  CHECK(seen.size() == 100);
  CHECK(ids.size() == 100);
  CHECK(f.count("enrollment_secrets WHERE state = 'active'") == "100");
  CHECK(f.audit_count("token.issue") == "100");

  // Every token is found by itself (any case), read-only.
  const std::string audits = f.count("audit");
  const auto found = lookup_enrollment_secret(f.home, upper(issued[7].secret));
  REQUIRE(found);
  CHECK(found->id == issued[7].record.id);
  CHECK(found->state == "active");
  CHECK(f.count("audit") == audits);

  // The check characters catch a changed character.
  std::string t = issued[0].secret;
  t[10] = t[10] == 'a' ? 'b' : 'a';
  require_error([&] { enrollment::canonical_token(t); }, ErrorCode::invalid_input,
                "check characters do not match");
  for (int i = 0; i < 20; ++i)
    CHECK(is_token(enrollment::new_token()));
}

TEST_CASE("secrets are stored only as HMAC under keys/enrollment.key (0600, reused)") {
  Fixture f;
  const fs::path key_file = f.home.keys_dir() / "enrollment.key";
  CHECK_FALSE(fs::exists(key_file));
  const auto tok = issue_one(f, secret_request("S-1"));
  const auto code = issue_one(f, secret_request("S-1", SecretKind::setup_code));
  REQUIRE(fs::exists(key_file));
  struct stat st {};
  REQUIRE(::stat(key_file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string key_text = slurp(key_file);
  REQUIRE(key_text.size() == 65);
  CHECK(key_text.back() == '\n');
  CHECK(key_text.find_first_not_of("0123456789abcdef") == 64);

  // The stored hash is HMAC-SHA256(key, "<kind>:<secret>").
  const auto key = ossl::from_hex(key_text.substr(0, 64));
  const auto hmac = [&](const std::string& msg) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
    return ossl::hex(std::span<const std::uint8_t>(mac, len));
  };
  CHECK(tok.record.secret_hash == hmac("token:" + tok.secret));
  CHECK(code.record.secret_hash == hmac("setup_code:" + code.secret));
  CHECK(f.sql("SELECT secret_hash FROM enrollment_secrets WHERE id = '" + tok.record.id + "'") ==
        tok.record.secret_hash);

  // Setup codes: 12 Crockford base32 characters.
  CHECK(code.secret.size() == 12);
  CHECK(code.secret.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ") == std::string::npos);
  CHECK(code.record.kind == "setup_code");

  // More secrets later: the same key.
  issue_one(f, secret_request("S-2"));
  CHECK(slurp(key_file) == key_text);
  CHECK(lookup_enrollment_secret(f.home, tok.secret)->id == tok.record.id);

  // Redeemed, revoked, refused: the secret text is nowhere in the store.
  redeem_enrollment_secret(f.home, redeem_request(f, tok.secret, "r1.pem"), f.clock);
  CHECK_THROWS_AS(
      redeem_enrollment_secret(f.home, redeem_request(f, tok.secret, "r2.pem"), f.clock),
      RedeemRefused);
  std::string typo = manual_code(code.secret);
  typo.back() = typo.back() == '0' ? '1' : '0';
  CHECK_THROWS_AS(redeem_enrollment_secret(f.home, redeem_request(f, typo, "r3.pem"), f.clock),
                  RedeemRefused);
  CHECK_THROWS_AS(
      redeem_enrollment_secret(
          f.home, redeem_request(f, lower(code.secret).substr(0, 11) + "u", "r4.pem"), f.clock),
      RedeemRefused);
  revoke_enrollment_secrets(f.home, "S-1", SecretKind::setup_code, f.clock);
  const std::string db = store_bytes(f);
  REQUIRE(db.size() > 1000);
  CHECK(db.find(tok.record.secret_hash) != std::string::npos);  // the search does find things
  for (const std::string& s :
       {tok.secret, upper(tok.secret), tok.secret.substr(4), code.secret, lower(code.secret),
        manual_code(code.secret), code.secret.substr(0, 4) + "-" + code.secret.substr(4, 4)}) {
    INFO("secret form " << s);
    CHECK(db.find(s) == std::string::npos);
  }
  // The home key is not in the store either.
  CHECK(db.find(key_text.substr(0, 64)) == std::string::npos);
}

TEST_CASE("a broken enrollment key is an error, not a new key") {
  Fixture f;
  issue_one(f, secret_request("K-1"));
  const fs::path key_file = f.home.keys_dir() / "enrollment.key";
  {
    std::ofstream out(key_file, std::ios::trunc);
    out << "abcd\n";
  }
  require_error([&] { issue_one(f, secret_request("K-2")); }, ErrorCode::store,
                "not an enrollment key");
  CHECK(slurp(key_file) == "abcd\n");
}

TEST_CASE("the enrollment key is made once when threads of one process race for it") {
  Fixture f;
  const fs::path key_file = f.home.keys_dir() / "enrollment.key";
  for (int round = 0; round < 5; ++round) {
    fs::remove(key_file);
    constexpr int kThreads = 4;
    std::vector<std::string> keys(kThreads);
    std::vector<std::string> errors(kThreads);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const auto i = static_cast<std::size_t>(t);
        try {
          const Home h = Home::open(f.home.root());
          while (!go.load())
            std::this_thread::yield();
          keys[i] = ossl::hex(*enrollment::home_key(h, true));
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    }
    go = true;
    for (auto& th : threads)
      th.join();
    const std::string on_disk = slurp(key_file);
    for (int t = 0; t < kThreads; ++t) {
      const auto i = static_cast<std::size_t>(t);
      INFO("round " << round << " thread " << t << ": " << errors[i]);
      CHECK(errors[i].empty());
      CHECK(keys[i] + "\n" == on_disk);
    }
  }
  // No temporary file is left behind.
  for (const auto& e : fs::directory_iterator(f.home.keys_dir()))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}

// ---- issuing secrets -------------------------------------------------------------------

TEST_CASE("issue: the checks, all or nothing") {
  Fixture f;
  SUBCASE("a decommissioned device") {
    issue(f.home, f.clock, "factory", "device-ldevid", "OLD-1",
          PrivateKey::generate(KeyAlgorithm::ec_p256), f.dir.path() / "old.pem");
    DecommissionOptions dop;
    decommission(f.home, {"OLD-1"}, dop, f.clock);
    require_error([&] { issue_one(f, secret_request("OLD-1")); }, ErrorCode::policy,
                  "OLD-1 is decommissioned");
    std::vector<IssueSecretRequest> two{secret_request("NEW-1"), secret_request("OLD-1")};
    require_error([&] { issue_enrollment_secrets(f.home, two, f.clock); }, ErrorCode::policy,
                  "request 2 (device OLD-1): device OLD-1 is decommissioned");
  }
  SUBCASE("an unknown profile") {
    auto r = secret_request("D-1");
    r.profile = "nosuch";
    require_error([&] { issue_one(f, r); }, ErrorCode::not_found, "nosuch");
    r.profile.clear();
    require_error([&] { issue_one(f, r); }, ErrorCode::invalid_input, "no profile");
  }
  SUBCASE("an unknown CA") {
    auto r = secret_request("D-1");
    r.ca = "nosuch";
    require_error([&] { issue_one(f, r); }, ErrorCode::not_found, "nosuch");
  }
  SUBCASE("a malformed device id, a time to live out of range") {
    require_error([&] { issue_one(f, secret_request("bad id")); }, ErrorCode::invalid_input,
                  "invalid device id");
    auto r = secret_request("D-1");
    r.ttl = seconds(59);
    require_error([&] { issue_one(f, r); }, ErrorCode::invalid_input, "time to live");
    r.ttl = days(3651);
    require_error([&] { issue_one(f, r); }, ErrorCode::invalid_input, "time to live");
    r.ttl = seconds(60);
    CHECK(issue_one(f, r).record.expires_at == kNow + seconds(60));
  }
  SUBCASE("several requests: the failing one is named, nothing is recorded") {
    std::vector<IssueSecretRequest> reqs{secret_request("D-1"), secret_request("D-2"),
                                         secret_request("D-3")};
    reqs[2].profile = "nosuch";
    require_error([&] { issue_enrollment_secrets(f.home, reqs, f.clock); }, ErrorCode::not_found,
                  "request 3 (device D-3)");
  }
  SUBCASE("the default CA") {
    CHECK(default_issuing_ca(f.home) == "factory");
    f.add_operations_ca();
    require_error([&] { default_issuing_ca(f.home); }, ErrorCode::invalid_input,
                  "factory, operations");
    require_error([&] { issue_one(f, secret_request("D-1")); }, ErrorCode::invalid_input,
                  "factory, operations");
    auto r = secret_request("D-1");
    r.ca = "operations";
    CHECK(issue_one(f, r).record.ca == "operations");
  }
  CHECK(f.count("enrollment_secrets WHERE device_id <> 'D-1'") == "0");
  CHECK(f.count("audit WHERE action IN ('token.issue', 'setup_code.issue') AND "
                "detail NOT LIKE '%\"D-1\"%'") == "0");
}

TEST_CASE("issue: one active secret of a kind per device, unless replaced") {
  Fixture f;
  const auto first = issue_one(f, secret_request("D-1"));
  require_error([&] { issue_one(f, secret_request("D-1")); }, ErrorCode::conflict, first.record.id);
  // Two for one device in one call: the second meets the first.
  std::vector<IssueSecretRequest> two{secret_request("D-2"), secret_request("D-2")};
  require_error([&] { issue_enrollment_secrets(f.home, two, f.clock); }, ErrorCode::conflict,
                "D-2");
  CHECK(f.count("enrollment_secrets WHERE device_id = 'D-2'") == "0");
  // Another kind is another secret.
  const auto code = issue_one(f, secret_request("D-1", SecretKind::setup_code));
  CHECK(code.record.state == "active");

  auto r = secret_request("D-1");
  r.replace = true;
  const auto second = issue_one(f, r);
  CHECK(f.sql("SELECT state FROM enrollment_secrets WHERE id = '" + first.record.id + "'") ==
        "revoked");
  CHECK(f.sql("SELECT state FROM enrollment_secrets WHERE id = '" + second.record.id + "'") ==
        "active");
  CHECK(f.sql("SELECT state FROM enrollment_secrets WHERE id = '" + code.record.id + "'") ==
        "active");
  const auto refused = [&] {
    redeem_enrollment_secret(f.home, redeem_request(f, first.secret, "x.pem"), f.clock);
  };
  try {
    refused();
    FAIL("the replaced token was redeemed");
  } catch (const RedeemRefused& e) {
    CHECK(e.reason() == RedeemRefusal::revoked);
  }

  // An expired secret does not block a new one.
  f.clock.advance(hours(24));
  CHECK(issue_one(f, secret_request("D-1")).record.state == "active");
}

// ---- redeeming -------------------------------------------------------------------------

TEST_CASE("redeem: a token issues a certificate for its device") {
  Fixture f;
  const auto s = issue_one(f, secret_request("DEV-42"));
  auto req = redeem_request(f, s.secret, "dev42.pem");
  req.actor = "app";
  const auto res = redeem_enrollment_secret(f.home, req, f.clock);
  CHECK(res.issued.issuer == "factory");
  CHECK(res.issued.certificate.subject().get("CN") == "DEV-42");
  CHECK(Certificate::load(req.out).der() == res.issued.certificate.der());
  CHECK(res.secret.id == s.record.id);
  CHECK(res.secret.state == "redeemed");
  CHECK(res.secret.redeemed_serial == res.issued.serial_hex);
  CHECK(res.secret.redeemed_issuer == "factory");
  REQUIRE(res.secret.redeemed_at);
  CHECK(*res.secret.redeemed_at == kNow);
  CHECK(secret_state(res.secret, kNow) == "redeemed");

  const auto row = f.home.store().find_cert("factory", res.issued.serial_hex);
  REQUIRE(row);
  CHECK(row->device_id == "DEV-42");
  CHECK(row->profile == "device-ldevid");
  CHECK(f.sql("SELECT state || ' ' || redeemed_serial FROM enrollment_secrets") ==
        "redeemed " + res.issued.serial_hex);
  const std::string ev = f.sql(
      "SELECT subject || ' ' || actor || ' ' || detail FROM audit WHERE action = "
      "'token.redeem'");
  CHECK(ev.starts_with(s.record.id + " app "));
  CHECK(ev.find(res.issued.serial_hex) != std::string::npos);
  CHECK(ev.find(s.secret) == std::string::npos);

  SecretQuery q;
  q.device_id = "DEV-42";
  const auto listed = list_enrollment_secrets(f.home, q);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].state == "redeemed");
  CHECK(listed[0].redeemed_serial == res.issued.serial_hex);
}

TEST_CASE("redeem refusals: one audit event without the secret, the secret unchanged") {
  Fixture f;
  const auto s = issue_one(f, secret_request("D-1"));
  const std::string id = s.record.id;

  // Refused with `why`; nothing else changes.
  const auto expect = [&](const std::string& presented, RedeemRefusal why, ErrorCode code,
                          const std::string& text) {
    INFO("presented '" << presented << "', expected " << to_string(why));
    const std::string row = secret_row(f, id);
    const std::string certs = f.count("certificates");
    const std::string audits = f.count("audit");
    const std::string last = f.sql("SELECT ifnull(max(id), 0) FROM audit");
    auto req = redeem_request(f, presented, "refused.pem");
    try {
      redeem_enrollment_secret(f.home, req, f.clock);
      FAIL("redeemed");
    } catch (const RedeemRefused& e) {
      INFO("message: " << e.what());
      CHECK(e.reason() == why);
      CHECK(e.code() == code);
      CHECK(std::string(e.what()).find(text) != std::string::npos);
    }
    CHECK(secret_row(f, id) == row);
    CHECK(f.count("certificates") == certs);
    CHECK(f.count("audit") == std::to_string(std::stoi(audits) + 1));
    const std::string ev = f.sql(
        "SELECT action || ' ' || subject || ' ' || detail FROM audit "
        "WHERE id > " +
        last);
    CHECK(ev.find(".redeem.refused") != std::string::npos);
    CHECK(ev.find("\"reason\":\"" + std::string(to_string(why)) + "\"") != std::string::npos);
    CHECK(ev.find(s.secret) == std::string::npos);
    CHECK(ev.find(s.secret.substr(4)) == std::string::npos);
    if (presented.size() > 8) CHECK(lower(ev).find(lower(presented)) == std::string::npos);
    CHECK_FALSE(fs::exists(req.out));
  };

  SUBCASE("malformed: prefix, length, alphabet, check character") {
    expect("dpx_" + s.secret.substr(4), RedeemRefusal::malformed, ErrorCode::invalid_input,
           "not an enrollment secret");
    expect(s.secret.substr(0, 33), RedeemRefusal::malformed, ErrorCode::invalid_input,
           "malformed token");
    expect(s.secret + "a", RedeemRefusal::malformed, ErrorCode::invalid_input, "malformed token");
    std::string alpha = s.secret;
    alpha[5] = '1';
    expect(alpha, RedeemRefusal::malformed, ErrorCode::invalid_input, "malformed token");
    std::string check = s.secret;
    check.back() = check.back() == 'a' ? 'b' : 'a';
    expect(check, RedeemRefusal::malformed, ErrorCode::invalid_input, "check characters");
    expect("", RedeemRefusal::malformed, ErrorCode::invalid_input, "not an enrollment secret");
  }
  SUBCASE("unknown: well formed, never issued here") {
    expect(enrollment::new_token(), RedeemRefusal::unknown, ErrorCode::policy, "unknown token");
  }
  SUBCASE("expired: at exactly expires_at") {
    f.clock.set(s.record.expires_at - seconds(1));
    CHECK(secret_state(*lookup_enrollment_secret(f.home, s.secret), f.clock.now()) == "active");
    f.clock.set(s.record.expires_at);
    CHECK(secret_state(*lookup_enrollment_secret(f.home, s.secret), f.clock.now()) == "expired");
    expect(s.secret, RedeemRefusal::expired, ErrorCode::policy, "expired at");
  }
  SUBCASE("revoked") {
    f.clock.advance(minutes(5));
    const auto revoked = revoke_enrollment_secrets(f.home, "D-1", SecretKind::token, f.clock);
    REQUIRE(revoked.size() == 1);
    CHECK(revoked[0].id == id);
    expect(s.secret, RedeemRefusal::revoked, ErrorCode::policy, "was revoked at");
    require_error([&] { revoke_enrollment_secrets(f.home, "D-1", std::nullopt, f.clock); },
                  ErrorCode::not_found, "no active");
  }
  SUBCASE("replayed") {
    const auto first =
        redeem_enrollment_secret(f.home, redeem_request(f, s.secret, "first.pem"), f.clock);
    f.clock.advance(minutes(1));
    expect(s.secret, RedeemRefusal::replayed, ErrorCode::policy, first.issued.serial_hex);
    expect(upper(s.secret), RedeemRefusal::replayed, ErrorCode::policy, "already redeemed");
  }
  SUBCASE("a decommissioned device") {
    issue(f.home, f.clock, "factory", "device-idevid", "D-1",
          PrivateKey::generate(KeyAlgorithm::ec_p256), f.dir.path() / "d1.pem");
    DecommissionOptions dop;
    decommission(f.home, {"D-1"}, dop, f.clock);
    expect(s.secret, RedeemRefusal::device, ErrorCode::policy, "decommissioned");
  }
}

TEST_CASE("redeem: a bad CSR is refused and does not spend the secret") {
  Fixture f;
  const auto s = issue_one(f, secret_request("D-1"));
  const std::string row = secret_row(f, s.record.id);
  const std::string certs = f.count("certificates");

  auto req = redeem_request(f, s.secret, "d1.pem");
  const auto refused_with = [&](const std::vector<std::uint8_t>& csr, ErrorCode code) {
    req.csr = csr;
    try {
      redeem_enrollment_secret(f.home, req, f.clock);
      FAIL("redeemed");
    } catch (const RedeemRefused& e) {
      INFO("message: " << e.what());
      CHECK(e.reason() == RedeemRefusal::csr);
      CHECK(e.code() == code);
      CHECK(std::string(e.what()).find("the CSR") != std::string::npos);
    }
    CHECK(secret_row(f, s.record.id) == row);
    CHECK(f.count("certificates") == certs);
    CHECK(secret_state(*lookup_enrollment_secret(f.home, s.secret), f.clock.now()) == "active");
  };
  // Unreadable.
  refused_with(bytes_of("not a CSR"), ErrorCode::invalid_input);
  // Readable, but the profile refuses what it asks for.
  refused_with(make_csr_der(PrivateKey::generate(KeyAlgorithm::ec_p256),
                            CsrOptions{}.with_sans("DNS:someone-else.example")),
               ErrorCode::policy);
  refused_with(make_csr_der(PrivateKey::generate(KeyAlgorithm::ec_p256), CsrOptions{}.with_ca()),
               ErrorCode::policy);
  CHECK(f.count("audit WHERE action = 'token.redeem.refused'") == "3");
  CHECK(f.count("audit WHERE action = 'token.redeem.failed'") == "0");

  // Still redeemable, with a CSR the profile allows.
  req.csr = make_csr_der(PrivateKey::generate(KeyAlgorithm::ec_p256),
                         CsrOptions{}.with_sans("DNS:D-1.devices.acme.example"));
  const auto res = redeem_enrollment_secret(f.home, req, f.clock);
  CHECK(res.secret.state == "redeemed");
  CHECK(res.issued.certificate.subject().get("CN") == "D-1");
}

TEST_CASE("setup codes: the manual code, the bare code, a QR payload") {
  Fixture f;
  std::vector<IssueSecretRequest> reqs;
  for (const char* d : {"Q-1", "Q-2", "Q-3", "Q-4"})
    reqs.push_back(secret_request(d, SecretKind::setup_code));
  const auto issued = issue_enrollment_secrets(f.home, reqs, f.clock);
  REQUIRE(issued.size() == 4);
  CHECK(f.audit_count("setup_code.issue") == "4");

  SUBCASE("manual code, lower case, with dashes") {
    const std::string typed = lower(manual_code(issued[0].secret));
    REQUIRE(typed.size() == 16);
    const auto res = redeem_enrollment_secret(f.home, redeem_request(f, typed, "q1.pem"), f.clock);
    CHECK(res.issued.certificate.subject().get("CN") == "Q-1");
    CHECK(res.secret.kind == "setup_code");
    CHECK(f.audit_count("setup_code.redeem") == "1");
  }
  SUBCASE("the 12 characters") {
    const auto res =
        redeem_enrollment_secret(f.home, redeem_request(f, issued[1].secret, "q2.pem"), f.clock);
    CHECK(res.issued.certificate.subject().get("CN") == "Q-2");
  }
  SUBCASE("a whole QR payload") {
    const std::string payload = dp1_payload("Q-3", issued[2].secret);
    CHECK(lookup_enrollment_secret(f.home, payload)->id == issued[2].record.id);
    const auto res =
        redeem_enrollment_secret(f.home, redeem_request(f, payload, "q3.pem"), f.clock);
    CHECK(res.issued.certificate.subject().get("CN") == "Q-3");
  }
  SUBCASE("a payload naming another device") {
    const std::string row = secret_row(f, issued[3].record.id);
    const std::string payload = dp1_payload("Q-1", issued[3].secret);
    try {
      redeem_enrollment_secret(f.home, redeem_request(f, payload, "q4.pem"), f.clock);
      FAIL("redeemed");
    } catch (const RedeemRefused& e) {
      CHECK(e.reason() == RedeemRefusal::device);
      CHECK(e.code() == ErrorCode::policy);
    }
    CHECK(secret_row(f, issued[3].record.id) == row);
    const std::string ev = f.sql(
        "SELECT detail FROM audit WHERE action = "
        "'setup_code.redeem.refused'");
    CHECK(ev.find(issued[3].secret) == std::string::npos);
    // The right payload still works.
    const auto res = redeem_enrollment_secret(
        f.home, redeem_request(f, dp1_payload("Q-4", issued[3].secret), "q4.pem"), f.clock);
    CHECK(res.issued.certificate.subject().get("CN") == "Q-4");
  }
  SUBCASE("malformed setup codes are refused without recording them") {
    const std::string code = issued[0].secret;
    std::string typo = manual_code(code);
    typo.back() = typo.back() == '0' ? '1' : '0';
    std::string bad_char = code;
    bad_char[3] = 'U';  // not in the Crockford alphabet
    std::string bad_payload = dp1_payload("Q-1", code);
    bad_payload[bad_payload.size() - 1] = bad_payload.back() == '0' ? '1' : '0';
    // A payload whose check is right but whose setup code field is lower case.
    std::string lower_payload = dp1_payload("Q-1", code);
    lower_payload.replace(lower_payload.find(code), code.size(), lower(code));
    lower_payload.resize(lower_payload.size() - 2);
    lower_payload += payload_check(lower_payload);
    for (const std::string& presented : {typo, bad_char, bad_payload, lower_payload}) {
      INFO("presented " << presented);
      const std::string last = f.sql("SELECT max(id) FROM audit");
      try {
        redeem_enrollment_secret(f.home, redeem_request(f, presented, "qx.pem"), f.clock);
        FAIL("redeemed");
      } catch (const RedeemRefused& e) {
        CHECK(e.reason() == RedeemRefusal::malformed);
        CHECK(e.code() == ErrorCode::invalid_input);
      }
      const std::string ev =
          f.sql("SELECT action || ' ' || subject || ' ' || detail FROM audit WHERE id > " + last);
      CHECK(ev.find(".redeem.refused") != std::string::npos);
      CHECK(f.count("audit WHERE id > " + last) == "1");
      CHECK(upper(ev).find(code) == std::string::npos);
      CHECK(upper(ev).find(code.substr(4)) == std::string::npos);
      CHECK(upper(ev).find(code.substr(0, 4) + "-" + code.substr(4, 4)) == std::string::npos);
    }
    CHECK(secret_state(*lookup_enrollment_secret(f.home, code), f.clock.now()) == "active");
  }
}

TEST_CASE("lookup, list, revoke and the states shown") {
  Fixture f;
  const auto tok = issue_one(f, secret_request("L-1"));
  const auto code = issue_one(f, secret_request("L-1", SecretKind::setup_code));
  const std::string audits = f.count("audit");
  CHECK(lookup_enrollment_secret(f.home, tok.secret)->id == tok.record.id);
  CHECK(lookup_enrollment_secret(f.home, manual_code(code.secret))->id == code.record.id);
  CHECK_FALSE(lookup_enrollment_secret(f.home, enrollment::new_token()));
  require_error([&] { lookup_enrollment_secret(f.home, "hello"); }, ErrorCode::invalid_input,
                "not an enrollment secret");
  CHECK(f.count("audit") == audits);

  SecretQuery q;
  q.kind = "setup_code";
  REQUIRE(list_enrollment_secrets(f.home, q).size() == 1);
  q.kind.reset();
  q.device_id = "L-1";
  CHECK(list_enrollment_secrets(f.home, q).size() == 2);

  const auto revoked = revoke_enrollment_secrets(f.home, "L-1", std::nullopt, f.clock, "ops");
  CHECK(revoked.size() == 2);
  q.state = "revoked";
  CHECK(list_enrollment_secrets(f.home, q).size() == 2);
  CHECK(secret_state(list_enrollment_secrets(f.home, q)[0], kNow) == "revoked");
  require_error([&] { revoke_enrollment_secrets(f.home, "L-1", SecretKind::token, f.clock); },
                ErrorCode::not_found, "has no active token");

  EnrollmentSecretRecord r = tok.record;
  CHECK(secret_state(r, r.expires_at - seconds(1)) == "active");
  CHECK(secret_state(r, r.expires_at) == "expired");
  r.state = "redeemed";
  r.redeemed_at = kNow;
  CHECK(secret_state(r, kNow) == "interrupted");
  r.redeemed_serial = "01";
  CHECK(secret_state(r, kNow) == "redeemed");
}

TEST_CASE("two redeemers with their own connection race for one token: one certificate") {
  Fixture f;
  const fs::path dir = f.home.root();
  for (int round = 0; round < 4; ++round) {
    const std::string device = "RACE-" + std::to_string(round);
    const auto s = issue_one(f, secret_request(device));
    std::atomic<int> ok{0};
    std::atomic<int> replayed{0};
    std::atomic<int> other{0};
    std::vector<std::string> errors(2);
    std::vector<RedeemRequest> reqs;
    for (int t = 0; t < 2; ++t)
      reqs.push_back(redeem_request(f, s.secret, device + "-" + std::to_string(t) + ".pem"));
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        try {
          Home h = Home::open(dir);
          FixedClock clock(kNow);
          while (!go.load())
            std::this_thread::yield();
          redeem_enrollment_secret(h, reqs[static_cast<std::size_t>(t)], clock);
          ++ok;
        } catch (const RedeemRefused& e) {
          if (e.reason() == RedeemRefusal::replayed) {
            ++replayed;
          } else {
            ++other;
            errors[static_cast<std::size_t>(t)] = e.what();
          }
        } catch (const std::exception& e) {
          ++other;
          errors[static_cast<std::size_t>(t)] = e.what();
        }
      });
    }
    go = true;
    for (auto& th : threads)
      th.join();
    INFO("round " << round << ": " << errors[0] << " / " << errors[1]);
    CHECK(ok.load() == 1);
    CHECK(replayed.load() == 1);
    CHECK(other.load() == 0);
    CHECK(f.count("certificates WHERE device_id = '" + device + "'") == "1");
    CHECK(f.sql("SELECT state FROM enrollment_secrets WHERE id = '" + s.record.id + "'") ==
          "redeemed");
    CHECK(f.count("audit WHERE action = 'token.redeem' AND subject = '" + s.record.id + "'") ==
          "1");
  }
}
