// The SQLite store's provisioning side (schema v5): the v4 -> v5 migration,
// JITP device registration, bootstrap trust anchors and one-time enrollment
// secrets (adding them all or none, the single-use claim and its expiry
// boundary, release, completion, revocation).
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pki/error.hpp"
#include "pki/store.hpp"
#include "store/sqlite_schema.hpp"
#include "store/sqlite_store.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// The shared temporary directory, with the store file this test opens in it.
class TempDir : public pki::test::TempDir {
 public:
  std::string db() const { return (path() / "store.db").string(); }
};

// First column of the first row, as text ("" when there is no row or it is NULL).
std::string scalar(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  INFO(sql);
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return out;
}

// Runs SQL, returning SQLite's result code (constraint checks expect failures).
int exec(sqlite3* db, const std::string& sql) {
  return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
}

template <class F>
void require_error(F&& f, pki::ErrorCode code, const std::string& text) {
  try {
    f();
    FAIL("expected pki::Error(" << pki::to_string(code) << ") containing '" << text << "'");
  } catch (const pki::Error& e) {
    INFO("message: " << e.what());
    CHECK(e.code() == code);
    CHECK(std::string(e.what()).find(text) != std::string::npos);
  }
}

const pki::TimePoint t0 = pki::parse_time("2026-01-01T00:00:00Z");
const std::vector<std::uint8_t> kDer = {0x30, 0x03, 0x02, 0x01, 0x01};

pki::CaRecord make_ca(const std::string& name) {
  pki::CaRecord ca;
  ca.name = name;
  ca.profile = "root-ca";
  ca.subject = "CN=" + name;
  ca.serial_hex = "01";
  ca.key_ref = "file:keys/" + name + ".key.pem";
  ca.spki_sha256 = std::string(64, 'a');
  ca.ski_hex = "0102";
  ca.not_before = t0;
  ca.not_after = t0 + 24h * 365 * 20;
  ca.created_at = t0;
  return ca;
}

pki::AuditEvent event(const std::string& action, const std::string& subject = "") {
  pki::AuditEvent ev;
  ev.at = t0;
  ev.actor = "test";
  ev.action = action;
  ev.subject = subject;
  ev.detail = "{}";
  return ev;
}

pki::DeviceRegistration registration(const std::string& device, const std::string& attributes,
                                     pki::TimePoint now = t0,
                                     const std::string& cert = std::string(64, 'c')) {
  pki::DeviceRegistration reg;
  reg.device_id = device;
  reg.attributes = attributes;
  reg.registered_by = "fleet";
  reg.registered_cert = cert;
  reg.now = now;
  return reg;
}

pki::TrustAnchorRecord anchor(const std::string& name, char digest,
                              const std::string& subject = "CN=Acme Manufacturing CA") {
  pki::TrustAnchorRecord a;
  a.name = name;
  a.subject = subject;
  a.sha256 = std::string(64, digest);
  a.spki_sha256 = std::string(64, 'e');
  a.not_before = t0;
  a.not_after = t0 + 24h * 365 * 30;
  a.source = "file:acme.pem";
  a.der = kDer;
  a.added_at = t0;
  return a;
}

// A 16-hex-digit id and a distinct hash, both derived from `n`.
pki::EnrollmentSecretRecord secret(int n, const std::string& device,
                                   const std::string& kind = "token",
                                   pki::TimePoint expires = t0 + 24h) {
  char id[17];
  std::snprintf(id, sizeof id, "%016x", n);
  pki::EnrollmentSecretRecord s;
  s.id = id;
  s.kind = kind;
  s.device_id = device;
  s.ca = "issuing";
  s.profile = "device-ldevid";
  s.secret_hash = std::string(48, 'a') + id;
  s.state = "active";
  s.created_at = t0;
  s.expires_at = expires;
  return s;
}

std::size_t audit_count(pki::Store& store) {
  return store.audit_log().size();
}

std::vector<std::string> ids_of(const std::vector<pki::EnrollmentSecretRecord>& v) {
  std::vector<std::string> out;
  for (const auto& s : v)
    out.push_back(s.id + ":" + s.state);
  return out;
}

