#include "store/sqlite_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "store/records.hpp"
#include "store/sqlite_schema.hpp"

namespace pki {

namespace {

using sqlite::cert_name;
using sqlite::kCertColumns;
using sqlite::kCertColumnsNoDer;
using sqlite::read_cert;
using sqlite::Statement;
using sqlite::to_int64;
using sqlite::Transaction;

// Long enough to ride out another process's commit (an fsync, or a whole
// batch), short enough that a stuck writer surfaces as an error.
constexpr int kBusyTimeoutMs = 10'000;

// SQLite creates files with 0644 (less the umask) and gives the -wal and -shm
// files the main file's mode, so creating the main file 0600 first keeps the
// whole inventory private. An existing file keeps the mode its owner chose.
void create_private_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) {
    ::close(fd);
    return;
  }
  if (errno == EEXIST) return;
  throw Error(ErrorCode::store, "creating store " + path + ": " + std::strerror(errno));
}

// Runs a PRAGMA setter and returns the first column of its answer (if any).
std::string pragma(sqlite3* db, const char* sql, std::string_view what) {
  const auto stmt = sqlite::prepare(db, sql, what);
  Statement st(db, stmt.get(), what);
  std::string value = st.step() ? st.text(0) : std::string();
  while (st.step()) {
  }
  return value;
}

bool is_unique_violation(int rc) {
  return rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE;
}

constexpr const char* kCaColumns =
    "name, parent, profile, subject, serial_hex, key_ref, spki_sha256, ski_hex, not_before, "
    "not_after, status, cert_der, created_at, successor, retired_at";

CaRecord read_ca(const Statement& st) {
  CaRecord ca;
  ca.name = st.text(0);
  ca.parent = st.text(1);
  ca.profile = st.text(2);
  ca.subject = st.text(3);
  ca.serial_hex = st.text(4);
  ca.key_ref = st.text(5);
  ca.spki_sha256 = st.text(6);
  ca.ski_hex = st.text(7);
  ca.not_before = st.time(8);
  ca.not_after = st.time(9);
  ca.status = store::parse_ca_status(st.text(10));
  ca.cert_der = st.blob(11);
  ca.created_at = st.time(12);
  ca.successor = st.text(13);
  if (!st.is_null(14)) ca.retired_at = st.time(14);
  return ca;
}

// The VALUES list of a reserved row: kInsertParams parameters from `base`.
std::string reserved_values(int base) {
  // Built with appends: GCC 12 at -O3 reports a false -Wrestrict in the
  // operator+ chain of the same thing.
  std::string v = "(";
  for (int i = 1; i <= 12; ++i) {
    if (i == 10) v += "'reserved', ";  // status
    if (i == 11) v += "NULL, ";        // der
    v += '?';
    v += std::to_string(base + i);
    if (i == 11) {  // created_at and updated_at are both `now`
      v += ", ?";
      v += std::to_string(base + i);
    }
    v += i == 12 ? ")" : ", ";
  }
  return v;
}

constexpr const char* kAuditColumns = "id, at, actor, action, subject, detail";

AuditEvent read_audit(const Statement& st) {
  AuditEvent ev;
  ev.id = st.integer(0);
  ev.at = st.time(1);
  ev.actor = st.text(2);
  ev.action = st.text(3);
  ev.subject = st.text(4);
  ev.detail = st.text(5);
  return ev;
}

}  // namespace

namespace sqlite {

const char* const kCertColumns =
    "issuer, serial_hex, device_id, profile, batch_id, subject, not_before, not_after, "
    "spki_sha256, status, output, der, created_at, updated_at, batch_index";
const char* const kCertColumnsNoDer =
    "issuer, serial_hex, device_id, profile, batch_id, subject, not_before, not_after, "
    "spki_sha256, status, output, NULL, created_at, updated_at, batch_index";

CertRecord read_cert(const Statement& st) {
  CertRecord rec;
  rec.issuer = st.text(0);
  rec.serial_hex = st.text(1);
  rec.device_id = st.text(2);
  rec.profile = st.text(3);
  rec.batch_id = st.text(4);
  rec.subject = st.text(5);
  rec.not_before = st.time(6);
  rec.not_after = st.time(7);
  rec.spki_sha256 = st.text(8);
  rec.status = parse_cert_status(st.text(9));
  rec.output = st.text(10);
  rec.der = st.blob(11);
  rec.created_at = st.time(12);
  rec.updated_at = st.time(13);
  rec.batch_index = st.is_null(14) ? -1 : st.integer(14);
  return rec;
}

std::string cert_name(std::string_view issuer, std::string_view serial_hex) {
  return "certificate " + std::string(serial_hex) + " from CA " + std::string(issuer);
}

std::int64_t to_int64(std::uint64_t v, std::string_view what) {
  if (v > static_cast<std::uint64_t>(INT64_MAX)) {
    throw Error(ErrorCode::invalid_input, std::string(what) + " out of range");
  }
  return static_cast<std::int64_t>(v);
}

}  // namespace sqlite

