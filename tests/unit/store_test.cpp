// The SQLite store: schema and migrations, the issuance protocol's state
// machine, the uniqueness rules the database enforces, and the durability
// settings the protocol relies on.
#include "pki/store.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "pki/error.hpp"
#include "store/sqlite_schema.hpp"
#include "store/sqlite_store.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "devpki-store-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    m_path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return m_path; }
  std::string db() const { return (m_path / "store.db").string(); }

 private:
  fs::path m_path;
};

// A second, independent connection: what another process would see.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &m_db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  }
  ~RawDb() { sqlite3_close_v2(m_db); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &err);
    INFO(sql << ": " << (err ? err : ""));
    sqlite3_free(err);
    REQUIRE(rc == SQLITE_OK);
  }
  // First column of the first row, as text ("" when there is no row).
  std::string scalar(const std::string& sql) { return scalar_on(m_db, sql); }

  static std::string scalar_on(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return out;
  }

 private:
  sqlite3* m_db = nullptr;
};

const pki::TimePoint t0 = pki::parse_time("2026-01-01T00:00:00Z");

pki::CaRecord make_ca(const std::string& name, const std::string& parent = "",
                      pki::TimePoint created = t0) {
  pki::CaRecord ca;
  ca.name = name;
  ca.parent = parent;
  ca.profile = parent.empty() ? "root-ca" : "issuing-ca";
  ca.subject = "CN=" + name + ",O=Example";
  ca.serial_hex = "1a2b";
  ca.key_ref = "file:keys/" + name + ".key.pem";
  ca.spki_sha256 = std::string(64, 'a');
  ca.ski_hex = "0102";
  ca.not_before = t0;
  ca.not_after = t0 + 24h * 365 * 20;
  ca.cert_der = {0x30, 0x82, 0x01, 0x00};
  ca.created_at = created;
  return ca;
}

pki::CertRecord make_cert(const std::string& issuer, const std::string& serial,
                          const std::string& device = "dev-1",
                          const std::string& profile = "device") {
  pki::CertRecord rec;
  rec.issuer = issuer;
  rec.serial_hex = serial;
  rec.device_id = device;
  rec.profile = profile;
  rec.subject = "CN=" + device;
  rec.not_before = t0;
  rec.not_after = t0 + 24h * 365;
  rec.spki_sha256 = std::string(64, 'b');
  return rec;
}

pki::ReserveOptions at(pki::TimePoint now, bool refuse_live_duplicate = true) {
  pki::ReserveOptions opts;
  opts.now = now;
  opts.refuse_live_duplicate = refuse_live_duplicate;
  return opts;
}

const std::vector<std::uint8_t> kDer = {0x30, 0x03, 0x02, 0x01, 0x01};

// Runs `f`, requires a pki::Error with `code` whose message contains `text`.
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

// CertQuery built field by field: GCC 12 warns (-Wmissing-field-initializers)
// on designated initializers that leave members to their defaults.
struct Q {
  pki::CertQuery q;
  Q& issuer(std::string v) {
    q.issuer = std::move(v);
    return *this;
  }
  Q& device_id(std::string v) {
    q.device_id = std::move(v);
    return *this;
  }
  Q& profile(std::string v) {
    q.profile = std::move(v);
    return *this;
  }
  Q& serial_hex(std::string v) {
    q.serial_hex = std::move(v);
    return *this;
  }
  Q& batch_id(std::string v) {
    q.batch_id = std::move(v);
    return *this;
  }
  Q& status(pki::CertStatus v) {
    q.status = v;
    return *this;
  }
  Q& limit(std::size_t v) {
    q.limit = v;
    return *this;
  }
};

// A store with a root and an issuing CA, as most tests need.
struct Fixture {
  TempDir dir;
  std::unique_ptr<pki::Store> store = pki::open_store(dir.db());
  Fixture() {
    store->add_ca(make_ca("root"));
    store->add_ca(make_ca("issuing", "root", t0 + 1s));
  }
};

}  // namespace

TEST_CASE("open creates the schema at the latest version") {
  TempDir dir;
  auto store = pki::open_store(dir.db());
  CHECK(store->schema_version() == 5);

  RawDb raw(dir.db());
  for (const char* table : {"schema_version", "cas", "certificates", "audit", "batches",
                            "revocations", "batch_rejects", "crls", "devices", "renewal_items"}) {
    INFO(table);
    CHECK(raw.scalar(std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                 "name = '") +
                     table + "'") == "1");
  }
  for (const char* index : {"certificates_issuer_profile_device", "certificates_device_profile",
                            "certificates_issuer_not_after", "certificates_expiring",
                            "certificates_batch", "certificates_reserved", "revocations_changes"}) {
    INFO(index);
    CHECK(raw.scalar(std::string("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                 "name = '") +
                     index + "'") == "1");
  }
  CHECK(raw.scalar("SELECT count(*) FROM schema_version") == "5");
  CHECK(raw.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'certificates_status'") == "0");
  // v4 replaced them with certificates_device_profile and certificates_issuer_not_after.
  CHECK(raw.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'certificates_device'") == "0");
  CHECK(raw.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'certificates_not_after'") ==
        "0");
  // v3 replaced crl_numbers (never written) with crls.
  CHECK(raw.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'crl_numbers'") == "0");
}

TEST_CASE("reopening keeps the data and does not migrate again") {
  TempDir dir;
  {
    auto store = pki::open_store(dir.db());
    store->add_ca(make_ca("root"));
  }
  auto store = pki::open_store(dir.db());
  CHECK(store->schema_version() == 5);
  REQUIRE(store->find_ca("root").has_value());
  RawDb raw(dir.db());
  CHECK(raw.scalar("SELECT count(*) FROM schema_version") == "5");
}

TEST_CASE("a v1 store (devpki before batches) migrates to the latest version with its rows") {
  TempDir dir;
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.db().c_str(), &db) == SQLITE_OK);
    pki::sqlite::migrate(db, 1);
    sqlite3_close(db);
  }
  {
    RawDb raw(dir.db());
    CHECK(raw.scalar("SELECT max(version) FROM schema_version") == "1");
    raw.exec("PRAGMA foreign_keys = ON");
    raw.exec(
        "INSERT INTO cas VALUES ('root', NULL, 'root-ca', 'CN=R', '01', 'file:k', 'aa', 'bb', 0, "
        "100, 'active', NULL, 0)");
    raw.exec(
        "INSERT INTO certificates VALUES ('root', '0a', 'dev-1', 'device', NULL, 'CN=d', 0, 100, "
        "'cc', 'issued', NULL, x'3003020101', 0, 0)");
    raw.exec(
        "INSERT INTO certificates VALUES ('root', '0b', 'dev-2', 'device', NULL, 'CN=d', 0, 100, "
        "'cc', 'reserved', NULL, NULL, 0, 0)");
  }
  auto store = pki::open_store(dir.db());
  CHECK(store->schema_version() == 5);
  const auto a = store->find_cert("root", "0a");
  REQUIRE(a);
  CHECK(a->status == pki::CertStatus::issued);
  CHECK(a->der == kDer);
  CHECK(a->batch_index == -1);
  CHECK(store->find_cert("root", "0b")->status == pki::CertStatus::reserved);
  RawDb raw(dir.db());
  CHECK(raw.scalar("PRAGMA integrity_check") == "ok");
  CHECK(raw.scalar("PRAGMA foreign_key_check") == "");
  // The rebuilt table keeps its keys: a serial is still never reused.
  require_error([&] { store->reserve(make_cert("root", "0a", "dev-9"), at(t0)); },
                pki::ErrorCode::conflict, "serial 0a already used");
}

TEST_CASE("a store written by a newer devpki is refused") {
  TempDir dir;
  { pki::open_store(dir.db()); }
  {
    RawDb raw(dir.db());
    raw.exec("INSERT INTO schema_version (version, applied_at) VALUES (99, 0)");
  }
  require_error([&] { pki::open_store(dir.db()); }, pki::ErrorCode::store,
                "store schema v99 is newer than this devpki (v5)");
}

TEST_CASE("store URLs") {
  TempDir dir;
  const std::string abs = dir.db();
  REQUIRE(abs.front() == '/');

  SUBCASE("sqlite:/path, sqlite:///path and a plain path name the same file") {
    pki::open_store("sqlite:" + abs)->add_ca(make_ca("root"));
    CHECK(pki::open_store("sqlite://" + abs)->find_ca("root").has_value());
    CHECK(pki::open_store(abs)->find_ca("root").has_value());
  }
  SUBCASE("other schemes are not supported") {
    require_error([] { pki::open_store("postgresql://pki:secret@db.example/pki"); },
                  pki::ErrorCode::invalid_input, "not supported in this build");
    try {
      pki::open_store("postgresql://pki:secret@db.example/pki");
    } catch (const pki::Error& e) {
      CHECK(std::string(e.what()).find("secret") == std::string::npos);
    }
  }
  SUBCASE("a sqlite URL with a host is refused") {
    require_error([] { pki::open_store("sqlite://host/store.db"); }, pki::ErrorCode::invalid_input,
                  "local file");
  }
  SUBCASE("empty") {
    require_error([] { pki::open_store(""); }, pki::ErrorCode::invalid_input, "empty");
  }
  SUBCASE("the parent directory must exist") {
    const auto missing = (dir.path() / "nope").string();
    require_error([&] { pki::open_store(missing + "/store.db"); }, pki::ErrorCode::store, missing);
    CHECK_FALSE(fs::exists(missing));
  }
  SUBCASE("a file that is not a database") {
    {
      std::FILE* f = std::fopen(abs.c_str(), "w");
      REQUIRE(f);
      std::fputs("this is not an SQLite database, it is long enough to have a header\n", f);
      std::fclose(f);
    }
    require_error([&] { pki::open_store(abs); }, pki::ErrorCode::store, "not a database");
  }
}