struct Fixture {
  TempDir dir;
  std::unique_ptr<pki::Store> store = pki::open_store(dir.db());
  Fixture() { store->add_ca(make_ca("issuing")); }
  sqlite3* db() { return dynamic_cast<pki::SqliteStore&>(*store).native_handle(); }
  void add(std::initializer_list<pki::EnrollmentSecretRecord> secrets, bool replace = false,
           pki::TimePoint now = t0) {
    const std::vector<pki::EnrollmentSecretRecord> v(secrets);
    std::vector<pki::AuditEvent> audit;
    for (const auto& s : v)
      audit.push_back(event("token.issue", s.id));
    store->add_enrollment_secrets(v, replace, now, audit);
  }
};

}  // namespace

TEST_CASE("a v4 store migrates to v5 with its rows") {
  TempDir dir;
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.db().c_str(), &db) == SQLITE_OK);
    pki::sqlite::migrate(db, 4);
    CHECK(scalar(db, "SELECT max(version) FROM schema_version") == "4");
    CHECK(scalar(db, "SELECT count(*) FROM sqlite_master WHERE name = 'enrollment_secrets'") ==
          "0");
    REQUIRE(exec(db,
                 "INSERT INTO cas (name, parent, profile, subject, serial_hex, key_ref, "
                 "spki_sha256, ski_hex, not_before, not_after, status, cert_der, created_at) "
                 "VALUES ('root', NULL, 'root-ca', 'CN=R', '01', 'file:k', 'aa', 'bb', 0, 100000, "
                 "'active', NULL, 0)") == SQLITE_OK);
    REQUIRE(exec(db,
                 "INSERT INTO devices (device_id, status, reason, decommissioned_at, created_at, "
                 "updated_at) VALUES ('dev-1', 'active', NULL, NULL, 10, 10)") == SQLITE_OK);
    REQUIRE(exec(db,
                 "INSERT INTO devices (device_id, status, reason, decommissioned_at, created_at, "
                 "updated_at) VALUES ('dev-2', 'decommissioned', 5, 100, 100, 100)") == SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = pki::open_store(dir.db());
  CHECK(store->schema_version() == 5);
  CHECK(pki::sqlite::latest_schema_version() == 5);
  sqlite3* db = dynamic_cast<pki::SqliteStore&>(*store).native_handle();
  for (const char* name : {"trust_anchors", "enrollment_secrets", "enrollment_secrets_device"}) {
    INFO(name);
    CHECK(scalar(db, std::string("SELECT count(*) FROM sqlite_master WHERE name = '") + name +
                         "'") == "1");
  }
  CHECK(scalar(db, "PRAGMA integrity_check") == "ok");
  CHECK(scalar(db, "PRAGMA foreign_key_check") == "");

  // The carried-over rows read with the new columns empty.
  const auto d1 = store->find_device("dev-1");
  REQUIRE(d1);
  CHECK(d1->status == "active");
  CHECK(d1->attributes == "{}");
  CHECK(d1->registered_by.empty());
  CHECK(d1->registered_cert.empty());
  CHECK(d1->created_at == pki::TimePoint{10s});
  const auto d2 = store->find_device("dev-2");
  REQUIRE(d2);
  CHECK(d2->status == "decommissioned");
  CHECK(d2->reason == 5);
  CHECK(d2->decommissioned_at == pki::TimePoint{100s});
  CHECK(scalar(db, "SELECT count(*) FROM devices WHERE registered_by IS NULL") == "2");

  // ...and behave as v5 rows: the known, unregistered device is registered,
  // the decommissioned one is not.
  const auto r1 = store->register_device(registration("dev-1", R"({"line":"a"})", t0), event("x"));
  CHECK(r1.outcome == pki::RegisterOutcome::registered);
  CHECK(r1.device.created_at == pki::TimePoint{10s});
  CHECK(r1.device.updated_at == t0);
  CHECK(store->register_device(registration("dev-2", "{}"), event("x")).outcome ==
        pki::RegisterOutcome::decommissioned);
}