SqliteStore::SqliteStore(const std::string& path) : m_path(path) {
  namespace fs = std::filesystem;
  const fs::path file(path);
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw Error(ErrorCode::store,
                "cannot open store " + path + ": directory " + dir.string() + " does not exist");
  }
  create_private_file(path);

  sqlite3* raw = nullptr;
  // No SQLITE_OPEN_URI: the path is a path, a '?' in it is not an option string.
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  m_db.reset(raw);  // a handle is returned even on failure, and must be closed
  const std::string what = "opening store " + path;
  sqlite::check(m_db.get(), rc, what);
  sqlite3* db = m_db.get();

  // Constraint failures then say which constraint (PRIMARYKEY vs FOREIGNKEY).
  sqlite::check(db, sqlite3_extended_result_codes(db, 1), what);
  sqlite::check(db, sqlite3_busy_timeout(db, kBusyTimeoutMs), what);
  // Off by default in SQLite, per connection: without it REFERENCES is decoration.
  pragma(db, "PRAGMA foreign_keys = ON", what);
  // WAL: readers (list, show) never block the writer (mint); persistent in the file.
  const std::string mode = pragma(db, "PRAGMA journal_mode = WAL", what);
  if (mode != "wal") {
    throw Error(ErrorCode::store,
                what + ": cannot enable WAL journaling (journal_mode is '" + mode + "')");
  }
  // FULL in WAL mode fsyncs the WAL at every commit: a reserved serial
  // survives a power cut, which the issuance protocol relies on. NORMAL would not.
  pragma(db, "PRAGMA synchronous = FULL", what);
  // SQLite's default page cache is 2 MiB: a batch over 100,000 certificates
  // (rows carry their DER) then reads most pages back with pread on every
  // touch (perf: a tenth of a renewal's time in the kernel's read path). 64
  // MiB is an upper bound, allocated only as pages are used.
  pragma(db, "PRAGMA cache_size = -65536", what);

  sqlite::migrate(db);
}

Statement SqliteStore::statement(const std::string& sql, std::string_view what) {
  auto it = m_statements.find(sql);
  if (it == m_statements.end()) {
    it = m_statements.emplace(sql, sqlite::prepare(m_db.get(), sql, what, true)).first;
  }
  return Statement(m_db.get(), it->second.get(), what);
}

Statement SqliteStore::hot(sqlite3_stmt*& slot, const char* sql_head, const char* sql_tail,
                           std::string_view what) {
  if (slot == nullptr) {
    const std::string sql = std::string(sql_head) + sql_tail;
    auto it = m_statements.find(sql);
    if (it == m_statements.end()) {
      it = m_statements.emplace(sql, sqlite::prepare(m_db.get(), sql, what, true)).first;
    }
    slot = it->second.get();
  }
  return Statement(m_db.get(), slot, what);
}

int SqliteStore::schema_version() {
  return sqlite::stored_schema_version(m_db.get());
}

bool SqliteStore::ca_exists(std::string_view name) {
  auto st = statement("SELECT 1 FROM cas WHERE name = ?1", "looking up a CA");
  st.bind(1, name);
  return st.step();
}

