#include "store/sqlite_handle.hpp"

namespace pki::sqlite {

void fail(sqlite3* db, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : "out of memory";
  throw Error(ErrorCode::store, msg);
}

StmtPtr prepare(sqlite3* db, std::string_view sql, std::string_view what, bool persistent) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    persistent ? SQLITE_PREPARE_PERSISTENT : 0, &raw, nullptr);
  StmtPtr stmt(raw);
  check(db, rc, what);
  return stmt;
}

void exec(sqlite3* db, const char* sql, std::string_view what) {
  check(db, sqlite3_exec(db, sql, nullptr, nullptr, nullptr), what);
}

Statement& Statement::bind(int i, std::string_view text) {
  check(m_db,
        sqlite3_bind_text64(m_stmt, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
        m_what);
  return *this;
}

Statement& Statement::bind(int i, std::int64_t value) {
  check(m_db, sqlite3_bind_int64(m_stmt, i, value), m_what);
  return *this;
}

Statement& Statement::bind_null(int i) {
  check(m_db, sqlite3_bind_null(m_stmt, i), m_what);
  return *this;
}

Statement& Statement::bind_blob(int i, std::span<const std::uint8_t> bytes) {
  // sqlite3_bind_blob64 with a null pointer binds NULL, not an empty blob.
  const int rc = bytes.empty()
                     ? sqlite3_bind_zeroblob(m_stmt, i, 0)
                     : sqlite3_bind_blob64(m_stmt, i, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  check(m_db, rc, m_what);
  return *this;
}

Statement& Statement::bind_optional(int i, std::string_view text) {
  if (text.empty()) {
    check(m_db, sqlite3_bind_null(m_stmt, i), m_what);
    return *this;
  }
  return bind(i, text);
}

Statement& Statement::bind_optional_blob(int i, const std::vector<std::uint8_t>& bytes) {
  if (bytes.empty()) {
    check(m_db, sqlite3_bind_null(m_stmt, i), m_what);
    return *this;
  }
  return bind_blob(i, bytes);
}

bool Statement::step() {
  const int rc = sqlite3_step(m_stmt);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail();
}

void Statement::run() {
  while (step()) {
  }
}

std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(m_stmt, col);
  if (!p) return {};
  const int n = sqlite3_column_bytes(m_stmt, col);
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

std::vector<std::uint8_t> Statement::blob(int col) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(m_stmt, col));
  const int n = sqlite3_column_bytes(m_stmt, col);
  if (!p || n <= 0) return {};
  return std::vector<std::uint8_t>(p, p + n);
}

Transaction::Transaction(sqlite3* db, Kind kind, std::string_view what) : m_db(db), m_what(what) {
  exec(m_db, kind == Kind::immediate ? "BEGIN IMMEDIATE" : "BEGIN", m_what);
}

Transaction::~Transaction() {
  // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) roll back on their own;
  // a second ROLLBACK would only fail.
  if (!m_done && !sqlite3_get_autocommit(m_db)) {
    sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void Transaction::commit() {
  exec(m_db, "COMMIT", m_what);
  m_done = true;
}

}  // namespace pki::sqlite