TEST_CASE("v5 constraints: the tables refuse rows the store never writes") {
  Fixture f;
  sqlite3* db = f.db();
  const std::string cols =
      "INSERT INTO enrollment_secrets (id, kind, device_id, ca, profile, secret_hash, state, "
      "created_at, expires_at, redeemed_at, redeemed_issuer, redeemed_serial, revoked_at) VALUES ";
  CHECK(exec(db, cols + "('01', 'token', 'd', 'issuing', 'p', 'aa', 'active', 1, 2, NULL, NULL, "
                        "NULL, NULL)") == SQLITE_OK);
  const auto refused = [&](const std::string& values) {
    INFO(values);
    CHECK((exec(db, cols + values) & 0xff) == SQLITE_CONSTRAINT);
  };
  refused("('02', 'psk', 'd', 'issuing', 'p', 'ab', 'active', 1, 2, NULL, NULL, NULL, NULL)");
  refused("('02', 'token', 'd', 'nope', 'p', 'ab', 'active', 1, 2, NULL, NULL, NULL, NULL)");
  refused("('02', 'token', 'd', 'issuing', 'p', 'aa', 'active', 1, 2, NULL, NULL, NULL, NULL)");
  refused("('02', 'token', 'd', 'issuing', 'p', 'AB', 'active', 1, 2, NULL, NULL, NULL, NULL)");
  refused("('02', 'token', 'd', 'issuing', 'p', 'ab', 'active', 2, 2, NULL, NULL, NULL, NULL)");
  refused("('02', 'token', 'd', 'issuing', 'p', 'ab', 'redeemed', 1, 2, NULL, NULL, NULL, NULL)");
  refused("('02', 'token', 'd', 'issuing', 'p', 'ab', 'active', 1, 2, 1, NULL, NULL, NULL)");
  refused("('02', 'token', 'd', 'issuing', 'p', 'ab', 'revoked', 1, 2, NULL, NULL, NULL, NULL)");
  refused("('02', 'token', 'd', 'issuing', 'p', 'ab', 'revoked', 1, 2, 1, NULL, NULL, 1)");
  refused(
      "('02', 'token', 'd', 'issuing', 'p', 'ab', 'active', 1, 2, NULL, 'issuing', '0a', "
      "NULL)");
  // A redeemed secret names a certificate that exists.
  refused(
      "('02', 'token', 'd', 'issuing', 'p', 'ab', 'redeemed', 1, 2, 1, 'issuing', '0a', "
      "NULL)");
  CHECK(
      (exec(db,
            "INSERT INTO trust_anchors VALUES ('x', 'mqtt', 'CN=X', 'ab', 'cd', 0, 1, 'f', x'00', "
            "0)") &
       0xff) == SQLITE_CONSTRAINT);
}

TEST_CASE("register_device: registered, unchanged, conflict, decommissioned") {
  Fixture f;
  auto& store = *f.store;
  const std::string attrs = R"({"model":"x1","site":"lyon"})";

  // A new device: a row, and the audit event.
  const auto first =
      store.register_device(registration("dev-1", attrs, t0), event("jitp.register"));
  CHECK(first.outcome == pki::RegisterOutcome::registered);
  CHECK(first.device.device_id == "dev-1");
  CHECK(first.device.status == "active");
  CHECK(first.device.attributes == attrs);
  CHECK(first.device.registered_by == "fleet");
  CHECK(first.device.registered_cert == std::string(64, 'c'));
  CHECK(first.device.created_at == t0);
  CHECK(first.device.updated_at == t0);
  CHECK_FALSE(first.device.decommissioned_at);
  CHECK(audit_count(store) == 1);
  CHECK(store.audit_log().back().action == "jitp.register");

  // The same attributes again, from another certificate: nothing written.
  const auto again = store.register_device(
      registration("dev-1", attrs, t0 + 1h, std::string(64, 'd')), event("jitp.register"));
  CHECK(again.outcome == pki::RegisterOutcome::unchanged);
  CHECK(again.device.registered_cert == std::string(64, 'c'));
  CHECK(again.device.updated_at == t0);
  CHECK(audit_count(store) == 1);

  // Other attributes: a conflict, nothing written.
  const auto other = store.register_device(
      registration("dev-1", R"({"model":"x2","site":"lyon"})", t0 + 2h), event("jitp.register"));
  CHECK(other.outcome == pki::RegisterOutcome::conflict);
  CHECK(other.device.attributes == attrs);
  CHECK(store.find_device("dev-1")->attributes == attrs);
  CHECK(audit_count(store) == 1);

  // A row without attributes or template (as an older devpki wrote them,
  // made directly): registered now, given these attributes.
  REQUIRE(exec(f.db(),
               "INSERT INTO devices (device_id, status, created_at, updated_at) VALUES "
               "('dev-2', 'active', 5, 5)") == SQLITE_OK);
  const auto known = store.register_device(registration("dev-2", attrs, t0 + 3h), event("j"));
  CHECK(known.outcome == pki::RegisterOutcome::registered);
  CHECK(known.device.attributes == attrs);
  CHECK(known.device.registered_by == "fleet");
  CHECK(known.device.created_at == pki::TimePoint{5s});
  CHECK(known.device.updated_at == t0 + 3h);
  CHECK(audit_count(store) == 2);

  // A template that maps no attributes still registers once.
  const auto empty = store.register_device(registration("dev-3", "{}"), event("j"));
  CHECK(empty.outcome == pki::RegisterOutcome::registered);
  CHECK(store.register_device(registration("dev-3", "{}"), event("j")).outcome ==
        pki::RegisterOutcome::unchanged);
  CHECK(audit_count(store) == 3);

  // Decommissioned (a device with a certificate): nothing written.
  pki::CertRecord cert;
  cert.issuer = "issuing";
  cert.serial_hex = "0a";
  cert.device_id = "dev-4";
  cert.profile = "device";
  cert.subject = "CN=dev-4";
  cert.not_before = t0;
  cert.not_after = t0 + 24h * 365;
  cert.spki_sha256 = std::string(64, 'b');
  pki::ReserveOptions opts;
  opts.now = t0;
  store.reserve(cert, opts);
  store.commit_issued("issuing", "0a", kDer, t0);
  const std::vector<std::string> ids = {"dev-4", "dev-1"};
  store.decommission(ids, 5, t0 + 4h, false);
  const auto before = audit_count(store);
  const auto dead = store.register_device(registration("dev-4", attrs, t0 + 5h), event("j"));
  CHECK(dead.outcome == pki::RegisterOutcome::decommissioned);
  CHECK(dead.device.status == "decommissioned");
  CHECK(dead.device.attributes == "{}");
  CHECK(store.find_device("dev-4")->registered_by.empty());
  // A registered device decommissioned afterwards keeps its registration.
  const auto dead1 = store.register_device(registration("dev-1", attrs, t0 + 5h), event("j"));
  CHECK(dead1.outcome == pki::RegisterOutcome::decommissioned);
  CHECK(dead1.device.attributes == attrs);
  CHECK(audit_count(store) == before);

  require_error([&] { store.register_device(registration("", attrs), event("j")); },
                pki::ErrorCode::invalid_input, "no device id");
}