void SqliteStore::insert_ca(const CaRecord& ca, std::string_view what) {
  if (!ca.parent.empty() && !ca_exists(ca.parent)) {
    throw Error(ErrorCode::not_found,
                "parent CA " + ca.parent + " of CA " + ca.name + " does not exist");
  }
  if (!ca.successor.empty() && !ca_exists(ca.successor)) {
    throw Error(ErrorCode::not_found,
                "successor CA " + ca.successor + " of CA " + ca.name + " does not exist");
  }
  auto st = statement(std::string("INSERT INTO cas (") + kCaColumns +
                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                          " ?15)",
                      what);
  st.bind(1, ca.name)
      .bind_optional(2, ca.parent)
      .bind(3, ca.profile)
      .bind(4, ca.subject)
      .bind(5, ca.serial_hex)
      .bind(6, ca.key_ref)
      .bind(7, ca.spki_sha256)
      .bind(8, ca.ski_hex)
      .bind(9, ca.not_before)
      .bind(10, ca.not_after)
      .bind(11, to_string(ca.status))
      .bind_optional_blob(12, ca.cert_der)
      .bind(13, ca.created_at)
      .bind_optional(14, ca.successor);
  if (ca.retired_at) {
    st.bind(15, *ca.retired_at);
  } else {
    st.bind_null(15);
  }
  const int rc = st.step_raw();
  if (is_unique_violation(rc)) {
    throw Error(ErrorCode::conflict, "a CA named " + ca.name + " already exists");
  }
  if (rc != SQLITE_DONE) st.fail();
}

void SqliteStore::add_ca(const CaRecord& ca) {
  store::check_ca_record(ca);
  Transaction tx(m_db.get(), Transaction::Kind::immediate, "adding a CA");
  insert_ca(ca, "adding a CA");
  tx.commit();
}

void SqliteStore::add_successor_ca(const CaRecord& successor, std::string_view predecessor,
                                   TimePoint now) {
  constexpr std::string_view kWhat = "rolling over a CA";
  store::check_ca_record(successor);
  if (successor.status != CaStatus::active) {
    throw Error(ErrorCode::invalid_input,
                "successor CA " + successor.name + " must be active to take over issuance");
  }
  // The checks, the insert and the retirement in one write transaction:
  // two rollovers of the same CA cannot both succeed.
  Transaction tx(m_db.get(), Transaction::Kind::immediate, kWhat);
  {
    auto st = statement("SELECT status, successor FROM cas WHERE name = ?1", kWhat);
    st.bind(1, predecessor);
    if (!st.step()) {
      throw Error(ErrorCode::not_found, "CA " + std::string(predecessor) + " does not exist");
    }
    if (!st.is_null(1)) {
      throw Error(ErrorCode::conflict,
                  "CA " + std::string(predecessor) + " already has a successor, CA " + st.text(1));
    }
    if (st.text(0) != to_string(CaStatus::active)) {
      throw Error(ErrorCode::conflict, "CA " + std::string(predecessor) + " is " + st.text(0) +
                                           ", not active: only an active CA is rolled over");
    }
  }
  insert_ca(successor, kWhat);
  {
    auto st = statement(
        "UPDATE cas SET status = 'retired', successor = ?2, retired_at = ?3 WHERE name = ?1",
        kWhat);
    st.bind(1, predecessor).bind(2, successor.name).bind(3, now);
    st.run();
  }
  tx.commit();
}

std::optional<TimePoint> SqliteStore::last_issued_not_after(std::string_view issuer) {
  // certificates_issuer_not_after read from the top: only the reserved and
  // abandoned rows above the answer are stepped over.
  auto st = statement(
      "SELECT not_after FROM certificates WHERE issuer = ?1"
      " AND (status = 'issued' OR status = 'revoked' OR status = 'superseded')"
      " ORDER BY not_after DESC LIMIT 1",
      "reading a CA's last notAfter");
  st.bind(1, issuer);
  if (!st.step()) return std::nullopt;
  return st.time(0);
}

std::optional<CaRecord> SqliteStore::find_ca(std::string_view name) {
  auto st = statement(std::string("SELECT ") + kCaColumns + " FROM cas WHERE name = ?1",
                      "looking up a CA");
  st.bind(1, name);
  if (!st.step()) return std::nullopt;
  return read_ca(st);
}

std::vector<CaRecord> SqliteStore::list_cas() {
  auto st = statement(std::string("SELECT ") + kCaColumns + " FROM cas ORDER BY created_at, name",
                      "listing CAs");
  std::vector<CaRecord> out;
  while (st.step())
    out.push_back(read_ca(st));
  return out;
}

