// The one place that owns SQLite handle types and turns SQLite result codes
// into pki::Error(store). Internal to the SQLite backend: nothing outside
// libpki/src/store/sqlite_* includes sqlite3.h.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pki/clock.hpp"
#include "pki/error.hpp"

namespace pki::sqlite {

template <class T, int (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};

// close_v2 rather than close: it never fails with SQLITE_BUSY because a
// statement is still alive, it defers the close until the last one is finalized.
using DbPtr = std::unique_ptr<sqlite3, Free<sqlite3, sqlite3_close_v2>>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, Free<sqlite3_stmt, sqlite3_finalize>>;

// Error(store, "<what>: <sqlite3_errmsg>").
[[noreturn]] void fail(sqlite3* db, std::string_view what);

inline void check(sqlite3* db, int rc, std::string_view what) {
  if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) fail(db, what);
}

// Compiles one statement. `persistent` hints that it will be cached and reused.
StmtPtr prepare(sqlite3* db, std::string_view sql, std::string_view what, bool persistent = false);

// Runs SQL without results (DDL, PRAGMA setters, BEGIN/COMMIT).
void exec(sqlite3* db, const char* sql, std::string_view what);

// A prepared statement borrowed for one use: reset and unbound on scope exit,
// so a cached SELECT never keeps a read transaction (and the WAL) pinned.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt, std::string_view what)
      : m_db(db), m_stmt(stmt), m_what(what) {}
  ~Statement() {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQL. Text and blobs are copied by SQLite
  // (SQLITE_TRANSIENT), so temporaries are safe to bind.
  Statement& bind(int i, std::string_view text);
  Statement& bind(int i, std::int64_t value);
  Statement& bind(int i, TimePoint t) {
    return bind(i, std::int64_t{t.time_since_epoch().count()});
  }
  Statement& bind_blob(int i, std::span<const std::uint8_t> bytes);
  Statement& bind_null(int i);
  // Empty means "none": stored as NULL, so foreign keys and IS NULL work.
  Statement& bind_optional(int i, std::string_view text);
  Statement& bind_optional_blob(int i, const std::vector<std::uint8_t>& bytes);

  // true: a row is available; false: done. Throws Error(store) otherwise.
  bool step();
  // Steps a statement that returns no rows.
  void run();
  // For callers that map a specific failure (a constraint) to another error:
  // returns SQLite's (extended) result code without throwing.
  int step_raw() { return sqlite3_step(m_stmt); }
  [[noreturn]] void fail() const { sqlite::fail(m_db, m_what); }

  // Columns are 0-based, as in sqlite3_column_*. NULL reads as empty / 0.
  std::string text(int col) const;
  std::int64_t integer(int col) const { return sqlite3_column_int64(m_stmt, col); }
  bool is_null(int col) const { return sqlite3_column_type(m_stmt, col) == SQLITE_NULL; }
  // Ready for the next round of binds and steps (bindings kept until rebound).
  void reset() { sqlite3_reset(m_stmt); }
  TimePoint time(int col) const { return TimePoint{std::chrono::seconds{integer(col)}}; }
  std::vector<std::uint8_t> blob(int col) const;

 private:
  sqlite3* m_db;
  sqlite3_stmt* m_stmt;
  std::string_view m_what;  // a string literal at every call site
};

// BEGIN IMMEDIATE takes the write lock up front: a read-then-write transaction
// (check for a live duplicate, then insert) cannot be overtaken by another
// writer between its read and its write, and waits on busy_timeout instead
// of failing with SQLITE_BUSY at the first write.
class Transaction {
 public:
  enum class Kind { deferred, immediate };
  Transaction(sqlite3* db, Kind kind, std::string_view what);
  ~Transaction();  // rolls back unless committed
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  sqlite3* m_db;
  std::string_view m_what;
  bool m_done = false;
};

}  // namespace pki::sqlite