TEST_CASE("the file is private and the durability settings are in force") {
  TempDir dir;
  auto store = pki::open_store(dir.db());
  store->add_ca(make_ca("root"));

  struct stat st {};
  REQUIRE(::stat(dir.db().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // SQLite gives the WAL the main file's mode.
  const auto wal = dir.db() + "-wal";
  REQUIRE(::stat(wal.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // journal_mode is a property of the file: another connection sees it.
  RawDb raw(dir.db());
  CHECK(raw.scalar("PRAGMA journal_mode") == "wal");

  // synchronous, foreign_keys and busy_timeout are per connection, so a second
  // connection would only show its own defaults: ask the store's connection.
  auto* sqlite_store = dynamic_cast<pki::SqliteStore*>(store.get());
  REQUIRE(sqlite_store != nullptr);
  sqlite3* db = sqlite_store->native_handle();
  CHECK(RawDb::scalar_on(db, "PRAGMA synchronous") == "2");  // FULL
  CHECK(RawDb::scalar_on(db, "PRAGMA foreign_keys") == "1");
  CHECK(std::stoi(RawDb::scalar_on(db, "PRAGMA busy_timeout")) >= 5000);
}

TEST_CASE("CAs: add, find, list") {
  TempDir dir;
  auto store = pki::open_store(dir.db());
  CHECK(store->list_cas().empty());
  CHECK_FALSE(store->find_ca("root").has_value());

  // Inserted out of created_at order: list_cas sorts by created_at, then name.
  store->add_ca(make_ca("root", "", t0));
  store->add_ca(make_ca("zeta", "root", t0 + 2s));
  store->add_ca(make_ca("beta", "root", t0 + 2s));
  store->add_ca(make_ca("alpha", "root", t0 + 1s));

  const auto cas = store->list_cas();
  REQUIRE(cas.size() == 4);
  CHECK(cas[0].name == "root");
  CHECK(cas[1].name == "alpha");
  CHECK(cas[2].name == "beta");
  CHECK(cas[3].name == "zeta");

  const auto expected = make_ca("beta", "root", t0 + 2s);
  const auto got = store->find_ca("beta");
  REQUIRE(got.has_value());
  CHECK(got->name == expected.name);
  CHECK(got->parent == "root");
  CHECK(got->profile == expected.profile);
  CHECK(got->subject == expected.subject);
  CHECK(got->serial_hex == expected.serial_hex);
  CHECK(got->key_ref == expected.key_ref);
  CHECK(got->spki_sha256 == expected.spki_sha256);
  CHECK(got->ski_hex == expected.ski_hex);
  CHECK(got->not_before == expected.not_before);
  CHECK(got->not_after == expected.not_after);
  CHECK(got->status == pki::CaStatus::active);
  CHECK(got->cert_der == expected.cert_der);
  CHECK(got->created_at == expected.created_at);
  CHECK(store->find_ca("root")->parent.empty());

  auto retired = make_ca("old", "root", t0 + 3s);
  retired.status = pki::CaStatus::retired;
  retired.not_after = pki::forever();
  store->add_ca(retired);
  CHECK(store->find_ca("old")->status == pki::CaStatus::retired);
  CHECK(pki::is_forever(store->find_ca("old")->not_after));
}

TEST_CASE("CAs: refused records") {
  TempDir dir;
  auto store = pki::open_store(dir.db());
  store->add_ca(make_ca("root"));
  require_error([&] { store->add_ca(make_ca("root")); }, pki::ErrorCode::conflict,
                "a CA named root already exists");
  require_error([&] { store->add_ca(make_ca("sub", "missing")); }, pki::ErrorCode::not_found,
                "parent CA missing");
  require_error([&] { store->add_ca(make_ca("Bad Name")); }, pki::ErrorCode::invalid_input,
                "Bad Name");
  auto upper = make_ca("upper");
  upper.serial_hex = "1A2B";
  require_error([&] { store->add_ca(upper); }, pki::ErrorCode::invalid_input, "1A2B");
  CHECK(store->list_cas().size() == 1);
}

TEST_CASE("reserve, commit, abandon") {
  Fixture f;
  auto& store = *f.store;

  auto rec = make_cert("issuing", "01");
  rec.batch_id = "b-1";
  rec.output = "out/dev-1.pem";
  rec.status = pki::CertStatus::issued;  // ignored: reserve() always writes reserved
  store.reserve(rec, at(t0 + 10s));

  // Committed before reserve() returns: another connection sees it.
  {
    RawDb raw(f.dir.db());
    CHECK(raw.scalar("SELECT status FROM certificates WHERE serial_hex = '01'") == "reserved");
  }
  auto got = store.find_cert("issuing", "01");
  REQUIRE(got.has_value());
  CHECK(got->status == pki::CertStatus::reserved);
  CHECK(got->device_id == "dev-1");
  CHECK(got->profile == "device");
  CHECK(got->batch_id == "b-1");
  CHECK(got->subject == "CN=dev-1");
  CHECK(got->not_before == rec.not_before);
  CHECK(got->not_after == rec.not_after);
  CHECK(got->spki_sha256 == rec.spki_sha256);
  CHECK(got->output == "out/dev-1.pem");
  CHECK(got->der.empty());
  CHECK(got->created_at == t0 + 10s);
  CHECK(got->updated_at == t0 + 10s);

  store.commit_issued("issuing", "01", kDer, t0 + 20s);
  got = store.find_cert("issuing", "01");
  REQUIRE(got.has_value());
  CHECK(got->status == pki::CertStatus::issued);
  CHECK(got->der == kDer);
  CHECK(got->created_at == t0 + 10s);
  CHECK(got->updated_at == t0 + 20s);

  store.reserve(make_cert("issuing", "02", "dev-2"), at(t0 + 30s));
  store.abandon("issuing", "02", t0 + 40s);
  got = store.find_cert("issuing", "02");
  REQUIRE(got.has_value());
  CHECK(got->status == pki::CertStatus::abandoned);
  CHECK(got->der.empty());
  CHECK(got->updated_at == t0 + 40s);

  CHECK_FALSE(store.find_cert("issuing", "03").has_value());
  CHECK_FALSE(store.find_cert("root", "01").has_value());
}

TEST_CASE("only a reserved certificate can be committed or abandoned") {
  Fixture f;
  auto& store = *f.store;
  store.reserve(make_cert("issuing", "01", "dev-1"), at(t0));
  store.commit_issued("issuing", "01", kDer, t0);
  store.reserve(make_cert("issuing", "02", "dev-2"), at(t0));
  store.abandon("issuing", "02", t0);

  require_error([&] { store.commit_issued("issuing", "01", kDer, t0); }, pki::ErrorCode::conflict,
                "is issued, not reserved");
  require_error([&] { store.abandon("issuing", "01", t0); }, pki::ErrorCode::conflict,
                "is issued, not reserved");
  require_error([&] { store.commit_issued("issuing", "02", kDer, t0); }, pki::ErrorCode::conflict,
                "is abandoned, not reserved");
  require_error([&] { store.commit_issued("issuing", "99", kDer, t0); }, pki::ErrorCode::not_found,
                "99");
  require_error([&] { store.abandon("issuing", "99", t0); }, pki::ErrorCode::not_found, "99");
  store.reserve(make_cert("issuing", "03", "dev-3"), at(t0));
  require_error([&] { store.commit_issued("issuing", "03", {}, t0); },
                pki::ErrorCode::invalid_input, "DER");
  CHECK(store.find_cert("issuing", "03")->status == pki::CertStatus::reserved);
}

TEST_CASE("serials are unique per issuer and never reused") {
  Fixture f;
  auto& store = *f.store;
  store.reserve(make_cert("issuing", "0a", "dev-1"), at(t0));
  store.abandon("issuing", "0a", t0);
  // Abandoned: the serial stays burnt, even for another device.
  require_error([&] { store.reserve(make_cert("issuing", "0a", "dev-2"), at(t0)); },
                pki::ErrorCode::conflict, "serial 0a already used by CA issuing");

  store.reserve(make_cert("issuing", "0b", "dev-3"), at(t0));
  store.commit_issued("issuing", "0b", kDer, t0);
  require_error([&] { store.reserve(make_cert("issuing", "0b", "dev-4"), at(t0, false)); },
                pki::ErrorCode::conflict, "serial 0b already used by CA issuing");

  // The same serial under another issuer is another certificate.
  store.reserve(make_cert("root", "0a", "dev-1"), at(t0));
  CHECK(store.find_cert("root", "0a").has_value());
  CHECK(store.find_cert("issuing", "0a")->status == pki::CertStatus::abandoned);

  // Upper case would be a second spelling of the same serial.
  require_error([&] { store.reserve(make_cert("issuing", "0A", "dev-5"), at(t0)); },
                pki::ErrorCode::invalid_input, "0A");
  require_error([&] { store.reserve(make_cert("nobody", "0c", "dev-6"), at(t0)); },
                pki::ErrorCode::not_found, "nobody");
}

TEST_CASE("a device holds one live certificate per issuer and profile") {
  Fixture f;
  auto& store = *f.store;
  auto first = make_cert("issuing", "01", "dev-1");  // valid t0 .. t0 + 365d
  store.reserve(first, at(t0));

  SUBCASE("a reservation is live") {
    require_error([&] { store.reserve(make_cert("issuing", "02", "dev-1"), at(t0 + 1s)); },
                  pki::ErrorCode::conflict,
                  "device dev-1 already holds a live certificate from CA issuing under profile "
                  "device (serial 01, expires 2027-01-01T00:00:00Z)");
    // The refused reservation left nothing behind: the serial is still free.
    CHECK_FALSE(store.find_cert("issuing", "02").has_value());
  }
  SUBCASE("an issued certificate is live until not_after") {
    store.commit_issued("issuing", "01", kDer, t0);
    require_error([&] { store.reserve(make_cert("issuing", "02", "dev-1"), at(t0 + 24h)); },
                  pki::ErrorCode::conflict, "serial 01");
    require_error(
        [&] { store.reserve(make_cert("issuing", "02", "dev-1"), at(first.not_after - 1s)); },
        pki::ErrorCode::conflict, "serial 01");
    // At not_after it has expired (not_after > now is live).
    store.reserve(make_cert("issuing", "02", "dev-1"), at(first.not_after));
    CHECK(store.find_cert("issuing", "02").has_value());
  }
  SUBCASE("an abandoned reservation is not live") {
    store.abandon("issuing", "01", t0);
    store.reserve(make_cert("issuing", "02", "dev-1"), at(t0 + 1s));
  }
  SUBCASE("refuse_live_duplicate = false allows it") {
    store.reserve(make_cert("issuing", "02", "dev-1"), at(t0 + 1s, false));
    CHECK(store.find_certs(Q().device_id("dev-1").q).size() == 2);
  }
  SUBCASE("another profile or another issuer is another identity") {
    store.reserve(make_cert("issuing", "02", "dev-1", "device-tls"), at(t0 + 1s));
    store.reserve(make_cert("root", "03", "dev-1"), at(t0 + 1s));
  }
  SUBCASE("certificates without a device id never collide") {
    store.reserve(make_cert("issuing", "10", ""), at(t0));
    store.reserve(make_cert("issuing", "11", ""), at(t0));
    CHECK(store.find_cert("issuing", "11")->device_id.empty());
  }
}

TEST_CASE("find_certs filters") {
  Fixture f;
  auto& store = *f.store;
  auto a = make_cert("issuing", "01", "dev-1");
  a.batch_id = "b-1";
  auto b = make_cert("issuing", "02", "dev-2");
  b.batch_id = "b-1";
  auto c = make_cert("issuing", "03", "dev-1", "device-tls");
  auto d = make_cert("root", "01", "");
  d.profile = "issuing-ca";
  store.reserve(a, at(t0 + 1s));
  store.reserve(b, at(t0 + 2s));
  store.reserve(c, at(t0 + 3s));
  store.reserve(d, at(t0 + 4s));
  store.commit_issued("issuing", "01", kDer, t0 + 5s);
  store.abandon("issuing", "02", t0 + 5s);

  using Serials = std::vector<std::string>;
  const auto issuer_serials = [&](const pki::CertQuery& q) {
    Serials out;
    for (const auto& r : store.find_certs(q))
      out.push_back(r.issuer + "/" + r.serial_hex);
    return out;
  };
  struct Case {
    const char* name;
    pki::CertQuery query;
    Serials expected;
  };
  const std::vector<Case> cases = {
      {"no filter, created_at order", Q().q, {"issuing/01", "issuing/02", "issuing/03", "root/01"}},
      {"issuer", Q().issuer("root").q, {"root/01"}},
      {"device", Q().device_id("dev-1").q, {"issuing/01", "issuing/03"}},
      {"no device", Q().device_id("").q, {"root/01"}},
      {"profile", Q().profile("device").q, {"issuing/01", "issuing/02"}},
      {"serial across issuers", Q().serial_hex("01").q, {"issuing/01", "root/01"}},
      {"batch", Q().batch_id("b-1").q, {"issuing/01", "issuing/02"}},
      {"status issued", Q().status(pki::CertStatus::issued).q, {"issuing/01"}},
      {"status reserved", Q().status(pki::CertStatus::reserved).q, {"issuing/03", "root/01"}},
      {"combined",
       Q().issuer("issuing").device_id("dev-1").profile("device-tls").q,
       {"issuing/03"}},
      {"no match", Q().issuer("issuing").status(pki::CertStatus::revoked).q, {}},
      {"limit", Q().limit(2).q, {"issuing/01", "issuing/02"}},
      {"limit with filter", Q().issuer("issuing").limit(1).q, {"issuing/01"}},
  };
  for (const auto& tc : cases) {
    INFO(tc.name);
    CHECK(issuer_serials(tc.query) == tc.expected);
  }
  // Same query twice: the cached statement was reset and rebinds cleanly.
  CHECK(issuer_serials(Q().issuer("root").q) == Serials{"root/01"});
  CHECK(issuer_serials(Q().issuer("issuing").q).size() == 3);
}

TEST_CASE("audit log: append and read, oldest first") {
  TempDir dir;
  auto store = pki::open_store(dir.db());
  CHECK(store->audit_log().empty());
  for (int i = 0; i < 5; ++i) {
    pki::AuditEvent ev;
    ev.at = t0 + std::chrono::seconds{i};
    ev.actor = "devpki-ca";
    ev.action = "cert.issue";
    ev.subject = "issuing/0" + std::to_string(i);
    ev.detail = R"({"i":)" + std::to_string(i) + "}";
    store->append_audit(ev);
  }
  const auto all = store->audit_log();
  REQUIRE(all.size() == 5);
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].subject == "issuing/0" + std::to_string(i));
    CHECK(all[i].at == t0 + std::chrono::seconds{i});
    if (i > 0) CHECK(all[i].id > all[i - 1].id);
  }
  CHECK(all[0].actor == "devpki-ca");
  CHECK(all[0].action == "cert.issue");
  CHECK(all[4].detail == R"({"i":4})");

  // A limit keeps the newest events, still oldest first.
  const auto last = store->audit_log(2);
  REQUIRE(last.size() == 2);
  CHECK(last[0].subject == "issuing/03");
  CHECK(last[1].subject == "issuing/04");
  CHECK(store->audit_log(50).size() == 5);
}

TEST_CASE("status names round-trip") {
  for (const auto s :
       {pki::CertStatus::reserved, pki::CertStatus::issued, pki::CertStatus::abandoned,
        pki::CertStatus::revoked, pki::CertStatus::superseded}) {
    CHECK(pki::parse_cert_status(pki::to_string(s)) == s);
  }
  CHECK(pki::to_string(pki::CaStatus::retired) == "retired");
  require_error([] { pki::parse_cert_status("valid"); }, pki::ErrorCode::invalid_input, "valid");
}

TEST_CASE("two Store instances on one file see each other's writes") {
  // What two devpki processes (a factory line and an operator) would do.
  TempDir dir;
  auto a = pki::open_store(dir.db());
  auto b = pki::open_store(dir.db());
  a->add_ca(make_ca("root"));
  REQUIRE(b->find_ca("root").has_value());
  a->reserve(make_cert("root", "01", "dev-1"), at(t0));
  require_error([&] { b->reserve(make_cert("root", "01", "dev-2"), at(t0)); },
                pki::ErrorCode::conflict, "serial 01 already used by CA root");
  require_error([&] { b->reserve(make_cert("root", "02", "dev-1"), at(t0)); },
                pki::ErrorCode::conflict, "device dev-1 already holds a live certificate");
  b->commit_issued("root", "01", kDer, t0 + 1s);
  CHECK(a->find_cert("root", "01")->status == pki::CertStatus::issued);
}

// ---- batches ---------------------------------------------------------------

namespace {

pki::BatchRecord make_batch(const std::string& id, std::uint64_t count = 3) {
  pki::BatchRecord b;
  b.id = id;
  b.ca = "issuing";
  b.profile = "device";
  b.count = count;
  b.state = "running";
  b.params = "{}";
  b.out_dir = "/tmp/out";
  b.created_at = t0;
  return b;
}

pki::CertRecord batch_cert(const std::string& serial, std::int64_t index,
                           const std::string& batch = "b1") {
  auto rec = make_cert("issuing", serial, "dev-" + std::to_string(index));
  rec.batch_id = batch;
  rec.batch_index = index;
  return rec;
}

std::vector<std::string> statuses_of(pki::Store& store, const std::string& batch,
                                     std::initializer_list<pki::CertStatus> st) {
  std::vector<pki::CertStatus> v(st);
  std::vector<std::string> out;
  store.for_each_batch_cert(batch, v, false, [&](const pki::CertRecord& r) {
    out.push_back(r.serial_hex + ":" + std::to_string(r.batch_index) + ":" +
                  std::string(pki::to_string(r.status)));
    CHECK(r.der.empty());
    return true;
  });
  return out;
}

}  // namespace

TEST_CASE("batches: create, find, list, state") {
  Fixture f;
  f.store->create_batch(make_batch("b1"));
  require_error([&] { f.store->create_batch(make_batch("b1")); }, pki::ErrorCode::conflict,
                "already exists");
  require_error([&] { f.store->create_batch(make_batch("bad id")); }, pki::ErrorCode::invalid_input,
                "invalid batch id");
  auto other = make_batch("b2");
  other.ca = "nope";
  require_error([&] { f.store->create_batch(other); }, pki::ErrorCode::not_found, "nope");
  const auto b = f.store->find_batch("b1");
  REQUIRE(b);
  CHECK(b->count == 3);
  CHECK(b->state == "running");
  CHECK(b->params == "{}");
  CHECK(b->out_dir == "/tmp/out");
  CHECK(b->position == 0);
  f.store->set_batch_state("b1", "complete", t0 + 5s);
  CHECK(f.store->find_batch("b1")->state == "complete");
  CHECK(f.store->list_batches().size() == 1);
  CHECK_FALSE(f.store->find_batch("b2"));
  require_error([&] { f.store->set_batch_state("b2", "complete", t0); }, pki::ErrorCode::not_found,
                "b2");
}

TEST_CASE("batches: a chunk is reserved whole or not at all") {
  Fixture f;
  f.store->create_batch(make_batch("b1"));
  f.store->reserve(make_cert("issuing", "0c", "other"), at(t0));  // serial 0c taken outside
  std::vector<pki::CertRecord> rows = {batch_cert("0a", 0), batch_cert("0b", 1),
                                       batch_cert("0c", 2)};
  require_error([&] { f.store->reserve_chunk(rows, at(t0)); }, pki::ErrorCode::conflict,
                "serial 0c already used");
  CHECK(statuses_of(*f.store, "b1", {pki::CertStatus::reserved}).empty());
  rows[2].serial_hex = "0d";
  f.store->reserve_chunk(rows, at(t0));
  CHECK(statuses_of(*f.store, "b1", {pki::CertStatus::reserved}) ==
        std::vector<std::string>{"0a:0:reserved", "0b:1:reserved", "0d:2:reserved"});
}

TEST_CASE("batches: a batch position holds at most one certificate that is not abandoned") {
  Fixture f;
  f.store->create_batch(make_batch("b1"));
  const std::vector<pki::CertRecord> first = {batch_cert("0a", 0)};
  f.store->reserve_chunk(first, at(t0, false));
  // Another row for position 0 while the first is reserved: refused by the index.
  const std::vector<pki::CertRecord> again = {batch_cert("0b", 0)};
  require_error([&] { f.store->reserve_chunk(again, at(t0, false)); }, pki::ErrorCode::conflict,
                "already has a live certificate");
  // Once the first is abandoned, the position may be issued again.
  const std::vector<std::string> serials = {"0a"};
  f.store->abandon_chunk("b1", "issuing", serials, 0, t0);
  f.store->reserve_chunk(again, at(t0, false));
  const std::vector<pki::Store::IssuedDer> issued = {{"0b", kDer}};
  f.store->commit_chunk("b1", "issuing", issued, {}, 10, t0);
  // Issued: still one live row per position.
  const std::vector<pki::CertRecord> third = {batch_cert("0c", 0)};
  require_error([&] { f.store->reserve_chunk(third, at(t0, false)); }, pki::ErrorCode::conflict,
                "already has a live certificate");
}

TEST_CASE("batches: commit and abandon chunks, rejects, positions") {
  Fixture f;
  f.store->create_batch(make_batch("b1", 4));
  const std::vector<pki::CertRecord> rows = {batch_cert("0a", 0), batch_cert("0b", 1),
                                             batch_cert("0c", 3)};
  f.store->reserve_chunk(rows, at(t0));
  const std::vector<pki::Store::IssuedDer> issued = {{"0a", kDer}, {"0c", kDer}};
  const std::vector<pki::BatchRejectRecord> rejects = {{2, "dev-2", "bad CSR"}};
  f.store->commit_chunk("b1", "issuing", issued, rejects, 1234, t0 + 1s);
  CHECK(f.store->find_batch("b1")->position == 1234);
  CHECK(f.store->find_cert("issuing", "0a")->der == kDer);
  CHECK(f.store->find_cert("issuing", "0a")->batch_index == 0);
  // Committing a row that is not reserved (any more) rolls the whole chunk back.
  const std::vector<pki::Store::IssuedDer> twice = {{"0b", kDer}, {"0a", kDer}};
  require_error([&] { f.store->commit_chunk("b1", "issuing", twice, {}, 99, t0); },
                pki::ErrorCode::conflict, "not reserved");
  CHECK(f.store->find_cert("issuing", "0b")->status == pki::CertStatus::reserved);
  CHECK(f.store->find_batch("b1")->position == 1234);
  // A row of another batch is not this batch's to commit.
  const std::vector<pki::Store::IssuedDer> other = {{"0b", kDer}};
  require_error([&] { f.store->commit_chunk("b2", "issuing", other, {}, 0, t0); },
                pki::ErrorCode::conflict, "not reserved in batch b2");
  const std::vector<std::string> serials = {"0b"};
  f.store->abandon_chunk("b1", "issuing", serials, 1300, t0 + 2s);
  CHECK(f.store->find_batch("b1")->position == 1300);
  CHECK(statuses_of(*f.store, "b1", {pki::CertStatus::issued, pki::CertStatus::abandoned}) ==
        std::vector<std::string>{"0a:0:issued", "0b:1:abandoned", "0c:3:issued"});
  const auto rj = f.store->batch_rejects("b1");
  REQUIRE(rj.size() == 1);
  CHECK(rj[0].index == 2);
  CHECK(rj[0].device_id == "dev-2");
  CHECK(rj[0].reason == "bad CSR");
  // Rows read with their DER on request.
  std::vector<pki::CertStatus> st = {pki::CertStatus::issued};
  std::size_t with_der = 0;
  f.store->for_each_batch_cert("b1", st, true, [&](const pki::CertRecord& r) {
    with_der += r.der == kDer;
    return false;  // stop after the first
  });
  CHECK(with_der == 1);
}

TEST_CASE("batches: live devices among a list") {
  Fixture f;
  f.store->reserve(make_cert("issuing", "01", "dev-1"), at(t0));
  f.store->commit_issued("issuing", "01", kDer, t0);
  f.store->reserve(make_cert("issuing", "02", "dev-2"), at(t0));  // reserved: live
  auto expired = make_cert("issuing", "03", "dev-3");
  expired.not_after = t0 + 1h;
  f.store->reserve(expired, at(t0));
  f.store->commit_issued("issuing", "03", kDer, t0);
  f.store->reserve(make_cert("issuing", "04", "dev-4", "other-profile"), at(t0));
  const std::vector<std::string> ids = {"dev-1", "dev-2", "dev-3", "dev-4", "dev-5"};
  CHECK(f.store->live_devices("issuing", "device", ids, t0 + 2h) ==
        std::vector<std::string>{"dev-1", "dev-2"});
  CHECK(f.store->live_devices("root", "device", ids, t0 + 2h).empty());
}

TEST_CASE("batches: large chunks (several rows per statement) keep the same rules") {
  Fixture f;
  f.store->create_batch(make_batch("b1", 70));
  f.store->reserve(make_cert("issuing", "ff45", "other"), at(t0));  // a serial taken outside
  auto rows_with = [](std::int64_t from, std::int64_t n) {
    std::vector<pki::CertRecord> rows;
    for (std::int64_t i = from; i < from + n; ++i) {
      char serial[8];
      std::snprintf(serial, sizeof serial, "ff%02x", static_cast<unsigned>(i));
      rows.push_back(batch_cert(serial, i));
    }
    return rows;
  };
  // Row 69 (serial ff45) collides inside the third group of 32: nothing of the chunk stays.
  auto rows = rows_with(0, 70);
  require_error([&] { f.store->reserve_chunk(rows, at(t0)); }, pki::ErrorCode::conflict,
                "serial ff45 already used");
  CHECK(statuses_of(*f.store, "b1", {pki::CertStatus::reserved}).empty());
  // Row 40 (in the second group) collides with a live device of its own position.
  rows = rows_with(0, 69);
  const std::vector<pki::CertRecord> one = {rows[40]};
  f.store->reserve_chunk(one, at(t0));
  rows[40].serial_hex = "aa40";
  require_error([&] { f.store->reserve_chunk(rows, at(t0, false)); }, pki::ErrorCode::conflict,
                "already has a live certificate");
  const std::vector<std::string> drop = {"ff28"};
  f.store->abandon_chunk("b1", "issuing", drop, 0, t0);
  f.store->reserve_chunk(rows, at(t0, false));
  CHECK(statuses_of(*f.store, "b1", {pki::CertStatus::reserved}).size() == 69);
  // Commit all 69 rows: two statements of 32 and five single rows.
  std::vector<pki::Store::IssuedDer> issued;
  for (const auto& r : rows)
    issued.push_back({r.serial_hex, kDer});
  // One of them is not reserved (ff28 was abandoned, not re-reserved): all or nothing.
  auto bad = issued;
  bad[3].serial_hex = "ff28";
  require_error([&] { f.store->commit_chunk("b1", "issuing", bad, {}, 5, t0); },
                pki::ErrorCode::conflict, "certificate ff28 from CA issuing is not reserved");
  CHECK(statuses_of(*f.store, "b1", {pki::CertStatus::issued}).empty());
  f.store->commit_chunk("b1", "issuing", issued, {}, 5, t0);
  CHECK(statuses_of(*f.store, "b1", {pki::CertStatus::issued}).size() == 69);
  CHECK(f.store->find_cert("issuing", "aa40")->der == kDer);
  CHECK(f.store->find_cert("issuing", "ff44")->batch_index == 68);
}

// ---- revocation, CRLs, devices (schema v3) ------------------------------------

namespace {

// RFC 5280 5.3.1 codes, as the store keeps them.
constexpr int kUnspecified = 0;
constexpr int kKeyCompromise = 1;
constexpr int kSuperseded = 4;
constexpr int kCessation = 5;
constexpr int kHold = 6;

// Reserves and commits a certificate of `device` valid t0 .. not_after.
void issue(pki::Store& store, const std::string& issuer, const std::string& serial,
           const std::string& device, pki::TimePoint not_after = t0 + 24h * 365) {
  auto rec = make_cert(issuer, serial, device);
  rec.not_after = not_after;
  store.reserve(rec, at(t0, false));
  store.commit_issued(issuer, serial, kDer, t0);
}

pki::RevokeRequest req(const std::string& issuer, const std::string& serial, int reason,
                       pki::TimePoint when) {
  pki::RevokeRequest r;
  r.issuer = issuer;
  r.serial_hex = serial;
  r.reason = reason;
  r.revoked_at = when;
  return r;
}

std::vector<pki::RevokeResult> revoke(pki::Store& store, std::vector<pki::RevokeRequest> reqs,
                                      pki::TimePoint now) {
  return store.revoke(reqs, now);
}

// "serial:reason[:released]" of each entry a scan reports, in its order.
std::vector<std::string> entries_of(
    const std::function<void(const std::function<void(const pki::RevocationRecord&)>&)>& scan) {
  std::vector<std::string> out;
  scan([&](const pki::RevocationRecord& r) {
    out.push_back(r.serial_hex + ":" + std::to_string(r.reason) +
                  (r.released_at ? ":released" : ""));
  });
  return out;
}

std::vector<std::string> revoked_list(pki::Store& store, const std::string& issuer,
                                      pki::TimePoint at, std::int64_t* covered = nullptr) {
  return entries_of([&](const auto& fn) {
    const auto c = store.for_each_revoked(issuer, at, fn);
    if (covered) *covered = c;
  });
}

std::vector<std::string> changes_since(pki::Store& store, const std::string& issuer,
                                       std::int64_t since, pki::TimePoint at,
                                       std::int64_t* covered = nullptr) {
  return entries_of([&](const auto& fn) {
    const auto c = store.for_each_revocation_change(issuer, since, at, fn);
    if (covered) *covered = c;
  });
}

// Every row of the tables revocation and decommissioning touch, as text:
// equal dumps mean equal content.
std::string dump(const std::string& db) {
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::string out;
  for (const char* table : {"certificates", "revocations", "devices", "crls", "audit"}) {
    out += table;
    out += ":\n";
    sqlite3_stmt* st = nullptr;
    const std::string sql = std::string("SELECT * FROM ") + table + " ORDER BY 1, 2";
    REQUIRE(sqlite3_prepare_v2(raw, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        out += std::to_string(sqlite3_column_type(st, c));
        out += '=';
        const auto* text = sqlite3_column_text(st, c);
        if (text) out.append(reinterpret_cast<const char*>(text), sqlite3_column_bytes(st, c));
        out += ',';
      }
      out += '\n';
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(raw);
  return out;
}

std::vector<std::string> serials(const std::vector<pki::CertRecord>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows)
    out.push_back(r.issuer + "/" + r.serial_hex);
  return out;
}

}  // namespace

TEST_CASE("a v2 store (devpki before revocation) migrates to v3 and on with its rows") {
  TempDir dir;
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.db().c_str(), &db) == SQLITE_OK);
    pki::sqlite::migrate(db, 2);
    sqlite3_close(db);
  }
  {
    RawDb raw(dir.db());
    CHECK(raw.scalar("SELECT max(version) FROM schema_version") == "2");
    raw.exec("PRAGMA foreign_keys = ON");
    raw.exec(
        "INSERT INTO cas VALUES ('root', NULL, 'root-ca', 'CN=R', '01', 'file:k', 'aa', 'bb', 0, "
        "1000, 'active', NULL, 0)");
    raw.exec(
        "INSERT INTO certificates (issuer, serial_hex, device_id, profile, batch_id, subject, "
        "not_before, not_after, spki_sha256, status, output, der, created_at, updated_at, "
        "batch_index) VALUES ('root', '0a', 'dev-1', 'device', NULL, 'CN=d', 0, 500, 'cc', "
        "'issued', NULL, x'3003020101', 0, 0, NULL)");
    raw.exec(
        "INSERT INTO certificates (issuer, serial_hex, device_id, profile, batch_id, subject, "
        "not_before, not_after, spki_sha256, status, output, der, created_at, updated_at, "
        "batch_index) VALUES ('root', '0b', 'dev-2', 'device', NULL, 'CN=d', 0, 600, 'cc', "
        "'revoked', NULL, x'3003020101', 0, 0, NULL)");
    // No v2 devpki wrote revocations, but a row there is carried over.
    raw.exec("INSERT INTO revocations VALUES ('root', '0b', 1, 100, 90)");
  }
  auto store = pki::open_store(dir.db());
  CHECK(store->schema_version() == 5);
  CHECK(store->find_cert("root", "0a")->status == pki::CertStatus::issued);
  CHECK(store->find_cert("root", "0a")->der == kDer);
  const auto r = store->find_revocation("root", "0b");
  REQUIRE(r);
  CHECK(r->reason == kKeyCompromise);
  CHECK(r->revoked_at == pki::TimePoint{100s});
  CHECK(r->invalidity_date == pki::TimePoint{90s});
  CHECK(r->not_after == pki::TimePoint{600s});  // from the certificate
  CHECK(r->prior_status == "issued");
  CHECK(r->changed_seq == 1);
  CHECK_FALSE(r->released_at);
  std::int64_t covered = -1;
  CHECK(revoked_list(*store, "root", pki::TimePoint{0s}, &covered) ==
        std::vector<std::string>{"0b:1"});
  CHECK(covered == 1);
  CHECK(store->last_crl_number("root") == 0);
  RawDb raw(dir.db());
  CHECK(raw.scalar("PRAGMA integrity_check") == "ok");
  CHECK(raw.scalar("PRAGMA foreign_key_check") == "");
  CHECK(raw.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'crl_numbers'") == "0");
  // The next revocation counts on from the carried-over entry.
  const auto res =
      revoke(*store, {req("root", "0a", kCessation, pki::TimePoint{200s})}, pki::TimePoint{200s});
  CHECK(res[0].outcome == pki::RevokeOutcome::revoked);
  CHECK(store->find_revocation("root", "0a")->changed_seq == 2);
}