// "Does this device hold a live certificate": ?1 issuer, ?2 profile,
// ?3 device id, ?4 now. Shared by reserve() and live_devices().
Statement SqliteStore::live_probe() {
  return hot(m_live_probe,
             "SELECT 1 FROM certificates WHERE issuer = ?1 AND profile = ?2 AND device_id = ?3",
             " AND (status = 'reserved' OR (status = 'issued' AND not_after > ?4)) LIMIT 1",
             "checking for a live certificate");
}

void SqliteStore::refuse_live_duplicate(const CertRecord& rec, TimePoint now) {
  {
    // The common case, answered from the index alone; the details below are
    // read only for the message.
    auto probe = live_probe();
    probe.bind(1, rec.issuer).bind(2, rec.profile).bind(3, rec.device_id).bind(4, now);
    if (!probe.step()) return;
  }
  auto st = statement(
      "SELECT serial_hex, not_after, status FROM certificates"
      " WHERE issuer = ?1 AND profile = ?2 AND device_id = ?3"
      " AND (status = 'reserved' OR (status = 'issued' AND not_after > ?4))"
      " ORDER BY created_at DESC, serial_hex LIMIT 1",
      "checking for a live certificate");
  st.bind(1, rec.issuer).bind(2, rec.profile).bind(3, rec.device_id).bind(4, now);
  if (st.step()) {
    throw Error(ErrorCode::conflict,
                "device " + rec.device_id + " already holds a live certificate from CA " +
                    rec.issuer + " under profile " + rec.profile + " (serial " + st.text(0) +
                    ", expires " + format_time(st.time(1)) + ")" +
                    (st.text(2) == "reserved"
                         ? "; it is reserved, not yet issued: if an earlier run was interrupted, "
                           "`devpki-ca recover` (or `devpki-mint --resume` for a batch) settles it"
                         : ""));
  }
}

std::string SqliteStore::multi_insert_sql() {
  std::string sql = std::string(kCertColumns) + ") VALUES ";
  for (std::size_t k = 0; k < kRowsPerInsert; ++k) {
    if (k != 0) sql += ", ";
    sql += reserved_values(static_cast<int>(k * kInsertParams));
  }
  return sql;
}

void SqliteStore::bind_reserved(Statement& st, int base, const CertRecord& rec, TimePoint now) {
  st.bind(base + 1, rec.issuer)
      .bind(base + 2, rec.serial_hex)
      .bind_optional(base + 3, rec.device_id)
      .bind(base + 4, rec.profile)
      .bind_optional(base + 5, rec.batch_id)
      .bind(base + 6, rec.subject)
      .bind(base + 7, rec.not_before)
      .bind(base + 8, rec.not_after)
      .bind(base + 9, rec.spki_sha256)
      .bind_optional(base + 10, rec.output)
      .bind(base + 11, now);
  if (rec.batch_index >= 0) {
    st.bind(base + 12, rec.batch_index);
  } else {
    st.bind_null(base + 12);
  }
}

void SqliteStore::insert_reserved(const CertRecord& rec, TimePoint now) {
  static const std::string kSingleInsertTail =
      std::string(kCertColumns) + ") VALUES " + reserved_values(0);
  auto st =
      hot(m_insert, "INSERT INTO certificates (", kSingleInsertTail.c_str(), "reserving a serial");
  bind_reserved(st, 0, rec, now);
  const int rc = st.step_raw();
  if (is_unique_violation(rc)) {
    // Two unique keys: (issuer, serial) and the live row of a batch position.
    const std::string msg = sqlite3_errmsg(native_handle());
    if (msg.find("certificates_batch") != std::string::npos) {
      throw Error(ErrorCode::conflict, "device " + rec.device_id + " (position " +
                                           std::to_string(rec.batch_index) + " of batch " +
                                           rec.batch_id + ") already has a live certificate");
    }
    throw Error(ErrorCode::conflict,
                "serial " + rec.serial_hex + " already used by CA " + rec.issuer);
  }
  if (rc != SQLITE_DONE) st.fail();
}

