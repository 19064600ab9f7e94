// The SQLite Store backend: one connection per Store instance.
//
// Threads: a SqliteStore is used by one thread at a time (callers that share
// one across threads serialise access themselves; a mint pipeline gives its
// writer thread its own). The connection is opened SQLITE_OPEN_NOMUTEX
// because SQLite's per-connection mutex would not make the Store safe anyway:
// the statement cache and multi-statement transactions are per-connection
// state a mutex around single calls cannot protect. Concurrency between
// processes (and between Store instances) is SQLite's file locking, WAL and
// busy_timeout.
#pragma once

#include <string>
#include <unordered_map>

#include "pki/store.hpp"
#include "store/sqlite_handle.hpp"

namespace pki {

class SqliteStore final : public Store {
 public:
  // Opens or creates the file (0600) and migrates it. The parent directory
  // must exist: a typo in --home should not grow a fresh, empty inventory.
  explicit SqliteStore(const std::string& path);

  int schema_version() override;

  void add_ca(const CaRecord& ca) override;
  std::optional<CaRecord> find_ca(std::string_view name) override;
  std::vector<CaRecord> list_cas() override;

  void reserve(const CertRecord& rec, const ReserveOptions& opts) override;
  void commit_issued(std::string_view issuer, std::string_view serial_hex,
                     const std::vector<std::uint8_t>& der, TimePoint now) override;
  void abandon(std::string_view issuer, std::string_view serial_hex, TimePoint now) override;

  std::optional<CertRecord> find_cert(std::string_view issuer,
                                      std::string_view serial_hex) override;
  std::vector<CertRecord> find_certs(const CertQuery& q) override;

  void append_audit(const AuditEvent& ev) override;
  std::vector<AuditEvent> audit_log(std::size_t limit) override;

  // White-box tests only (PRAGMA checks); not for domain code.
  sqlite3* native_handle() const noexcept { return m_db.get(); }

 private:
  // A cached prepared statement, reset when the returned Statement dies.
  sqlite::Statement statement(const std::string& sql, std::string_view what);
  // reserved -> `to`, shared by commit_issued and abandon.
  void finish_reserved(std::string_view issuer, std::string_view serial_hex, CertStatus to,
                       const std::vector<std::uint8_t>* der, TimePoint now, std::string_view what);
  bool ca_exists(std::string_view name);

  std::string m_path;
  sqlite::DbPtr m_db;
  // Declared after m_db so the statements are finalized before the close.
  std::unordered_map<std::string, sqlite::StmtPtr> m_statements;
};

}  // namespace pki