TEST_CASE("revoke: each outcome, in request order, in one transaction") {
  Fixture f;
  auto& store = *f.store;
  issue(store, "issuing", "01", "dev-1");
  issue(store, "issuing", "04", "dev-4", t0 + 24h * 30);
  store.reserve(make_cert("issuing", "02", "dev-2"), at(t0));
  store.reserve(make_cert("issuing", "03", "dev-3"), at(t0));
  store.abandon("issuing", "03", t0);
  {
    // No store call supersedes yet (renewal will): set it the way it will be.
    RawDb raw(f.dir.db());
    raw.exec("UPDATE certificates SET status = 'superseded' WHERE serial_hex = '04'");
  }
  const auto when = t0 + 24h;
  auto with_date = req("issuing", "01", kKeyCompromise, when);
  with_date.invalidity_date = t0 + 12h;
  const auto res =
      revoke(store,
             {with_date, req("issuing", "02", kKeyCompromise, when),
              req("issuing", "03", kKeyCompromise, when), req("issuing", "99", 0, when),
              req("root", "01", 0, when), req("issuing", "04", kSuperseded, when),
              // Listed twice in one call: the first request revokes it.
              req("issuing", "01", kUnspecified, when + 1s)},
             when + 5s);
  REQUIRE(res.size() == 7);
  CHECK(res[0].outcome == pki::RevokeOutcome::revoked);
  CHECK(res[0].reason == kKeyCompromise);
  CHECK(res[0].revoked_at == when);
  CHECK(res[0].device_id == "dev-1");
  CHECK(res[0].not_after == t0 + 24h * 365);
  CHECK(res[1].outcome == pki::RevokeOutcome::not_revocable);  // reserved
  CHECK(res[2].outcome == pki::RevokeOutcome::not_revocable);  // abandoned
  CHECK(res[3].outcome == pki::RevokeOutcome::not_found);
  CHECK(res[4].outcome == pki::RevokeOutcome::not_found);  // another issuer's serial space
  CHECK(res[5].outcome == pki::RevokeOutcome::revoked);
  CHECK(res[5].not_after == t0 + 24h * 30);
  CHECK(res[6].outcome == pki::RevokeOutcome::already_revoked);
  CHECK(res[6].reason == kKeyCompromise);
  CHECK(res[6].revoked_at == when);
  CHECK(pki::to_string(res[6].outcome) == "already_revoked");

  const auto c1 = store.find_cert("issuing", "01");
  CHECK(c1->status == pki::CertStatus::revoked);
  CHECK(c1->updated_at == when + 5s);
  CHECK(store.find_cert("issuing", "02")->status == pki::CertStatus::reserved);
  CHECK(store.find_cert("issuing", "03")->status == pki::CertStatus::abandoned);
  const auto e1 = store.find_revocation("issuing", "01");
  REQUIRE(e1);
  CHECK(e1->invalidity_date == t0 + 12h);
  CHECK(e1->prior_status == "issued");
  CHECK(e1->not_after == t0 + 24h * 365);
  const auto e4 = store.find_revocation("issuing", "04");
  REQUIRE(e4);
  CHECK(e4->prior_status == "superseded");
  CHECK_FALSE(e4->invalidity_date);
  CHECK(e1->changed_seq != e4->changed_seq);
  CHECK(std::min(e1->changed_seq, e4->changed_seq) == 1);
  CHECK(std::max(e1->changed_seq, e4->changed_seq) == 2);
  CHECK_FALSE(store.find_revocation("issuing", "02"));

  SUBCASE("revoking again leaves the entry as it was") {
    const auto again = revoke(store, {req("issuing", "01", kCessation, when + 1h)}, when + 1h);
    CHECK(again[0].outcome == pki::RevokeOutcome::already_revoked);
    CHECK(again[0].reason == kKeyCompromise);
    CHECK(again[0].revoked_at == when);
    CHECK(again[0].device_id == "dev-1");
    const auto e = store.find_revocation("issuing", "01");
    CHECK(e->reason == kKeyCompromise);
    CHECK(e->changed_seq == e1->changed_seq);
    CHECK(store.find_cert("issuing", "01")->updated_at == when + 5s);
  }
  SUBCASE("a reason that is not a CRLReason is refused before anything is written") {
    issue(store, "issuing", "05", "dev-5");
    for (const int bad : {7, 8, -1, 11}) {
      INFO(bad);
      require_error(
          [&] {
            revoke(store, {req("issuing", "05", 0, when), req("issuing", "01", bad, when)}, when);
          },
          pki::ErrorCode::invalid_input, "reason code " + std::to_string(bad));
    }
    CHECK(store.find_cert("issuing", "05")->status == pki::CertStatus::issued);
  }
  SUBCASE("an entry in force for a certificate that is not revoked is refused, not overwritten") {
    {
      // Only a hand-edited store gets there.
      RawDb raw(f.dir.db());
      raw.exec("UPDATE certificates SET status = 'issued' WHERE serial_hex = '01'");
    }
    require_error([&] { revoke(store, {req("issuing", "01", kCessation, when)}, when); },
                  pki::ErrorCode::internal, "has a revocation entry in force");
    CHECK(store.find_revocation("issuing", "01")->reason == kKeyCompromise);
  }
  SUBCASE("a failure part way records nothing") {
    issue(store, "issuing", "05", "dev-5");
    issue(store, "issuing", "06", "dev-6");
    {
      RawDb raw(f.dir.db());
      raw.exec(
          "CREATE TRIGGER fail_06 BEFORE INSERT ON revocations WHEN NEW.serial_hex = '06' "
          "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    }
    require_error(
        [&] {
          revoke(store, {req("issuing", "05", 0, when), req("issuing", "06", 0, when)}, when);
        },
        pki::ErrorCode::store, "injected failure");
    CHECK(store.find_cert("issuing", "05")->status == pki::CertStatus::issued);
    CHECK_FALSE(store.find_revocation("issuing", "05"));
  }
}

TEST_CASE("revoke: a certificateHold is made permanent by another reason") {
  Fixture f;
  auto& store = *f.store;
  issue(store, "issuing", "05", "dev-5");
  CHECK(revoke(store, {req("issuing", "05", kHold, t0 + 1h)}, t0 + 1h)[0].outcome ==
        pki::RevokeOutcome::revoked);
  const auto held = store.find_revocation("issuing", "05");
  REQUIRE(held);
  CHECK(held->reason == kHold);

  // Hold again: already revoked, on hold.
  auto res = revoke(store, {req("issuing", "05", kHold, t0 + 2h)}, t0 + 2h);
  CHECK(res[0].outcome == pki::RevokeOutcome::already_revoked);
  CHECK(res[0].reason == kHold);
  CHECK(res[0].revoked_at == t0 + 1h);
  CHECK(store.find_revocation("issuing", "05")->changed_seq == held->changed_seq);

  auto permanent = req("issuing", "05", kKeyCompromise, t0 + 3h);
  permanent.invalidity_date = t0 + 30min;
  res = revoke(store, {permanent}, t0 + 3h);
  CHECK(res[0].outcome == pki::RevokeOutcome::revoked);
  CHECK(res[0].reason == kKeyCompromise);
  CHECK(res[0].revoked_at == t0 + 3h);
  CHECK(res[0].device_id == "dev-5");
  const auto e = store.find_revocation("issuing", "05");
  CHECK(e->reason == kKeyCompromise);
  CHECK(e->revoked_at == t0 + 3h);
  CHECK(e->invalidity_date == t0 + 30min);
  CHECK(e->changed_seq > held->changed_seq);
  CHECK(store.find_cert("issuing", "05")->status == pki::CertStatus::revoked);

  // Permanent now: neither a hold nor another reason changes it.
  for (const int reason : {kHold, kCessation}) {
    res = revoke(store, {req("issuing", "05", reason, t0 + 4h)}, t0 + 4h);
    CHECK(res[0].outcome == pki::RevokeOutcome::already_revoked);
    CHECK(res[0].reason == kKeyCompromise);
  }
  CHECK(store.release_hold("issuing", "05", t0 + 5h) == pki::ReleaseOutcome::not_on_hold);
}

TEST_CASE("release_hold: the certificate is in force again, the entry stays for delta CRLs") {
  Fixture f;
  auto& store = *f.store;
  issue(store, "issuing", "01", "dev-1");
  issue(store, "issuing", "02", "dev-2");
  issue(store, "issuing", "03", "dev-3");
  {
    RawDb raw(f.dir.db());
    raw.exec("UPDATE certificates SET status = 'superseded' WHERE serial_hex = '03'");
  }
  revoke(store,
         {req("issuing", "01", kHold, t0 + 1h), req("issuing", "02", kKeyCompromise, t0 + 1h),
          req("issuing", "03", kHold, t0 + 1h)},
         t0 + 1h);
  std::int64_t base = 0;
  CHECK(revoked_list(store, "issuing", t0, &base) ==
        std::vector<std::string>{"01:6", "02:1", "03:6"});
  CHECK(base == 3);

  CHECK(store.release_hold("issuing", "01", t0 + 2h) == pki::ReleaseOutcome::released);
  CHECK(store.release_hold("issuing", "03", t0 + 2h) == pki::ReleaseOutcome::released);
  const auto c1 = store.find_cert("issuing", "01");
  CHECK(c1->status == pki::CertStatus::issued);
  CHECK(c1->updated_at == t0 + 2h);
  CHECK(store.find_cert("issuing", "03")->status == pki::CertStatus::superseded);
  const auto e1 = store.find_revocation("issuing", "01");
  REQUIRE(e1);
  CHECK(e1->released_at == t0 + 2h);
  CHECK(e1->reason == kHold);
  CHECK(e1->changed_seq == 4);

  // Not on a full CRL any more; on the delta since the base, as released.
  std::int64_t covered = 0;
  CHECK(revoked_list(store, "issuing", t0, &covered) == std::vector<std::string>{"02:1"});
  CHECK(covered == 5);
  CHECK(changes_since(store, "issuing", base, t0, &covered) ==
        std::vector<std::string>{"01:6:released", "03:6:released"});
  CHECK(covered == 5);

  CHECK(store.release_hold("issuing", "01", t0 + 3h) == pki::ReleaseOutcome::not_on_hold);
  CHECK(store.release_hold("issuing", "02", t0 + 3h) == pki::ReleaseOutcome::not_on_hold);
  issue(store, "issuing", "04", "dev-4");
  CHECK(store.release_hold("issuing", "04", t0 + 3h) == pki::ReleaseOutcome::not_on_hold);
  CHECK(store.release_hold("issuing", "99", t0 + 3h) == pki::ReleaseOutcome::not_found);
  CHECK(store.release_hold("root", "01", t0 + 3h) == pki::ReleaseOutcome::not_found);
  CHECK(store.find_revocation("issuing", "01")->changed_seq == 4);

  // Revoked again later: the released entry is reused, in force again.
  const auto res = revoke(store, {req("issuing", "01", kCessation, t0 + 4h)}, t0 + 4h);
  CHECK(res[0].outcome == pki::RevokeOutcome::revoked);
  const auto again = store.find_revocation("issuing", "01");
  CHECK(again->reason == kCessation);
  CHECK(again->revoked_at == t0 + 4h);
  CHECK_FALSE(again->released_at);
  CHECK(again->prior_status == "issued");
  CHECK(again->changed_seq == 6);
  CHECK(revoked_list(store, "issuing", t0) == std::vector<std::string>{"01:5", "02:1"});
  CHECK(changes_since(store, "issuing", 5, t0) == std::vector<std::string>{"01:5"});
}

TEST_CASE("CRL entries: expired certificates drop out, covered_seq is per issuer") {
  Fixture f;
  auto& store = *f.store;
  issue(store, "issuing", "01", "dev-1", t0 + 24h * 10);
  issue(store, "issuing", "02", "dev-2", t0 + 24h * 20);
  issue(store, "issuing", "03", "dev-3", t0 + 24h * 30);
  issue(store, "root", "0a", "", t0 + 24h * 30);

  std::int64_t covered = -1;
  CHECK(revoked_list(store, "issuing", t0, &covered).empty());
  CHECK(covered == 0);
  CHECK(changes_since(store, "issuing", 0, t0, &covered).empty());
  CHECK(covered == 0);

  revoke(store, {req("issuing", "01", 0, t0), req("issuing", "02", 0, t0)}, t0);
  revoke(store, {req("root", "0a", 0, t0)}, t0);
  revoke(store, {req("issuing", "03", 0, t0)}, t0);
  // The counter is store-wide; each issuer covers its own highest value.
  CHECK(revoked_list(store, "issuing", t0, &covered) ==
        std::vector<std::string>{"01:0", "02:0", "03:0"});
  CHECK(covered == 4);
  CHECK(revoked_list(store, "root", t0, &covered) == std::vector<std::string>{"0a:0"});
  CHECK(covered == 3);
  CHECK(revoked_list(store, "nobody", t0, &covered).empty());
  CHECK(covered == 0);

  // A certificate is valid through its not_after (RFC 5280 4.1.2.5): on the
  // CRL at that second, gone after it. covered_seq does not depend on `at`.
  CHECK(revoked_list(store, "issuing", t0 + 24h * 10) ==
        std::vector<std::string>{"01:0", "02:0", "03:0"});
  CHECK(revoked_list(store, "issuing", t0 + 24h * 10 + 1s, &covered) ==
        std::vector<std::string>{"02:0", "03:0"});
  CHECK(covered == 4);
  CHECK(revoked_list(store, "issuing", t0 + 24h * 31).empty());
  CHECK(changes_since(store, "issuing", 0, t0 + 24h * 25, &covered) ==
        std::vector<std::string>{"03:0"});
  CHECK(covered == 4);
  // Changes after a seq, in seq order.
  CHECK(changes_since(store, "issuing", 2, t0) == std::vector<std::string>{"03:0"});
  CHECK(changes_since(store, "issuing", 4, t0).empty());
  CHECK(changes_since(store, "issuing", 0, t0) == std::vector<std::string>{"01:0", "02:0", "03:0"});
}

TEST_CASE("CRL numbers strictly increase per issuer, full and delta alike") {
  Fixture f;
  auto& store = *f.store;
  const auto crl = [](const std::string& issuer, std::uint64_t number, bool delta,
                      std::uint64_t base = 0) {
    pki::CrlRecord r;
    r.issuer = issuer;
    r.number = number;
    r.delta = delta;
    r.base_number = base;
    r.this_update = t0 + std::chrono::hours{number};
    r.next_update = r.this_update + 24h * 7;
    r.entries = number * 10;
    r.covered_seq = static_cast<std::int64_t>(number) * 100;
    r.sha256 = std::string(64, 'e');
    r.file = "crl/" + issuer + (delta ? "-delta.crl" : ".crl");
    r.created_at = r.this_update;
    return r;
  };
  CHECK(store.last_crl_number("issuing") == 0);
  CHECK_FALSE(store.last_crl("issuing", false));

  store.record_crl(crl("issuing", 1, false));
  require_error([&] { store.record_crl(crl("issuing", 1, false)); }, pki::ErrorCode::conflict,
                "CRL number 1 for CA issuing is not above its last CRL number 1");
  store.record_crl(crl("issuing", 2, true, 1));
  // A full CRL cannot take a number a delta used, nor go back.
  require_error([&] { store.record_crl(crl("issuing", 2, false)); }, pki::ErrorCode::conflict,
                "CRL number 2 for CA issuing is not above its last CRL number 2");
  require_error([&] { store.record_crl(crl("issuing", 1, true, 1)); },
                pki::ErrorCode::invalid_input, "base");
  store.record_crl(crl("issuing", 7, false));  // gaps are allowed
  require_error([&] { store.record_crl(crl("issuing", 5, true, 1)); }, pki::ErrorCode::conflict,
                "CRL number 5 for CA issuing is not above its last CRL number 7");
  store.record_crl(crl("issuing", 8, true, 7));
  // Another issuer has its own sequence.
  store.record_crl(crl("root", 1, false));

  CHECK(store.last_crl_number("issuing") == 8);
  CHECK(store.last_crl_number("root") == 1);
  const auto full = store.last_crl("issuing", false);
  REQUIRE(full);
  const auto expected = crl("issuing", 7, false);
  CHECK(full->issuer == "issuing");
  CHECK(full->number == 7);
  CHECK_FALSE(full->delta);
  CHECK(full->base_number == 0);
  CHECK(full->this_update == expected.this_update);
  CHECK(full->next_update == expected.next_update);
  CHECK(full->entries == 70);
  CHECK(full->covered_seq == 700);
  CHECK(full->sha256 == expected.sha256);
  CHECK(full->file == "crl/issuing.crl");
  CHECK(full->created_at == expected.created_at);
  const auto delta = store.last_crl("issuing", true);
  REQUIRE(delta);
  CHECK(delta->number == 8);
  CHECK(delta->delta);
  CHECK(delta->base_number == 7);
  CHECK(delta->file == "crl/issuing-delta.crl");
  CHECK_FALSE(store.last_crl("root", true));

  require_error([&] { store.record_crl(crl("nobody", 1, false)); }, pki::ErrorCode::not_found,
                "CA nobody does not exist");
  require_error([&] { store.record_crl(crl("issuing", 0, false)); }, pki::ErrorCode::invalid_input,
                "start at 1");
  require_error([&] { store.record_crl(crl("issuing", 9, true, 0)); },
                pki::ErrorCode::invalid_input, "base");
  require_error([&] { store.record_crl(crl("issuing", 9, false, 3)); },
                pki::ErrorCode::invalid_input, "a full CRL has no base");
  auto backwards = crl("issuing", 9, false);
  backwards.next_update = backwards.this_update - 1s;
  require_error([&] { store.record_crl(backwards); }, pki::ErrorCode::invalid_input,
                "nextUpdate is before thisUpdate");
  CHECK(store.last_crl_number("issuing") == 8);
}

TEST_CASE("decommission: revokes what a device holds, marks it, once") {
  Fixture f;
  auto& store = *f.store;
  const auto now = t0 + 24h * 40;
  // dev-a: live certificates from two issuers, an expired one, a reservation.
  issue(store, "issuing", "0a", "dev-a");
  issue(store, "root", "0b", "dev-a");
  issue(store, "issuing", "0c", "dev-a", t0 + 24h * 30);
  store.reserve(make_cert("issuing", "0d", "dev-a", "other"), at(t0));
  // dev-b: revoked before; dev-c: only an expired certificate.
  issue(store, "issuing", "1a", "dev-b");
  revoke(store, {req("issuing", "1a", kKeyCompromise, t0 + 24h)}, t0 + 24h);
  issue(store, "issuing", "2a", "dev-c", t0 + 24h * 30);
  const std::vector<std::string> ids = {"dev-a", "dev-x", "dev-b", "dev-c"};
  CHECK(store.decommissioned_devices(ids).empty());
  const auto before = dump(f.dir.db());

  SUBCASE("a dry run returns the plan and changes nothing") {
    const auto plan = store.decommission(ids, kCessation, now, true);
    CHECK(dump(f.dir.db()) == before);
    CHECK(store.decommissioned_devices(ids).empty());
    // The plan is what the real run then does.
    const auto done = store.decommission(ids, kCessation, now, false);
    REQUIRE(plan.size() == done.size());
    for (std::size_t i = 0; i < plan.size(); ++i) {
      INFO(plan[i].device_id);
      CHECK(plan[i].device_id == done[i].device_id);
      CHECK(plan[i].known == done[i].known);
      CHECK(plan[i].was_decommissioned == done[i].was_decommissioned);
      CHECK(serials(plan[i].revoked) == serials(done[i].revoked));
      CHECK(serials(plan[i].already_revoked) == serials(done[i].already_revoked));
    }
    CHECK(dump(f.dir.db()) != before);
  }

  SUBCASE("a real run, then again") {
    const auto res = store.decommission(ids, kCessation, now, false);
    REQUIRE(res.size() == 4);
    CHECK(res[0].device_id == "dev-a");
    CHECK(res[0].known);
    CHECK_FALSE(res[0].was_decommissioned);
    CHECK(serials(res[0].revoked) == std::vector<std::string>{"issuing/0a", "root/0b"});
    CHECK(res[0].already_revoked.empty());
    for (const auto& r : res[0].revoked) {
      CHECK(r.status == pki::CertStatus::revoked);
      CHECK(r.device_id == "dev-a");
      CHECK(r.updated_at == now);
      CHECK(r.der.empty());
    }
    CHECK(res[1].device_id == "dev-x");
    CHECK_FALSE(res[1].known);
    CHECK(res[1].revoked.empty());
    CHECK(res[2].known);
    CHECK(res[2].revoked.empty());
    CHECK(serials(res[2].already_revoked) == std::vector<std::string>{"issuing/1a"});
    CHECK(res[2].already_revoked[0].der.empty());
    CHECK(res[3].known);
    CHECK(res[3].revoked.empty());
    CHECK(res[3].already_revoked.empty());

    const auto e = store.find_revocation("root", "0b");
    REQUIRE(e);
    CHECK(e->reason == kCessation);
    CHECK(e->revoked_at == now);
    CHECK(e->prior_status == "issued");
    CHECK(store.find_cert("root", "0b")->status == pki::CertStatus::revoked);
    CHECK(store.find_cert("issuing", "0c")->status == pki::CertStatus::issued);  // expired
    CHECK(store.find_cert("issuing", "0d")->status == pki::CertStatus::reserved);
    CHECK(store.find_revocation("issuing", "1a")->reason == kKeyCompromise);
    CHECK(revoked_list(store, "issuing", now) == std::vector<std::string>{"0a:5", "1a:1"});

    const auto dev = store.find_device("dev-a");
    REQUIRE(dev);
    CHECK(dev->status == "decommissioned");
    CHECK(dev->reason == kCessation);
    CHECK(dev->decommissioned_at == now);
    CHECK(dev->created_at == now);
    CHECK(store.find_device("dev-c")->status == "decommissioned");
    CHECK_FALSE(store.find_device("dev-x"));
    CHECK(store.decommissioned_devices(ids) == std::vector<std::string>{"dev-a", "dev-b", "dev-c"});
    const std::vector<std::string> other = {"dev-c", "dev-z", "dev-a"};
    CHECK(store.decommissioned_devices(other) == std::vector<std::string>{"dev-c", "dev-a"});

    // Again, later and with another reason: nothing new is revoked, the
    // devices keep their first decommissioning.
    const auto after_first = dump(f.dir.db());
    const auto again = store.decommission(ids, kKeyCompromise, now + 1h, false);
    CHECK(dump(f.dir.db()) == after_first);
    CHECK(again[0].was_decommissioned);
    CHECK(again[0].revoked.empty());
    CHECK(serials(again[0].already_revoked) == std::vector<std::string>{"issuing/0a", "root/0b"});
    CHECK_FALSE(again[1].known);
    CHECK_FALSE(again[1].was_decommissioned);
    CHECK(again[2].was_decommissioned);
    CHECK(again[3].was_decommissioned);
    CHECK(store.find_device("dev-a")->decommissioned_at == now);
    CHECK(store.find_device("dev-a")->reason == kCessation);

    // A certificate issued to it afterwards (an explicit override) is
    // revoked by the next run.
    issue(store, "issuing", "0e", "dev-a");
    const std::vector<std::string> a = {"dev-a"};
    const auto third = store.decommission(a, kCessation, now + 2h, false);
    CHECK(third[0].was_decommissioned);
    CHECK(serials(third[0].revoked) == std::vector<std::string>{"issuing/0e"});
  }
}

TEST_CASE("decommission: a certificateHold becomes permanent, a device listed twice is harmless") {
  Fixture f;
  auto& store = *f.store;
  issue(store, "issuing", "01", "dev-1");
  issue(store, "issuing", "02", "dev-1");
  revoke(store, {req("issuing", "01", kHold, t0 + 1h)}, t0 + 1h);
  const std::vector<std::string> ids = {"dev-1", "dev-1"};
  const auto res = store.decommission(ids, kCessation, t0 + 2h, false);
  REQUIRE(res.size() == 2);
  CHECK(serials(res[0].revoked) == std::vector<std::string>{"issuing/02", "issuing/01"});
  CHECK(res[0].already_revoked.empty());
  CHECK_FALSE(res[0].was_decommissioned);
  CHECK(res[1].revoked.empty());
  CHECK(serials(res[1].already_revoked) == std::vector<std::string>{"issuing/01", "issuing/02"});
  CHECK(res[1].was_decommissioned);
  const auto e = store.find_revocation("issuing", "01");
  CHECK(e->reason == kCessation);
  CHECK(e->revoked_at == t0 + 2h);
  CHECK(store.release_hold("issuing", "01", t0 + 3h) == pki::ReleaseOutcome::not_on_hold);
  // Every change took its own seq.
  CHECK(revoked_list(store, "issuing", t0) == std::vector<std::string>{"01:5", "02:5"});
  std::int64_t covered = 0;
  CHECK(changes_since(store, "issuing", 1, t0, &covered).size() == 2);
  CHECK(covered == 3);
  require_error([&] { store.decommission(ids, 7, t0, false); }, pki::ErrorCode::invalid_input,
                "reason code 7");
}

// ---- renewal and CA rollover (schema v4) ---------------------------------------

namespace {

constexpr auto kDay = std::chrono::hours(24);

// Each CA as "name:status:successor:retired_at", in list order: equal
// strings mean nothing about the CAs changed.
std::string cas_text(pki::Store& store) {
  std::string out;
  for (const auto& ca : store.list_cas()) {
    out += ca.name + ":" + std::string(pki::to_string(ca.status)) + ":" + ca.successor + ":" +
           (ca.retired_at ? pki::format_time(*ca.retired_at) : "-") + "\n";
  }
  return out;
}

pki::RenewalItemRecord item(std::uint64_t index, const std::string& device,
                            const std::string& old_issuer = "", const std::string& old_serial = "",
                            bool revoke_old = false, const std::string& refusal = "") {
  pki::RenewalItemRecord it;
  it.index = index;
  it.device_id = device;
  it.old_issuer = old_issuer;
  it.old_serial = old_serial;
  it.revoke_old = revoke_old;
  it.refusal = refusal;
  return it;
}

// A row of a renewal batch: position `index`, device "dev-<index>".
pki::CertRecord renewal_cert(const std::string& issuer, const std::string& serial,
                             std::int64_t index, const std::string& batch,
                             pki::TimePoint not_after = t0 + kDay * 730) {
  auto rec = make_cert(issuer, serial, "dev-" + std::to_string(index));
  rec.batch_id = batch;
  rec.batch_index = index;
  rec.not_after = not_after;
  return rec;
}

pki::ExpiringQuery expiring(pki::TimePoint not_after_max) {
  pki::ExpiringQuery q;
  q.not_after_max = not_after_max;
  return q;
}

// "issuer/serial[:revoked][:decommissioned]" of what for_each_expiring reports, in its order.
std::vector<std::string> expiring_list(pki::Store& store, const pki::ExpiringQuery& q) {
  std::vector<std::string> out;
  store.for_each_expiring(q, [&](const pki::ExpiringCert& e) {
    CHECK(e.cert.der.empty());
    CHECK_FALSE(e.cert.device_id.empty());
    std::string s = e.cert.issuer + "/" + e.cert.serial_hex;
    if (e.cert.status == pki::CertStatus::revoked) s += ":revoked";
    if (e.device_decommissioned) s += ":decommissioned";
    out.push_back(s);
    return true;
  });
  return out;
}

// Reserves (no live-duplicate check) and commits a certificate of `device`
// under `profile`; `status` reserved leaves it reserved, abandoned abandons it.
void put(pki::Store& store, const std::string& issuer, const std::string& serial,
         const std::string& device, pki::TimePoint not_after,
         pki::CertStatus status = pki::CertStatus::issued, const std::string& profile = "device") {
  auto rec = make_cert(issuer, serial, device, profile);
  rec.not_after = not_after;
  store.reserve(rec, at(t0, false));
  if (status == pki::CertStatus::reserved) return;
  if (status == pki::CertStatus::abandoned) {
    store.abandon(issuer, serial, t0);
    return;
  }
  store.commit_issued(issuer, serial, kDer, t0);
}

}  // namespace

TEST_CASE("a v3 store (devpki before renewal) migrates to v4 with its rows") {
  TempDir dir;
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.db().c_str(), &db) == SQLITE_OK);
    pki::sqlite::migrate(db, 3);
    sqlite3_close(db);
  }
  {
    RawDb raw(dir.db());
    CHECK(raw.scalar("SELECT max(version) FROM schema_version") == "3");
    raw.exec("PRAGMA foreign_keys = ON");
    raw.exec(
        "INSERT INTO cas VALUES ('root', NULL, 'root-ca', 'CN=R', '01', 'file:k', 'aa', 'bb', 0, "
        "100000, 'active', NULL, 0)");
    raw.exec(
        "INSERT INTO cas VALUES ('old', 'root', 'issuing-ca', 'CN=O', '02', 'file:o', 'aa', 'bb', "
        "0, 100000, 'retired', NULL, 1)");
    raw.exec(
        "INSERT INTO certificates (issuer, serial_hex, device_id, profile, batch_id, subject, "
        "not_before, not_after, spki_sha256, status, output, der, created_at, updated_at, "
        "batch_index) VALUES ('root', '0a', 'dev-1', 'device', NULL, 'CN=d', 0, 500, 'cc', "
        "'issued', NULL, x'3003020101', 0, 0, NULL)");
    raw.exec(
        "INSERT INTO certificates (issuer, serial_hex, device_id, profile, batch_id, subject, "
        "not_before, not_after, spki_sha256, status, output, der, created_at, updated_at, "
        "batch_index) VALUES ('root', '0b', 'dev-2', 'device', NULL, 'CN=d', 0, 600, 'cc', "
        "'revoked', NULL, x'3003020101', 0, 0, NULL)");
    raw.exec(
        "INSERT INTO revocations (issuer, serial_hex, reason, revoked_at, invalidity_date, "
        "not_after, prior_status, changed_seq) VALUES ('root', '0b', 1, 100, NULL, 600, 'issued', "
        "1)");
    raw.exec(
        "INSERT INTO devices (device_id, status, reason, decommissioned_at, created_at, "
        "updated_at) VALUES ('dev-2', 'decommissioned', 5, 100, 100, 100)");
    raw.exec(
        "INSERT INTO batches (id, ca, profile, count, state, created_at, updated_at) VALUES "
        "('b1', 'root', 'device', 1, 'complete', 0, 0)");
  }
  auto store = pki::open_store(dir.db());
  CHECK(store->schema_version() == 5);
  const auto root = store->find_ca("root");
  REQUIRE(root);
  CHECK(root->status == pki::CaStatus::active);
  CHECK(root->successor.empty());
  CHECK_FALSE(root->retired_at);
  CHECK(store->find_ca("old")->status == pki::CaStatus::retired);
  CHECK(store->find_cert("root", "0a")->der == kDer);
  CHECK(store->find_revocation("root", "0b")->reason == kKeyCompromise);
  CHECK(store->renewal_items("b1").empty());
  // The new indexes hold the carried-over rows.
  CHECK(expiring_list(*store, expiring(pki::TimePoint{1000s})) ==
        std::vector<std::string>{"root/0a", "root/0b:revoked:decommissioned"});
  CHECK(store->last_issued_not_after("root") == pki::TimePoint{600s});
  RawDb raw(dir.db());
  CHECK(raw.scalar("PRAGMA integrity_check") == "ok");
  CHECK(raw.scalar("PRAGMA foreign_key_check") == "");
  CHECK(raw.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'certificates_device'") == "0");
  // A CA retired before v4 has no successor, and is not active: it cannot be rolled over.
  require_error([&] { store->add_successor_ca(make_ca("new", "root"), "old", t0); },
                pki::ErrorCode::conflict, "CA old is retired, not active");
}