void SqliteStore::reserve(const CertRecord& rec, const ReserveOptions& opts) {
  store::check_cert_record(rec);
  // One write transaction for check and insert: two reservations for the same
  // device cannot both pass the check.
  Transaction tx(m_db.get(), Transaction::Kind::immediate, "reserving a serial");
  if (!ca_exists(rec.issuer)) {
    throw Error(ErrorCode::not_found, "CA " + rec.issuer + " does not exist");
  }
  if (opts.refuse_live_duplicate && !rec.device_id.empty()) refuse_live_duplicate(rec, opts.now);
  insert_reserved(rec, opts.now);
  tx.commit();  // synchronous=FULL: on disk when this returns
}

void SqliteStore::finish_reserved(std::string_view issuer, std::string_view serial_hex,
                                  CertStatus to, const std::vector<std::uint8_t>* der,
                                  TimePoint now, std::string_view what) {
  Transaction tx(m_db.get(), Transaction::Kind::immediate, what);
  {
    auto st =
        statement("SELECT status FROM certificates WHERE issuer = ?1 AND serial_hex = ?2", what);
    st.bind(1, issuer).bind(2, serial_hex);
    if (!st.step()) {
      throw Error(ErrorCode::not_found, "no " + cert_name(issuer, serial_hex));
    }
    const auto status = parse_cert_status(st.text(0));
    if (status != CertStatus::reserved) {
      throw Error(ErrorCode::conflict, cert_name(issuer, serial_hex) + " is " +
                                           std::string(to_string(status)) + ", not reserved");
    }
  }
  {
    auto st = statement(
        "UPDATE certificates SET status = ?3, der = COALESCE(?4, der), updated_at = ?5"
        " WHERE issuer = ?1 AND serial_hex = ?2",
        what);
    st.bind(1, issuer).bind(2, serial_hex).bind(3, to_string(to)).bind(5, now);
    if (der) st.bind_blob(4, *der);  // unbound ?4 is NULL: the DER is left as it is
    st.run();
  }
  tx.commit();
}

void SqliteStore::commit_issued(std::string_view issuer, std::string_view serial_hex,
                                const std::vector<std::uint8_t>& der, TimePoint now) {
  if (der.empty()) {
    throw Error(ErrorCode::invalid_input,
                "cannot mark " + cert_name(issuer, serial_hex) + " issued without its DER");
  }
  finish_reserved(issuer, serial_hex, CertStatus::issued, &der, now, "committing a certificate");
}

void SqliteStore::abandon(std::string_view issuer, std::string_view serial_hex, TimePoint now) {
  finish_reserved(issuer, serial_hex, CertStatus::abandoned, nullptr, now,
                  "abandoning a reservation");
}

std::optional<CertRecord> SqliteStore::find_cert(std::string_view issuer,
                                                 std::string_view serial_hex) {
  auto st = statement(std::string("SELECT ") + kCertColumns +
                          " FROM certificates WHERE issuer = ?1 AND serial_hex = ?2",
                      "looking up a certificate");
  st.bind(1, issuer).bind(2, serial_hex);
  if (!st.step()) return std::nullopt;
  return read_cert(st);
}

std::vector<CertRecord> SqliteStore::find_certs(const CertQuery& q) {
  // Only the shape of the WHERE clause varies (at most 2^6 cached statements);
  // values are always bound, never spliced into the SQL.
  std::string sql = std::string("SELECT ") + kCertColumns + " FROM certificates WHERE 1 = 1";
  std::vector<std::string> values;
  const auto filter = [&](const char* column, const std::optional<std::string>& value,
                          bool empty_is_null) {
    if (!value) return;
    if (empty_is_null && value->empty()) {
      // Stored as NULL: asking for device "" means "certificates with no device".
      sql += std::string(" AND ") + column + " IS NULL";
      return;
    }
    values.push_back(*value);
    sql += std::string(" AND ") + column + " = ?" + std::to_string(values.size());
  };
  filter("issuer", q.issuer, false);
  filter("device_id", q.device_id, true);
  filter("profile", q.profile, false);
  filter("serial_hex", q.serial_hex, false);
  filter("batch_id", q.batch_id, true);
  if (q.status) filter("status", std::string(to_string(*q.status)), false);
  sql += " ORDER BY created_at, serial_hex, issuer LIMIT ?" + std::to_string(values.size() + 1);

  auto st = statement(sql, "searching certificates");
  for (std::size_t i = 0; i < values.size(); ++i)
    st.bind(static_cast<int>(i + 1), values[i]);
  // LIMIT -1 is SQLite's "no limit".
  st.bind(static_cast<int>(values.size() + 1),
          q.limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(q.limit));
  std::vector<CertRecord> out;
  while (st.step())
    out.push_back(read_cert(st));
  return out;
}