TEST_CASE("trust anchors: add, duplicates, list, remove") {
  Fixture f;
  auto& store = *f.store;
  store.add_trust_anchor(anchor("acme-mfg", '1'), event("trust.add", "acme-mfg"));
  store.add_trust_anchor(anchor("beta-mfg", '2', "CN=Beta CA"), event("trust.add", "beta-mfg"));
  CHECK(audit_count(store) == 2);

  // The same certificate under another name, and another certificate under a used name.
  require_error([&] { store.add_trust_anchor(anchor("acme-2", '1'), event("trust.add")); },
                pki::ErrorCode::conflict,
                "CA certificate CN=Acme Manufacturing CA is already trusted as 'acme-mfg'");
  require_error(
      [&] { store.add_trust_anchor(anchor("acme-mfg", '3', "CN=Other"), event("trust.add")); },
      pki::ErrorCode::conflict, "a trust anchor named 'acme-mfg' exists");
  CHECK(audit_count(store) == 2);
  require_error([&] { store.add_trust_anchor(anchor("Bad Name", '4'), event("trust.add")); },
                pki::ErrorCode::invalid_input, "invalid trust anchor name");
  auto mqtt = anchor("mqtt", '5');
  mqtt.purpose = "mqtt";
  require_error([&] { store.add_trust_anchor(mqtt, event("trust.add")); },
                pki::ErrorCode::invalid_input, "unknown purpose");

  // By name, whatever the order they were added in.
  store.add_trust_anchor(anchor("a-first", '6', "CN=A"), event("trust.add"));
  auto list = store.list_trust_anchors();
  REQUIRE(list.size() == 3);
  CHECK(list[0].name == "a-first");
  CHECK(list[1].name == "acme-mfg");
  CHECK(list[2].name == "beta-mfg");
  const auto& acme = list[1];
  CHECK(acme.purpose == "bootstrap");
  CHECK(acme.subject == "CN=Acme Manufacturing CA");
  CHECK(acme.sha256 == std::string(64, '1'));
  CHECK(acme.spki_sha256 == std::string(64, 'e'));
  CHECK(acme.not_before == t0);
  CHECK(acme.not_after == t0 + 24h * 365 * 30);
  CHECK(acme.source == "file:acme.pem");
  CHECK(acme.der == kDer);
  CHECK(acme.added_at == t0);
  CHECK(store.list_trust_anchors("bootstrap").size() == 3);
  CHECK(store.list_trust_anchors("mqtt").empty());

  CHECK(store.remove_trust_anchor("acme-mfg", event("trust.remove", "acme-mfg")));
  CHECK(audit_count(store) == 4);
  CHECK_FALSE(store.remove_trust_anchor("acme-mfg", event("trust.remove", "acme-mfg")));
  CHECK(audit_count(store) == 4);
  list = store.list_trust_anchors();
  REQUIRE(list.size() == 2);
  CHECK(list[0].name == "a-first");
  CHECK(list[1].name == "beta-mfg");
  // Its certificate can be trusted again.
  store.add_trust_anchor(anchor("acme-2", '1'), event("trust.add"));
  CHECK(store.list_trust_anchors().size() == 3);
}