TEST_CASE("rollover: add_successor_ca retires the predecessor in the same transaction") {
  Fixture f;
  auto& store = *f.store;
  const auto now = t0 + 10s;

  SUBCASE("ok") {
    auto next = make_ca("issuing-2", "root", now);
    store.add_successor_ca(next, "issuing", now);
    const auto old = store.find_ca("issuing");
    REQUIRE(old);
    CHECK(old->status == pki::CaStatus::retired);
    CHECK(old->successor == "issuing-2");
    CHECK(old->retired_at == now);
    CHECK(old->cert_der == make_ca("issuing").cert_der);  // the rest unchanged
    const auto added = store.find_ca("issuing-2");
    REQUIRE(added);
    CHECK(added->status == pki::CaStatus::active);
    CHECK(added->parent == "root");
    CHECK(added->successor.empty());
    CHECK_FALSE(added->retired_at);
    CHECK(cas_text(store) ==
          "root:active::-\nissuing:retired:issuing-2:2026-01-01T00:00:10Z\nissuing-2:active::-\n");
    // The successor can be rolled over in turn.
    store.add_successor_ca(make_ca("issuing-3", "root", now + 1s), "issuing-2", now + 1s);
    CHECK(store.find_ca("issuing-2")->successor == "issuing-3");
    // A new store instance reads the same (the columns are stored, not cached).
    auto again = pki::open_store(f.dir.db());
    CHECK(cas_text(*again) == cas_text(store));
  }

  SUBCASE("refusals change nothing") {
    store.add_successor_ca(make_ca("issuing-2", "root", now), "issuing", now);
    const auto before = cas_text(store);
    require_error([&] { store.add_successor_ca(make_ca("issuing-3", "root"), "nope", now); },
                  pki::ErrorCode::not_found, "CA nope does not exist");
    // A retired predecessor (it has a successor already).
    require_error([&] { store.add_successor_ca(make_ca("issuing-3", "root"), "issuing", now); },
                  pki::ErrorCode::conflict, "CA issuing already has a successor, CA issuing-2");
    // The successor's name is taken.
    require_error([&] { store.add_successor_ca(make_ca("root"), "issuing-2", now); },
                  pki::ErrorCode::conflict, "a CA named root already exists");
    require_error([&] { store.add_successor_ca(make_ca("issuing-2", "root"), "issuing-2", now); },
                  pki::ErrorCode::conflict, "a CA named issuing-2 already exists");
    // The successor's parent must exist (checked after the predecessor).
    require_error([&] { store.add_successor_ca(make_ca("issuing-3", "ghost"), "issuing-2", now); },
                  pki::ErrorCode::not_found, "parent CA ghost");
    // A successor that is not active cannot take over issuance.
    auto retired = make_ca("issuing-3", "root");
    retired.status = pki::CaStatus::retired;
    require_error([&] { store.add_successor_ca(retired, "issuing-2", now); },
                  pki::ErrorCode::invalid_input, "must be active");
    CHECK(cas_text(store) == before);
    CHECK_FALSE(store.find_ca("issuing-3"));
  }

  SUBCASE("a retired CA without a successor is not active") {
    auto retired = make_ca("legacy", "root", t0 + 2s);
    retired.status = pki::CaStatus::retired;
    retired.retired_at = t0 + 2s;
    store.add_ca(retired);
    CHECK(store.find_ca("legacy")->retired_at == t0 + 2s);
    const auto before = cas_text(store);
    require_error([&] { store.add_successor_ca(make_ca("legacy-2", "root"), "legacy", now); },
                  pki::ErrorCode::conflict, "CA legacy is retired, not active");
    CHECK(cas_text(store) == before);
  }

  SUBCASE("add_ca: successor and retired_at are checked and stored") {
    auto bad = make_ca("x", "root");
    bad.successor = "issuing";  // active with a successor
    require_error([&] { store.add_ca(bad); }, pki::ErrorCode::invalid_input, "CA x is not retired");
    bad.status = pki::CaStatus::retired;
    bad.successor = "x";
    require_error([&] { store.add_ca(bad); }, pki::ErrorCode::invalid_input,
                  "cannot be its own successor");
    bad.successor = "ghost";
    require_error([&] { store.add_ca(bad); }, pki::ErrorCode::not_found, "successor CA ghost");
    bad.successor = "issuing";
    bad.retired_at = t0 + 5s;
    store.add_ca(bad);
    const auto x = store.find_ca("x");
    CHECK(x->successor == "issuing");
    CHECK(x->retired_at == t0 + 5s);
  }
}