// ---- batches ----------------------------------------------------------------

namespace {

constexpr const char* kBatchColumns =
    "id, ca, profile, count, state, params, out_dir, position, created_at, updated_at";

BatchRecord read_batch(const Statement& st) {
  BatchRecord b;
  b.id = st.text(0);
  b.ca = st.text(1);
  b.profile = st.text(2);
  b.count = static_cast<std::uint64_t>(st.integer(3));
  b.state = st.text(4);
  b.params = st.text(5);
  b.out_dir = st.text(6);
  b.position = static_cast<std::uint64_t>(st.integer(7));
  b.created_at = st.time(8);
  b.updated_at = st.time(9);
  return b;
}

}  // namespace

void SqliteStore::insert_batch(const BatchRecord& b, std::string_view what) {
  if (!ca_exists(b.ca)) throw Error(ErrorCode::not_found, "CA " + b.ca + " does not exist");
  auto st = statement(std::string("INSERT INTO batches (") + kBatchColumns +
                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                      what);
  st.bind(1, b.id)
      .bind(2, b.ca)
      .bind(3, b.profile)
      .bind(4, to_int64(b.count, "batch count"))
      .bind(5, b.state)
      .bind(6, b.params)
      .bind(7, b.out_dir)
      .bind(8, to_int64(b.position, "batch position"))
      .bind(9, b.created_at);
  const int rc = st.step_raw();
  if (is_unique_violation(rc)) {
    throw Error(ErrorCode::conflict, "a batch with id " + b.id + " already exists");
  }
  if (rc != SQLITE_DONE) st.fail();
}

void SqliteStore::create_batch(const BatchRecord& b) {
  store::check_batch_id(b.id);
  store::check_ca_name(b.ca, "batch CA name");
  Transaction tx(m_db.get(), Transaction::Kind::immediate, "creating a batch");
  insert_batch(b, "creating a batch");
  tx.commit();
}

std::optional<BatchRecord> SqliteStore::find_batch(std::string_view id) {
  auto st = statement(std::string("SELECT ") + kBatchColumns + " FROM batches WHERE id = ?1",
                      "looking up a batch");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_batch(st);
}

std::vector<BatchRecord> SqliteStore::list_batches() {
  auto st =
      statement(std::string("SELECT ") + kBatchColumns + " FROM batches ORDER BY created_at, id",
                "listing batches");
  std::vector<BatchRecord> out;
  while (st.step())
    out.push_back(read_batch(st));
  return out;
}

void SqliteStore::set_batch_state(std::string_view id, std::string_view state, TimePoint now) {
  auto st =
      statement("UPDATE batches SET state = ?2, updated_at = ?3 WHERE id = ?1", "updating a batch");
  st.bind(1, id).bind(2, state).bind(3, now);
  st.run();
  if (sqlite3_changes(m_db.get()) != 1) {
    throw Error(ErrorCode::not_found, "no batch " + std::string(id));
  }
}

void SqliteStore::set_batch_position(std::string_view batch_id, std::uint64_t position,
                                     TimePoint now) {
  auto st = statement("UPDATE batches SET position = ?2, updated_at = ?3 WHERE id = ?1",
                      "recording a batch position");
  st.bind(1, batch_id).bind(2, to_int64(position, "batch position")).bind(3, now);
  st.run();
  if (sqlite3_changes(m_db.get()) != 1) {
    throw Error(ErrorCode::not_found, "no batch " + std::string(batch_id));
  }
}