TEST_CASE("enrollment secrets: add, one active per device and kind, replace, all or none") {
  Fixture f;
  auto& store = *f.store;
  f.add({secret(1, "dev-1"), secret(2, "dev-1", "setup_code"), secret(3, "dev-2")});
  CHECK(audit_count(store) == 3);
  const auto one = store.find_enrollment_secret(secret(1, "dev-1").secret_hash);
  REQUIRE(one);
  CHECK(one->id == "0000000000000001");
  CHECK(one->kind == "token");
  CHECK(one->device_id == "dev-1");
  CHECK(one->ca == "issuing");
  CHECK(one->profile == "device-ldevid");
  CHECK(one->state == "active");
  CHECK(one->created_at == t0);
  CHECK(one->expires_at == t0 + 24h);
  CHECK_FALSE(one->redeemed_at);
  CHECK(one->redeemed_issuer.empty());
  CHECK(one->redeemed_serial.empty());
  CHECK_FALSE(one->revoked_at);
  CHECK_FALSE(store.find_enrollment_secret(std::string(64, 'f')));

  // dev-1 holds an active token: another is refused, naming it.
  require_error([&] { f.add({secret(4, "dev-1")}, false, t0 + 1h); }, pki::ErrorCode::conflict,
                "device dev-1 already holds an active token (0000000000000001, expires "
                "2026-01-02T00:00:00Z): revoke it first (devpki-provision token revoke --device "
                "dev-1) or replace it (--replace)");
  // All or none: the first record was fine, the second conflicts; neither
  // is stored and no audit event is written.
  require_error(
      [&] {
        f.add({secret(5, "dev-9"), secret(6, "dev-2")}, false, t0 + 1h);
      },
      pki::ErrorCode::conflict, "device dev-2 already holds an active token");
  CHECK_FALSE(store.find_enrollment_secret(secret(5, "dev-9").secret_hash));
  CHECK(audit_count(store) == 3);
  // Two records for one device and kind in one call: the second conflicts with the first.
  require_error(
      [&] {
        f.add({secret(7, "dev-8"), secret(8, "dev-8")}, false, t0 + 1h);
      },
      pki::ErrorCode::conflict, "device dev-8 already holds an active token");
  CHECK(store.list_enrollment_secrets({}).size() == 3);
  // A duplicate hash or id.
  auto dup = secret(9, "dev-7");
  dup.secret_hash = secret(3, "dev-2").secret_hash;
  require_error([&] { f.add({dup}); }, pki::ErrorCode::conflict, "hash of an existing secret");
  auto same_id = secret(3, "dev-7");
  same_id.secret_hash = std::string(64, 'b');
  require_error([&] { f.add({same_id}); }, pki::ErrorCode::conflict,
                "id 0000000000000003 already exists");
  // An unknown CA; invalid records.
  auto nowhere = secret(10, "dev-7");
  nowhere.ca = "nope";
  require_error([&] { f.add({nowhere}); }, pki::ErrorCode::not_found, "CA nope does not exist");
  require_error([&] { f.add({secret(11, "dev-7", "psk")}); }, pki::ErrorCode::invalid_input,
                "unknown kind");
  require_error([&] { f.add({secret(12, "dev-7", "token", t0)}); }, pki::ErrorCode::invalid_input,
                "expires before it is created");
  CHECK(audit_count(store) == 3);

  // An expired active token does not block a new one, at the exact boundary too.
  f.add({secret(13, "dev-2")}, false, t0 + 24h);
  CHECK(store.find_enrollment_secret(secret(3, "dev-2").secret_hash)->state == "active");

  // replace: the active one is revoked at `now` in the same transaction.
  f.add({secret(14, "dev-1", "token", t0 + 48h)}, true, t0 + 2h);
  const auto old = store.find_enrollment_secret(secret(1, "dev-1").secret_hash);
  CHECK(old->state == "revoked");
  CHECK(old->revoked_at == t0 + 2h);
  // The setup code of the same device is another kind: untouched.
  CHECK(store.find_enrollment_secret(secret(2, "dev-1").secret_hash)->state == "active");
  CHECK(store.find_enrollment_secret(secret(14, "dev-1").secret_hash)->state == "active");
  CHECK(audit_count(store) == 5);
  // A setup code conflict names its own command.
  require_error([&] { f.add({secret(15, "dev-1", "setup_code")}, false, t0 + 2h); },
                pki::ErrorCode::conflict, "already holds an active setup code (0000000000000002");

  // A replace that fails later rolls the revocation back too.
  require_error(
      [&] {
        f.add({secret(16, "dev-1", "token", t0 + 48h), dup}, true, t0 + 3h);
      },
      pki::ErrorCode::conflict, "hash of an existing secret");
  CHECK(store.find_enrollment_secret(secret(14, "dev-1").secret_hash)->state == "active");
  CHECK_FALSE(store.find_enrollment_secret(secret(16, "dev-1").secret_hash));

  // Listing: by device, then created_at, then id; filters.
  auto later = secret(17, "dev-0", "setup_code", t0 + 48h);
  later.created_at = t0 + 1h;
  f.add({later, secret(18, "dev-0")});
  CHECK(ids_of(store.list_enrollment_secrets({})) ==
        std::vector<std::string>{"0000000000000012:active", "0000000000000011:active",
                                 "0000000000000001:revoked", "0000000000000002:active",
                                 "000000000000000e:active", "0000000000000003:active",
                                 "000000000000000d:active"});
  pki::SecretQuery q;
  q.device_id = "dev-1";
  CHECK(ids_of(store.list_enrollment_secrets(q)) ==
        std::vector<std::string>{"0000000000000001:revoked", "0000000000000002:active",
                                 "000000000000000e:active"});
  q.state = "active";
  q.kind = "token";
  CHECK(ids_of(store.list_enrollment_secrets(q)) ==
        std::vector<std::string>{"000000000000000e:active"});
  pki::SecretQuery codes;
  codes.kind = "setup_code";
  CHECK(ids_of(store.list_enrollment_secrets(codes)) ==
        std::vector<std::string>{"0000000000000011:active", "0000000000000002:active"});
}