TEST_CASE("last_issued_not_after: issued, revoked or superseded, nothing else") {
  Fixture f;
  auto& store = *f.store;
  CHECK_FALSE(store.last_issued_not_after("issuing"));
  CHECK_FALSE(store.last_issued_not_after("nope"));
  put(store, "issuing", "01", "dev-1", t0 + kDay * 900, pki::CertStatus::reserved);
  put(store, "issuing", "02", "dev-2", t0 + kDay * 800, pki::CertStatus::abandoned);
  CHECK_FALSE(store.last_issued_not_after("issuing"));
  put(store, "issuing", "03", "dev-3", t0 + kDay * 100);
  CHECK(store.last_issued_not_after("issuing") == t0 + kDay * 100);
  put(store, "issuing", "04", "dev-4", t0 + kDay * 300);
  revoke(store, {req("issuing", "04", kKeyCompromise, t0 + 1h)}, t0 + 1h);
  CHECK(store.last_issued_not_after("issuing") == t0 + kDay * 300);
  put(store, "issuing", "05", "dev-5", t0 + kDay * 400);
  {
    RawDb raw(f.dir.db());
    raw.exec("UPDATE certificates SET status = 'superseded' WHERE serial_hex = '05'");
  }
  CHECK(store.last_issued_not_after("issuing") == t0 + kDay * 400);
  // Another issuer's certificates do not count.
  put(store, "root", "06", "dev-6", t0 + kDay * 1000);
  CHECK(store.last_issued_not_after("issuing") == t0 + kDay * 400);
  CHECK(store.last_issued_not_after("root") == t0 + kDay * 1000);
}