void SqliteStore::reserve_chunk(std::span<const CertRecord> rows, const ReserveOptions& opts) {
  if (rows.empty()) return;
  for (const auto& r : rows) {
    store::check_cert_record(r);
    if (r.issuer != rows.front().issuer) {
      throw Error(ErrorCode::invalid_input, "a chunk is reserved for one issuer at a time");
    }
  }
  Transaction tx(m_db.get(), Transaction::Kind::immediate, "reserving a chunk");
  if (!ca_exists(rows.front().issuer)) {
    throw Error(ErrorCode::not_found, "CA " + rows.front().issuer + " does not exist");
  }
  if (opts.refuse_live_duplicate) {
    for (const auto& r : rows)
      if (!r.device_id.empty()) refuse_live_duplicate(r, opts.now);
  }
  // kRowsPerInsert rows per statement: a statement's fixed cost (begin,
  // constraint journal, halt) was a third of the store's time per row.
  std::size_t i = 0;
  for (; i + kRowsPerInsert <= rows.size(); i += kRowsPerInsert) {
    static const std::string tail = multi_insert_sql();
    auto st = hot(m_insert_many, "INSERT INTO certificates (", tail.c_str(), "reserving a chunk");
    for (std::size_t k = 0; k < kRowsPerInsert; ++k)
      bind_reserved(st, static_cast<int>(k * kInsertParams), rows[i + k], opts.now);
    const int rc = st.step_raw();
    if (rc == SQLITE_DONE) continue;
    if (!is_unique_violation(rc)) st.fail();
    // The statement alone was rolled back: redo its rows one at a time for
    // the message that names the row.
    st.reset();
    for (std::size_t k = 0; k < kRowsPerInsert; ++k)
      insert_reserved(rows[i + k], opts.now);
    throw Error(ErrorCode::internal, "a multi-row insert failed where single rows succeeded");
  }
  for (; i < rows.size(); ++i)
    insert_reserved(rows[i], opts.now);
  tx.commit();  // every row durable, or none
}

void SqliteStore::commit_chunk(std::string_view batch_id, std::string_view issuer,
                               std::span<const IssuedDer> issued,
                               std::span<const BatchRejectRecord> rejects, std::uint64_t position,
                               TimePoint now) {
  for (const auto& i : issued) {
    if (i.der.empty()) {
      throw Error(ErrorCode::invalid_input,
                  "cannot mark " + cert_name(issuer, i.serial_hex) + " issued without its DER");
    }
  }
  Transaction tx(m_db.get(), Transaction::Kind::immediate, "committing a chunk");
  // A renewal batch's rows also supersede what they renew
  // (sqlite_renewals.cpp). Asked once per chunk: a mint batch pays one
  // index probe per commit, nothing per row.
  const bool renewal = !issued.empty() && is_renewal_batch(batch_id);
  std::optional<std::int64_t> seq;  // read when a first revocation needs it
  for (const auto& i : issued) {
    {
      auto st =
          hot(m_commit_row, "UPDATE certificates SET status = 'issued', der = ?3, updated_at = ?4",
              " WHERE issuer = ?1 AND serial_hex = ?2 AND status = 'reserved' AND batch_id = ?5",
              "committing a chunk");
      st.bind(1, issuer).bind(2, i.serial_hex).bind(4, now).bind(5, batch_id);
      st.bind_blob(3, i.der);
      st.run();
      if (sqlite3_changes(m_db.get()) != 1) {
        throw Error(ErrorCode::conflict, cert_name(issuer, i.serial_hex) +
                                             " is not reserved in batch " + std::string(batch_id));
      }
    }
    if (renewal) supersede_renewed(issuer, i.serial_hex, now, seq);
  }
  for (const auto& r : rejects) {
    auto st = statement(
        "INSERT OR REPLACE INTO batch_rejects (batch_id, batch_index, device_id, reason)"
        " VALUES (?1, ?2, ?3, ?4)",
        "recording a reject");
    st.bind(1, batch_id)
        .bind(2, to_int64(r.index, "batch index"))
        .bind(3, r.device_id)
        .bind(4, r.reason);
    st.run();
  }
  set_batch_position(batch_id, position, now);
  tx.commit();
}