TEST_CASE("claim: single use, each outcome, the exact expiry boundary") {
  Fixture f;
  auto& store = *f.store;
  const auto a = secret(1, "dev-1");  // expires t0 + 24h
  const auto b = secret(2, "dev-2");
  const auto c = secret(3, "dev-3");
  f.add({a, b, c});
  store.revoke_enrollment_secrets("dev-3", std::nullopt, t0 + 1h, event("token.revoke"));

  CHECK(store.claim_enrollment_secret(std::string(64, 'f'), t0).outcome ==
        pki::ClaimOutcome::unknown);
  CHECK_FALSE(store.claim_enrollment_secret(std::string(64, 'f'), t0).secret);

  // One second before expiry: claimed. Then redeemed, whoever asks.
  const auto claimed = store.claim_enrollment_secret(a.secret_hash, t0 + 24h - 1s);
  CHECK(claimed.outcome == pki::ClaimOutcome::claimed);
  REQUIRE(claimed.secret);
  CHECK(claimed.secret->state == "redeemed");
  CHECK(claimed.secret->redeemed_at == t0 + 24h - 1s);
  const auto twice = store.claim_enrollment_secret(a.secret_hash, t0 + 24h - 1s);
  CHECK(twice.outcome == pki::ClaimOutcome::redeemed);
  CHECK(twice.secret->redeemed_at == t0 + 24h - 1s);

  // now == expires_at is expired; the secret stays active (nothing written).
  const auto expired = store.claim_enrollment_secret(b.secret_hash, t0 + 24h);
  CHECK(expired.outcome == pki::ClaimOutcome::expired);
  REQUIRE(expired.secret);
  CHECK(expired.secret->state == "active");
  CHECK_FALSE(expired.secret->redeemed_at);
  CHECK(store.claim_enrollment_secret(b.secret_hash, t0 + 48h).outcome ==
        pki::ClaimOutcome::expired);

  const auto revoked = store.claim_enrollment_secret(c.secret_hash, t0 + 2h);
  CHECK(revoked.outcome == pki::ClaimOutcome::revoked);
  CHECK(revoked.secret->state == "revoked");
}