TEST_CASE("renewal batches: created whole with their items, or refused") {
  Fixture f;
  auto& store = *f.store;
  issue(store, "issuing", "a0", "dev-0");
  issue(store, "root", "a1", "dev-1");
  auto b = make_batch("r1", 3);
  const std::vector<pki::RenewalItemRecord> items = {
      item(2, "dev-2", "", "", false, "no certificate to renew"),
      item(0, "dev-0", "issuing", "a0", true), item(1, "dev-1", "root", "a1")};

  SUBCASE("ok, in any order, read back in index order") {
    store.create_renewal_batch(b, items);
    const auto back = store.renewal_items("r1");
    REQUIRE(back.size() == 3);
    for (std::uint64_t i = 0; i < 3; ++i)
      CHECK(back[i].index == i);
    CHECK(back[0].device_id == "dev-0");
    CHECK(back[0].old_issuer == "issuing");
    CHECK(back[0].old_serial == "a0");
    CHECK(back[0].revoke_old);
    CHECK(back[0].refusal.empty());
    CHECK(back[1].old_issuer == "root");
    CHECK_FALSE(back[1].revoke_old);
    CHECK(back[2].old_issuer.empty());
    CHECK(back[2].old_serial.empty());
    CHECK(back[2].refusal == "no certificate to renew");
    CHECK(store.find_batch("r1")->count == 3);
    RawDb raw(f.dir.db());
    CHECK(raw.scalar("SELECT count(*) FROM renewal_items WHERE old_serial IS NULL AND "
                     "old_issuer IS NULL AND refusal IS NOT NULL") == "1");
    CHECK(raw.scalar("SELECT count(*) FROM renewal_items WHERE refusal IS NULL") == "2");
    // The id is taken now, by a renewal batch or a plain one.
    require_error([&] { store.create_renewal_batch(b, items); }, pki::ErrorCode::conflict,
                  "a batch with id r1 already exists");
    require_error([&] { store.create_batch(b); }, pki::ErrorCode::conflict, "already exists");
    // A plain batch has no items.
    store.create_batch(make_batch("m1"));
    CHECK(store.renewal_items("m1").empty());
    CHECK(store.renewal_items("nope").empty());
  }

  SUBCASE("refused before anything is written") {
    auto fewer = items;
    fewer.pop_back();
    require_error([&] { store.create_renewal_batch(b, fewer); }, pki::ErrorCode::invalid_input,
                  "renewal batch r1 has 2 items for a count of 3");
    auto twice = items;
    twice[2].index = 0;
    require_error([&] { store.create_renewal_batch(b, twice); }, pki::ErrorCode::invalid_input,
                  "item index 0 is listed twice");
    auto beyond = items;
    beyond[0].index = 3;
    require_error([&] { store.create_renewal_batch(b, beyond); }, pki::ErrorCode::invalid_input,
                  "item index 3 is out of range");
    auto half = items;
    half[1].old_issuer.clear();
    require_error([&] { store.create_renewal_batch(b, half); }, pki::ErrorCode::invalid_input,
                  "by issuer or serial alone");
    auto bad_serial = items;
    bad_serial[1].old_serial = "A0";
    require_error([&] { store.create_renewal_batch(b, bad_serial); }, pki::ErrorCode::invalid_input,
                  "invalid serial 'A0'");
    auto bad_id = make_batch("bad id", 3);
    require_error([&] { store.create_renewal_batch(bad_id, items); }, pki::ErrorCode::invalid_input,
                  "invalid batch id");
    auto no_ca = make_batch("r1", 3);
    no_ca.ca = "nope";
    require_error([&] { store.create_renewal_batch(no_ca, items); }, pki::ErrorCode::not_found,
                  "CA nope does not exist");
    // A certificate that does not exist: the batch row is rolled back too.
    auto ghost = items;
    ghost[1].old_serial = "ff";
    require_error([&] { store.create_renewal_batch(b, ghost); }, pki::ErrorCode::not_found,
                  "certificate ff from CA issuing, which does not exist");
    CHECK_FALSE(store.find_batch("r1"));
    CHECK(store.renewal_items("r1").empty());
    // Zero items for a zero count is a (trivial) renewal batch.
    store.create_renewal_batch(make_batch("r0", 0), {});
    CHECK(store.find_batch("r0"));
  }
}