void SqliteStore::abandon_chunk(std::string_view batch_id, std::string_view issuer,
                                std::span<const std::string> serials, std::uint64_t position,
                                TimePoint now) {
  Transaction tx(m_db.get(), Transaction::Kind::immediate, "abandoning reservations");
  for (const auto& serial : serials) {
    auto st =
        hot(m_abandon_row, "UPDATE certificates SET status = 'abandoned', updated_at = ?3",
            " WHERE issuer = ?1 AND serial_hex = ?2 AND status = 'reserved' AND batch_id = ?4",
            "abandoning reservations");
    st.bind(1, issuer).bind(2, serial).bind(3, now).bind(4, batch_id);
    st.run();
    if (sqlite3_changes(m_db.get()) != 1) {
      throw Error(ErrorCode::conflict,
                  cert_name(issuer, serial) + " is not reserved in batch " + std::string(batch_id));
    }
  }
  set_batch_position(batch_id, position, now);
  tx.commit();
}

void SqliteStore::for_each_batch_cert(std::string_view batch_id,
                                      std::span<const CertStatus> statuses, bool with_der,
                                      const std::function<bool(const CertRecord&)>& fn) {
  if (statuses.empty()) return;
  std::string sql = std::string("SELECT ") + (with_der ? kCertColumns : kCertColumnsNoDer) +
                    " FROM certificates WHERE batch_id = ?1 AND status IN (";
  for (std::size_t i = 0; i < statuses.size(); ++i)
    sql += (i ? ", ?" : "?") + std::to_string(i + 2);
  sql += ") ORDER BY batch_index, created_at, serial_hex";
  // Not cached: a long scan keeps its own statement, so `fn` may not
  // disturb it, and a read transaction is held only while it runs.
  const auto stmt = sqlite::prepare(m_db.get(), sql, "reading a batch");
  Statement st(m_db.get(), stmt.get(), "reading a batch");
  st.bind(1, batch_id);
  for (std::size_t i = 0; i < statuses.size(); ++i)
    st.bind(static_cast<int>(i + 2), to_string(statuses[i]));
  while (st.step()) {
    if (!fn(read_cert(st))) break;
  }
}

std::vector<BatchRejectRecord> SqliteStore::batch_rejects(std::string_view batch_id) {
  auto st = statement(
      "SELECT batch_index, device_id, reason FROM batch_rejects WHERE batch_id = ?1"
      " ORDER BY batch_index",
      "reading batch rejects");
  st.bind(1, batch_id);
  std::vector<BatchRejectRecord> out;
  while (st.step())
    out.push_back({static_cast<std::uint64_t>(st.integer(0)), st.text(1), st.text(2)});
  return out;
}

std::vector<std::string> SqliteStore::live_devices(std::string_view issuer,
                                                   std::string_view profile,
                                                   std::span<const std::string> ids,
                                                   TimePoint now) {
  // One read transaction for all lookups (one snapshot, no per-query locking).
  Transaction tx(m_db.get(), Transaction::Kind::deferred, "checking for live certificates");
  std::vector<std::string> out;
  auto st = live_probe();
  for (const auto& id : ids) {
    st.bind(1, issuer).bind(2, profile).bind(3, id).bind(4, now);
    if (st.step()) out.push_back(id);
    st.reset();
  }
  tx.commit();
  return out;
}

void SqliteStore::append_audit(const AuditEvent& ev) {
  auto st = statement(
      "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
      "appending to the audit log");
  st.bind(1, ev.at).bind(2, ev.actor).bind(3, ev.action).bind(4, ev.subject).bind(5, ev.detail);
  st.run();
}

std::vector<AuditEvent> SqliteStore::audit_log(std::size_t limit) {
  // Ordered by id, not by `at`: the id is the order the store saw the events
  // in, whatever the clocks of the writers said.
  std::vector<AuditEvent> out;
  if (limit == 0) {
    auto st = statement(std::string("SELECT ") + kAuditColumns + " FROM audit ORDER BY id",
                        "reading the audit log");
    while (st.step())
      out.push_back(read_audit(st));
    return out;
  }
  auto st = statement(std::string("SELECT ") + kAuditColumns + " FROM (SELECT " + kAuditColumns +
                          " FROM audit ORDER BY id DESC LIMIT ?1) ORDER BY id",
                      "reading the audit log");
  st.bind(1, static_cast<std::int64_t>(limit));
  while (st.step())
    out.push_back(read_audit(st));
  return out;
}

}  // namespace pki