TEST_CASE("claim: of concurrent redeemers on separate connections exactly one wins") {
  TempDir dir;
  {
    auto store = pki::open_store(dir.db());
    store->add_ca(make_ca("issuing"));
    const std::vector<pki::EnrollmentSecretRecord> v = {secret(1, "dev-1")};
    store->add_enrollment_secrets(v, false, t0, {});
  }
  constexpr int kThreads = 6;
  std::vector<std::unique_ptr<pki::Store>> stores;
  for (int i = 0; i < kThreads; ++i)
    stores.push_back(pki::open_store(dir.db()));
  std::atomic<int> claimed{0};
  std::atomic<int> redeemed{0};
  std::atomic<int> failed{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  const std::string hash = secret(1, "dev-1").secret_hash;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) {
      }
      try {
        const auto r = stores[static_cast<std::size_t>(i)]->claim_enrollment_secret(hash, t0 + 1h);
        if (r.outcome == pki::ClaimOutcome::claimed) ++claimed;
        if (r.outcome == pki::ClaimOutcome::redeemed) ++redeemed;
      } catch (...) {
        ++failed;
      }
    });
  }
  go = true;
  for (auto& t : threads)
    t.join();
  CHECK(failed.load() == 0);
  CHECK(claimed.load() == 1);
  CHECK(redeemed.load() == kThreads - 1);
}

TEST_CASE("complete and release: a claim records its certificate, or goes back to active") {
  Fixture f;
  auto& store = *f.store;
  const auto a = secret(1, "dev-1");
  const auto b = secret(2, "dev-2");
  f.add({a, b});

  // Only a redeemed secret is released or completed.
  CHECK_FALSE(store.release_enrollment_secret(a.id));
  require_error([&] { store.complete_enrollment_secret(a.id, "issuing", "0a"); },
                pki::ErrorCode::conflict, "is active, not redeemed");
  require_error([&] { store.complete_enrollment_secret("00000000000000ff", "issuing", "0a"); },
                pki::ErrorCode::not_found, "no enrollment secret 00000000000000ff");
  CHECK_FALSE(store.release_enrollment_secret("00000000000000ff"));

  // Claimed, the issuance failed before signing: active again, redeemable.
  REQUIRE(store.claim_enrollment_secret(a.secret_hash, t0 + 1h).outcome ==
          pki::ClaimOutcome::claimed);
  CHECK(store.release_enrollment_secret(a.id));
  auto now_a = store.find_enrollment_secret(a.secret_hash);
  CHECK(now_a->state == "active");
  CHECK_FALSE(now_a->redeemed_at);
  CHECK_FALSE(store.release_enrollment_secret(a.id));
  CHECK(store.claim_enrollment_secret(a.secret_hash, t0 + 2h).outcome ==
        pki::ClaimOutcome::claimed);

  // Completed: the certificate is recorded (it must exist), no release any more.
  pki::CertRecord cert;
  cert.issuer = "issuing";
  cert.serial_hex = "0a";
  cert.device_id = "dev-1";
  cert.profile = "device-ldevid";
  cert.subject = "CN=dev-1";
  cert.not_before = t0;
  cert.not_after = t0 + 24h * 365;
  cert.spki_sha256 = std::string(64, 'b');
  pki::ReserveOptions opts;
  opts.now = t0 + 2h;
  require_error([&] { store.complete_enrollment_secret(a.id, "issuing", "0a"); },
                pki::ErrorCode::not_found, "no certificate 0a from CA issuing");
  store.reserve(cert, opts);
  store.complete_enrollment_secret(a.id, "issuing", "0a");
  store.complete_enrollment_secret(a.id, "issuing", "0a");  // the same again: no change
  require_error([&] { store.complete_enrollment_secret(a.id, "issuing", "0b"); },
                pki::ErrorCode::conflict, "was redeemed for certificate 0a from CA issuing");
  now_a = store.find_enrollment_secret(a.secret_hash);
  CHECK(now_a->state == "redeemed");
  CHECK(now_a->redeemed_at == t0 + 2h);
  CHECK(now_a->redeemed_issuer == "issuing");
  CHECK(now_a->redeemed_serial == "0a");
  CHECK_FALSE(store.release_enrollment_secret(a.id));
  CHECK(store.find_enrollment_secret(a.secret_hash)->state == "redeemed");
  CHECK(store.claim_enrollment_secret(a.secret_hash, t0 + 3h).outcome ==
        pki::ClaimOutcome::redeemed);
}

