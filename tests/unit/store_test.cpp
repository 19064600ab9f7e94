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
  CHECK(store->schema_version() == 2);

  RawDb raw(dir.db());
  for (const char* table : {"schema_version", "cas", "certificates", "audit", "batches",
                            "revocations", "crl_numbers", "batch_rejects"}) {
    INFO(table);
    CHECK(raw.scalar(std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                 "name = '") +
                     table + "'") == "1");
  }
  for (const char* index :
       {"certificates_issuer_profile_device", "certificates_device", "certificates_not_after",
        "certificates_batch", "certificates_reserved"}) {
    INFO(index);
    CHECK(raw.scalar(std::string("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                 "name = '") +
                     index + "'") == "1");
  }
  CHECK(raw.scalar("SELECT count(*) FROM schema_version") == "2");
  CHECK(raw.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'certificates_status'") == "0");
}

TEST_CASE("reopening keeps the data and does not migrate again") {
  TempDir dir;
  {
    auto store = pki::open_store(dir.db());
    store->add_ca(make_ca("root"));
  }
  auto store = pki::open_store(dir.db());
  CHECK(store->schema_version() == 2);
  REQUIRE(store->find_ca("root").has_value());
  RawDb raw(dir.db());
  CHECK(raw.scalar("SELECT count(*) FROM schema_version") == "2");
}

TEST_CASE("a v1 store (devpki before batches) migrates to v2 with its rows") {
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
  CHECK(store->schema_version() == 2);
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
                "store schema v99 is newer than this devpki (v2)");
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