TEST_CASE("renewal batches: a committed row supersedes the certificate it renews") {
  Fixture f;
  auto& store = *f.store;
  // Old certificates of dev-0 .. dev-3; an unrelated revocation first, so
  // the counter is not at its start.
  for (int i = 0; i < 4; ++i)
    issue(store, "issuing", "a" + std::to_string(i), "dev-" + std::to_string(i));
  issue(store, "issuing", "99", "dev-99");
  revoke(store, {req("issuing", "99", kCessation, t0 + 1h)}, t0 + 1h);
  const std::int64_t seq_before = store.find_revocation("issuing", "99")->changed_seq;
  store.add_ca(make_ca("issuing-2", "root", t0 + 2s));

  // Positions: 0 renews a0 (kept, superseded), 1 renews a1 and revokes it,
  // 2 renews a2 (revoked meanwhile: left alone), 3 renews a3 from another
  // issuer's batch, 4 has nothing to renew.
  auto b = make_batch("r1", 5);
  b.ca = "issuing-2";
  const std::vector<pki::RenewalItemRecord> items = {
      item(0, "dev-0", "issuing", "a0"), item(1, "dev-1", "issuing", "a1", true),
      item(2, "dev-2", "issuing", "a2", true), item(3, "dev-3", "issuing", "a3", true),
      item(4, "dev-4", "", "", false, "not due")};
  store.create_renewal_batch(b, items);
  std::vector<pki::CertRecord> rows;
  for (int i = 0; i < 4; ++i)
    rows.push_back(renewal_cert("issuing-2", "b" + std::to_string(i), i, "r1"));
  store.reserve_chunk(rows, at(t0 + 2h, false));
  revoke(store, {req("issuing", "a2", kKeyCompromise, t0 + 3h)}, t0 + 3h);
  const auto a2_entry = store.find_revocation("issuing", "a2");
  const auto now = t0 + 4h;

  // A chunk that fails part way supersedes nothing.
  const std::vector<pki::Store::IssuedDer> bad = {{"b0", kDer}, {"b1", kDer}, {"zz", kDer}};
  const auto before = dump(f.dir.db());
  require_error([&] { store.commit_chunk("r1", "issuing-2", bad, {}, 3, now); },
                pki::ErrorCode::conflict, "certificate zz from CA issuing-2 is not reserved");
  CHECK(dump(f.dir.db()) == before);

  // Committed in two chunks, the second as a resume's recovered rows are.
  const std::vector<pki::Store::IssuedDer> first = {{"b0", kDer}, {"b1", kDer}};
  store.commit_chunk("r1", "issuing-2", first, {}, 2, now);
  const std::vector<pki::Store::IssuedDer> second = {{"b2", kDer}, {"b3", kDer}};
  const std::vector<pki::BatchRejectRecord> rejects = {{4, "dev-4", "not due"}};
  store.commit_chunk("r1", "issuing-2", second, rejects, 5, now + 1s);

  for (int i = 0; i < 4; ++i)
    CHECK(store.find_cert("issuing-2", "b" + std::to_string(i))->status == pki::CertStatus::issued);
  // a0: superseded, no revocation.
  const auto a0 = store.find_cert("issuing", "a0");
  CHECK(a0->status == pki::CertStatus::superseded);
  CHECK(a0->updated_at == now);
  CHECK(a0->der == kDer);
  CHECK_FALSE(store.find_revocation("issuing", "a0"));
  // a1: revoked as superseded through the revocation machinery.
  CHECK(store.find_cert("issuing", "a1")->status == pki::CertStatus::revoked);
  const auto r1 = store.find_revocation("issuing", "a1");
  REQUIRE(r1);
  CHECK(r1->reason == kSuperseded);
  CHECK(r1->revoked_at == now);
  CHECK(r1->prior_status == "superseded");
  CHECK(r1->not_after == store.find_cert("issuing", "a1")->not_after);
  CHECK_FALSE(r1->invalidity_date);
  CHECK_FALSE(r1->released_at);
  CHECK(r1->changed_seq > seq_before);
  // a2: revoked meanwhile, its entry untouched.
  CHECK(store.find_cert("issuing", "a2")->status == pki::CertStatus::revoked);
  const auto r2 = store.find_revocation("issuing", "a2");
  CHECK(r2->reason == kKeyCompromise);
  CHECK(r2->revoked_at == t0 + 3h);
  CHECK(r2->changed_seq == a2_entry->changed_seq);
  // a3: revoked in the second chunk, with the next seq.
  const auto r3 = store.find_revocation("issuing", "a3");
  CHECK(r3->reason == kSuperseded);
  CHECK(r3->revoked_at == now + 1s);
  CHECK(r3->changed_seq == r1->changed_seq + 1);
  // The CRLs see them: the full list and the delta since before the renewal.
  CHECK(revoked_list(store, "issuing", now) ==
        std::vector<std::string>{"99:5", "a1:4", "a2:1", "a3:4"});
  CHECK(changes_since(store, "issuing", a2_entry->changed_seq, now) ==
        std::vector<std::string>{"a1:4", "a3:4"});
  CHECK(store.batch_rejects("r1").size() == 1);
  CHECK(store.find_batch("r1")->position == 5);
  // Only the new certificates are renewal candidates now.
  CHECK(expiring_list(store, expiring(t0 + kDay * 1000)) ==
        std::vector<std::string>{"issuing/99:revoked", "issuing-2/b0", "issuing-2/b1",
                                 "issuing-2/b2", "issuing-2/b3"});
}