TEST_CASE("revoke_enrollment_secrets: active ones of a kind or all, an audit event each") {
  Fixture f;
  auto& store = *f.store;
  auto code = secret(2, "dev-1", "setup_code");
  code.created_at = t0 - 1h;
  f.add({secret(1, "dev-1"), code, secret(3, "dev-2"), secret(4, "dev-3")});
  REQUIRE(store.claim_enrollment_secret(secret(4, "dev-3").secret_hash, t0 + 1h).outcome ==
          pki::ClaimOutcome::claimed);
  const auto base = audit_count(store);

  // Nothing active: nothing written.
  CHECK(store.revoke_enrollment_secrets("dev-3", std::nullopt, t0 + 1h, event("r")).empty());
  CHECK(store.revoke_enrollment_secrets("dev-9", std::nullopt, t0 + 1h, event("r")).empty());
  CHECK(audit_count(store) == base);

  // One kind.
  const auto tokens = store.revoke_enrollment_secrets("dev-1", std::string_view("token"), t0 + 2h,
                                                      event("token.revoke", "ignored"));
  REQUIRE(tokens.size() == 1);
  CHECK(tokens[0].id == "0000000000000001");
  CHECK(tokens[0].state == "revoked");
  CHECK(tokens[0].revoked_at == t0 + 2h);
  CHECK(store.find_enrollment_secret(secret(1, "dev-1").secret_hash)->state == "revoked");
  CHECK(store.find_enrollment_secret(code.secret_hash)->state == "active");
  CHECK(audit_count(store) == base + 1);
  CHECK(store.audit_log().back().subject == "0000000000000001");
  CHECK(store.audit_log().back().action == "token.revoke");

  // All kinds: an expired active secret is revoked too. In created_at order.
  store.add_enrollment_secrets(std::vector<pki::EnrollmentSecretRecord>{secret(5, "dev-1")}, false,
                               t0 + 2h, {});
  const auto all =
      store.revoke_enrollment_secrets("dev-1", std::nullopt, t0 + 48h, event("secret.revoke"));
  CHECK(ids_of(all) ==
        std::vector<std::string>{"0000000000000002:revoked", "0000000000000005:revoked"});
  const auto log = store.audit_log(2);
  CHECK(log[0].subject == "0000000000000002");
  CHECK(log[1].subject == "0000000000000005");
  CHECK(store.claim_enrollment_secret(code.secret_hash, t0 + 3h).outcome ==
        pki::ClaimOutcome::revoked);
  // The redeemed one of dev-3 was left alone; dev-2's token too.
  CHECK(store.find_enrollment_secret(secret(4, "dev-3").secret_hash)->state == "redeemed");
  CHECK(store.find_enrollment_secret(secret(3, "dev-2").secret_hash)->state == "active");
  require_error(
      [&] { store.revoke_enrollment_secrets("dev-2", std::string_view("psk"), t0, event("r")); },
      pki::ErrorCode::invalid_input, "unknown enrollment secret kind");
}

TEST_CASE("outcome names") {
  CHECK(pki::to_string(pki::RegisterOutcome::registered) == "registered");
  CHECK(pki::to_string(pki::RegisterOutcome::unchanged) == "unchanged");
  CHECK(pki::to_string(pki::RegisterOutcome::conflict) == "conflict");
  CHECK(pki::to_string(pki::RegisterOutcome::decommissioned) == "decommissioned");
  CHECK(pki::to_string(pki::ClaimOutcome::claimed) == "claimed");
  CHECK(pki::to_string(pki::ClaimOutcome::unknown) == "unknown");
  CHECK(pki::to_string(pki::ClaimOutcome::redeemed) == "redeemed");
  CHECK(pki::to_string(pki::ClaimOutcome::revoked) == "revoked");
  CHECK(pki::to_string(pki::ClaimOutcome::expired) == "expired");
}