TEST_CASE("renewal batches: a plain batch supersedes nothing") {
  Fixture f;
  auto& store = *f.store;
  issue(store, "issuing", "a0", "dev-0");
  store.create_batch(make_batch("m1", 1));
  const std::vector<pki::CertRecord> rows = {batch_cert("b0", 0, "m1")};
  store.reserve_chunk(rows, at(t0 + 1h, false));
  const std::vector<pki::Store::IssuedDer> issued = {{"b0", kDer}};
  store.commit_chunk("m1", "issuing", issued, {}, 1, t0 + 2h);
  CHECK(store.find_cert("issuing", "b0")->status == pki::CertStatus::issued);
  CHECK(store.find_cert("issuing", "a0")->status == pki::CertStatus::issued);
  CHECK(store.find_cert("issuing", "a0")->updated_at == t0);
}

TEST_CASE("for_each_expiring: the window, the newest-only rule, filters, order") {
  Fixture f;
  auto& store = *f.store;
  store.add_ca(make_ca("issuing-2", "root", t0 + 2s));
  const auto d = [](int days) { return t0 + kDay * days; };
  // Candidates (window: notAfter up to day 100).
  put(store, "issuing", "a0", "dev-a", d(10));
  put(store, "issuing", "b0", "dev-k", d(10));
  put(store, "issuing-2", "01", "dev-j", d(10));  // same notAfter: issuer, then serial
  put(store, "issuing", "e0", "dev-e", d(50));    // revoked, device decommissioned
  put(store, "issuing", "d0", "dev-i", d(70));    // a later one under another profile only
  put(store, "issuing", "d1", "dev-i", d(400), pki::CertStatus::issued, "server");
  put(store, "issuing", "c0", "dev-l", d(80));  // a later one abandoned: does not count
  put(store, "issuing", "c1", "dev-l", d(400), pki::CertStatus::abandoned);
  put(store, "issuing", "f0", "dev-r", d(85));  // revoked, a later one revoked too
  put(store, "issuing", "f1", "dev-r", d(400));
  revoke(store,
         {req("issuing", "f0", kKeyCompromise, t0), req("issuing", "f1", kKeyCompromise, t0)}, t0);
  {
    store.create_batch(make_batch("bm", 1));
    auto rec = batch_cert("fa", 0, "bm");
    rec.device_id = "dev-m";
    rec.not_after = d(90);
    const std::vector<pki::CertRecord> rows = {rec};
    store.reserve_chunk(rows, at(t0, false));
    const std::vector<pki::Store::IssuedDer> issued = {{"fa", kDer}};
    store.commit_chunk("bm", "issuing", issued, {}, 1, t0);
  }
  // Not candidates.
  put(store, "issuing", "20", "dev-b", d(20));  // reissued: a later issued one
  put(store, "issuing", "21", "dev-b", d(400));
  put(store, "issuing", "30", "dev-c", d(30));  // renewed: old superseded
  put(store, "issuing", "31", "dev-c", d(395));
  put(store, "issuing", "40", "dev-d", d(40));  // renewed by ANOTHER issuer
  put(store, "issuing-2", "41", "dev-d", d(410));
  put(store, "issuing", "60", "dev-h", d(60));  // a renewal in flight (reserved)
  put(store, "issuing", "61", "dev-h", d(420), pki::CertStatus::reserved);
  put(store, "issuing", "70", "dev-f", d(200));                             // outside the window
  put(store, "issuing", "80", "", d(10));                                   // no device
  put(store, "issuing", "90", "dev-n", d(15), pki::CertStatus::reserved);   // never issued
  put(store, "issuing", "91", "dev-o", d(15), pki::CertStatus::abandoned);  // never issued
  {
    RawDb raw(f.dir.db());
    raw.exec("UPDATE certificates SET status = 'superseded' WHERE serial_hex = '30'");
  }
  const std::vector<std::string> ids = {"dev-e"};
  store.decommission(ids, kCessation, t0 + 1s, false);

  const std::vector<std::string> all = {
      "issuing/a0", "issuing/b0", "issuing-2/01",       "issuing/e0:revoked:decommissioned",
      "issuing/d0", "issuing/c0", "issuing/f0:revoked", "issuing/fa"};
  CHECK(expiring_list(store, expiring(d(100))) == all);
  // notAfter <= the bound, inclusive.
  CHECK(expiring_list(store, expiring(d(10))) ==
        std::vector<std::string>{"issuing/a0", "issuing/b0", "issuing-2/01"});
  CHECK(expiring_list(store, expiring(d(10) - 1s)).empty());

  SUBCASE("issuers") {
    auto q = expiring(d(100));
    q.issuers = {"issuing-2"};
    CHECK(expiring_list(store, q) == std::vector<std::string>{"issuing-2/01"});
    q.issuers = {"issuing-2", "issuing"};
    CHECK(expiring_list(store, q) == all);
    q.issuers = {"root"};
    CHECK(expiring_list(store, q).empty());
  }
  SUBCASE("profile") {
    auto q = expiring(d(500));
    q.profile = "server";
    CHECK(expiring_list(store, q) == std::vector<std::string>{"issuing/d1"});
    q.profile = "device";
    const auto wide = expiring_list(store, q);
    CHECK(std::find(wide.begin(), wide.end(), "issuing/d1") == wide.end());
    CHECK(std::find(wide.begin(), wide.end(), "issuing-2/41") != wide.end());
    CHECK(std::find(wide.begin(), wide.end(), "issuing/40") == wide.end());
  }
  SUBCASE("batch") {
    auto q = expiring(d(100));
    q.batch_id = "bm";
    CHECK(expiring_list(store, q) == std::vector<std::string>{"issuing/fa"});
    q.issuers = {"issuing-2"};
    CHECK(expiring_list(store, q).empty());
    q.issuers = {"issuing"};
    q.profile = "device";
    CHECK(expiring_list(store, q) == std::vector<std::string>{"issuing/fa"});
    q.batch_id = "nope";
    CHECK(expiring_list(store, q).empty());
  }
  SUBCASE("records and early stop") {
    std::vector<pki::ExpiringCert> seen;
    store.for_each_expiring(expiring(d(100)), [&](const pki::ExpiringCert& e) {
      seen.push_back(e);
      return seen.size() < 2;
    });
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].cert.issuer == "issuing");
    CHECK(seen[0].cert.serial_hex == "a0");
    CHECK(seen[0].cert.device_id == "dev-a");
    CHECK(seen[0].cert.profile == "device");
    CHECK(seen[0].cert.status == pki::CertStatus::issued);
    CHECK(seen[0].cert.not_after == d(10));
    CHECK(seen[0].cert.batch_index == -1);
    CHECK(seen[0].cert.der.empty());
    CHECK_FALSE(seen[0].device_decommissioned);
    CHECK(seen[1].cert.serial_hex == "b0");
    // The store is usable once the scan stopped (no read transaction left open).
    put(store, "issuing", "ab", "dev-z", d(5));
    CHECK(expiring_list(store, expiring(d(5))) == std::vector<std::string>{"issuing/ab"});
  }
}

namespace {

// The SQL of the last statement run on `db` that mentions `marker`.
struct LastSql {
  std::string marker;
  std::string sql;
  static int trace(unsigned, void* self, void* stmt, void*) {
    auto* me = static_cast<LastSql*>(self);
    const char* text = sqlite3_sql(static_cast<sqlite3_stmt*>(stmt));
    if (text && std::string(text).find(me->marker) != std::string::npos) me->sql = text;
    return 0;
  }
};

std::string query_plan(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &st, nullptr) ==
          SQLITE_OK);
  std::string out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    out += reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
    out += '\n';
  }
  sqlite3_finalize(st);
  return out;
}

}  // namespace

TEST_CASE("for_each_expiring and the renewal commit are index lookups") {
  Fixture f;
  auto* sqlite_store = dynamic_cast<pki::SqliteStore*>(f.store.get());
  REQUIRE(sqlite_store);
  sqlite3* db = sqlite_store->native_handle();
  issue(*f.store, "issuing", "01", "dev-1");
  LastSql last{"NOT EXISTS", ""};
  sqlite3_trace_v2(db, SQLITE_TRACE_STMT, &LastSql::trace, &last);
  auto q = expiring(t0 + kDay * 400);
  const auto plan_of = [&](const pki::ExpiringQuery& query) {
    last.sql.clear();
    CHECK(expiring_list(*f.store, query) == std::vector<std::string>{"issuing/01"});
    REQUIRE_FALSE(last.sql.empty());
    return query_plan(db, last.sql);
  };
  for (int filters = 0; filters < 3; ++filters) {
    if (filters >= 1) q.issuers = {"issuing", "root"};
    if (filters >= 2) q.profile = "device";
    const auto plan = plan_of(q);
    INFO(plan);
    // The window from the partial index, in the result's order: no sort.
    CHECK(plan.find("SEARCH c USING INDEX certificates_expiring (not_after<?)") !=
          std::string::npos);
    CHECK(plan.find("SEARCH n USING INDEX certificates_device_profile (device_id=? AND "
                    "profile=? AND not_after>?)") != std::string::npos);
    CHECK(plan.find("TEMP B-TREE") == std::string::npos);
    CHECK(plan.find("SCAN") == std::string::npos);
  }
  // The lookup of a committed renewal row's item and old certificate.
  f.store->create_renewal_batch(make_batch("r1", 1),
                                std::vector{item(0, "dev-1", "issuing", "01")});
  auto row = renewal_cert("issuing", "02", 0, "r1");
  row.device_id = "dev-1";
  const std::vector<pki::CertRecord> rows = {row};
  f.store->reserve_chunk(rows, at(t0, false));
  last.marker = "renewal_items AS r";
  const std::vector<pki::Store::IssuedDer> issued = {{"02", kDer}};
  f.store->commit_chunk("r1", "issuing", issued, {}, 1, t0);
  CHECK(f.store->find_cert("issuing", "01")->status == pki::CertStatus::superseded);
  sqlite3_trace_v2(db, 0, nullptr, nullptr);
  REQUIRE_FALSE(last.sql.empty());
  const auto plan = query_plan(db, last.sql);
  INFO(plan);
  CHECK(plan.find("SCAN") == std::string::npos);
  CHECK(plan.find("SEARCH r USING PRIMARY KEY (batch_id=? AND batch_index=?)") !=
        std::string::npos);
}
