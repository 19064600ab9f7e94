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

// Row helpers shared by the backend's files (sqlite_store.cpp, sqlite_revocations.cpp,
// sqlite_renewals.cpp).
namespace sqlite {

// The certificates columns read_cert() expects; the NoDer form reads NULL
// for the DER (scans that do not need it).
extern const char* const kCertColumns;
extern const char* const kCertColumnsNoDer;
CertRecord read_cert(const Statement& st);
// "certificate <serial> from CA <issuer>", for messages.
std::string cert_name(std::string_view issuer, std::string_view serial_hex);
// Error(invalid_input) "<what> out of range" above INT64_MAX (SQLite integers are signed).
std::int64_t to_int64(std::uint64_t v, std::string_view what);

}  // namespace sqlite

class SqliteStore final : public Store {
 public:
  // Opens or creates the file (0600) and migrates it. The parent directory
  // must exist: a typo in --home should not grow a fresh, empty inventory.
  explicit SqliteStore(const std::string& path);

  int schema_version() override;

  void add_ca(const CaRecord& ca) override;
  void add_successor_ca(const CaRecord& successor, std::string_view predecessor,
                        TimePoint now) override;
  std::optional<TimePoint> last_issued_not_after(std::string_view issuer) override;
  std::optional<CaRecord> find_ca(std::string_view name) override;
  std::vector<CaRecord> list_cas() override;

  void reserve(const CertRecord& rec, const ReserveOptions& opts) override;
  void commit_issued(std::string_view issuer, std::string_view serial_hex,
                     const std::vector<std::uint8_t>& der, TimePoint now) override;
  void abandon(std::string_view issuer, std::string_view serial_hex, TimePoint now) override;

  std::optional<CertRecord> find_cert(std::string_view issuer,
                                      std::string_view serial_hex) override;
  std::vector<CertRecord> find_certs(const CertQuery& q) override;

  void create_batch(const BatchRecord& b) override;
  std::optional<BatchRecord> find_batch(std::string_view id) override;
  std::vector<BatchRecord> list_batches() override;
  void set_batch_state(std::string_view id, std::string_view state, TimePoint now) override;
  void reserve_chunk(std::span<const CertRecord> rows, const ReserveOptions& opts) override;
  void commit_chunk(std::string_view batch_id, std::string_view issuer,
                    std::span<const IssuedDer> issued, std::span<const BatchRejectRecord> rejects,
                    std::uint64_t position, TimePoint now) override;
  void abandon_chunk(std::string_view batch_id, std::string_view issuer,
                     std::span<const std::string> serials, std::uint64_t position,
                     TimePoint now) override;
  void for_each_batch_cert(std::string_view batch_id, std::span<const CertStatus> statuses,
                           bool with_der,
                           const std::function<bool(const CertRecord&)>& fn) override;
  std::vector<BatchRejectRecord> batch_rejects(std::string_view batch_id) override;

  // Renewal batches and the renewal scan: sqlite_renewals.cpp.
  void create_renewal_batch(const BatchRecord& b,
                            std::span<const RenewalItemRecord> items) override;
  std::vector<RenewalItemRecord> renewal_items(std::string_view batch_id) override;
  void for_each_expiring(const ExpiringQuery& q,
                         const std::function<bool(const ExpiringCert&)>& fn) override;
  std::vector<std::string> live_devices(std::string_view issuer, std::string_view profile,
                                        std::span<const std::string> ids, TimePoint now) override;

  // Revocation, CRLs and devices: sqlite_revocations.cpp.
  std::vector<RevokeResult> revoke(std::span<const RevokeRequest> reqs, TimePoint now,
                                   const RevokeHook& before_commit = {}) override;
  ReleaseOutcome release_hold(std::string_view issuer, std::string_view serial_hex,
                              TimePoint now) override;
  std::optional<RevocationRecord> find_revocation(std::string_view issuer,
                                                  std::string_view serial_hex) override;
  std::int64_t for_each_revoked(std::string_view issuer, TimePoint at,
                                const std::function<void(const RevocationRecord&)>& fn) override;
  std::int64_t for_each_revocation_change(
      std::string_view issuer, std::int64_t since_seq, TimePoint at,
      const std::function<void(const RevocationRecord&)>& fn) override;
  void record_crl(const CrlRecord& rec) override;
  std::optional<CrlRecord> last_crl(std::string_view issuer, bool delta) override;
  std::uint64_t last_crl_number(std::string_view issuer) override;
  std::vector<std::string> decommissioned_devices(std::span<const std::string> ids) override;
  std::optional<DeviceRecord> find_device(std::string_view device_id) override;
  std::vector<DecommissionResult> decommission(std::span<const std::string> ids, int reason,
                                               TimePoint now, bool dry_run,
                                               const DecommissionHook& before_commit = {}) override;

  // sqlite_provisioning.cpp
  RegisterResult register_device(const DeviceRegistration& reg, const AuditEvent& audit) override;
  void add_trust_anchor(const TrustAnchorRecord& a, const AuditEvent& audit) override;
  std::vector<TrustAnchorRecord> list_trust_anchors(
      std::optional<std::string_view> purpose = std::nullopt) override;
  bool remove_trust_anchor(std::string_view name, const AuditEvent& audit) override;
  void add_enrollment_secrets(std::span<const EnrollmentSecretRecord> secrets, bool replace,
                              TimePoint now, std::span<const AuditEvent> audit) override;
  std::optional<EnrollmentSecretRecord> find_enrollment_secret(
      std::string_view secret_hash) override;
  std::vector<EnrollmentSecretRecord> list_enrollment_secrets(const SecretQuery& q) override;
  ClaimResult claim_enrollment_secret(std::string_view secret_hash, TimePoint now) override;
  void complete_enrollment_secret(std::string_view id, std::string_view issuer,
                                  std::string_view serial_hex) override;
  bool release_enrollment_secret(std::string_view id) override;
  std::vector<EnrollmentSecretRecord> revoke_enrollment_secrets(
      std::string_view device_id, std::optional<std::string_view> kind, TimePoint now,
      const AuditEvent& audit) override;

  void append_audit(const AuditEvent& ev) override;
  std::vector<AuditEvent> audit_log(std::size_t limit) override;

  // White-box tests only (PRAGMA checks); not for domain code.
  sqlite3* native_handle() const noexcept { return m_db.get(); }

 private:
  // A cached prepared statement, reset when the returned Statement dies.
  sqlite::Statement statement(const std::string& sql, std::string_view what);
  // The same for the per-row statements of a batch chunk: `slot` keeps the
  // handle, so the SQL text is neither built nor hashed once per row.
  sqlite::Statement hot(sqlite3_stmt*& slot, const char* sql_head, const char* sql_tail,
                        std::string_view what);
  // reserved -> `to`, shared by commit_issued and abandon.
  void finish_reserved(std::string_view issuer, std::string_view serial_hex, CertStatus to,
                       const std::vector<std::uint8_t>* der, TimePoint now, std::string_view what);
  bool ca_exists(std::string_view name);
  // The INSERT of add_ca (parent and successor checked), in the caller's transaction.
  void insert_ca(const CaRecord& ca, std::string_view what);
  // The INSERT of create_batch (CA checked), in the caller's transaction.
  void insert_batch(const BatchRecord& b, std::string_view what);
  // Whether the batch has renewal items (one index probe).
  bool is_renewal_batch(std::string_view batch_id);
  // After commit_chunk marked a renewal batch's row issued: the certificate
  // its item renews, if still issued, is superseded (revoked as superseded
  // with revoke_old), in the caller's transaction. `seq` is the revocation
  // counter, read on first use and counted on.
  void supersede_renewed(std::string_view issuer, std::string_view serial_hex, TimePoint now,
                         std::optional<std::int64_t>& seq);
  sqlite::Statement live_probe();
  // The live-duplicate check of reserve(): throws Error(conflict).
  void refuse_live_duplicate(const CertRecord& rec, TimePoint now);
  void insert_reserved(const CertRecord& rec, TimePoint now);
  static void bind_reserved(sqlite::Statement& st, int base, const CertRecord& rec, TimePoint now);
  static constexpr std::size_t kRowsPerInsert = 32;
  static constexpr std::size_t kInsertParams = 12;
  static std::string multi_insert_sql();
  void set_batch_position(std::string_view batch_id, std::uint64_t position, TimePoint now);

  // The store-wide revocation change counter's last value (0 if none); a
  // write transaction reads it once and stamps next values itself.
  std::int64_t last_change_seq();
  // The issuer's covered_seq: its highest changed_seq, released rows included.
  std::int64_t covered_seq(std::string_view issuer);
  std::int64_t scan_revocations(std::string_view issuer, std::optional<std::int64_t> since,
                                TimePoint at,
                                const std::function<void(const RevocationRecord&)>& fn);
  // An issued or superseded certificate's revocation entry (a released
  // hold's entry is reused); Error(internal) if one is in force already.
  void insert_revocation(std::string_view issuer, std::string_view serial_hex, CertStatus prior,
                         TimePoint not_after, int reason, TimePoint revoked_at,
                         const std::optional<TimePoint>& invalidity_date, std::int64_t seq);
  // The certificates row (by rowid: no key lookup) becomes revoked.
  void set_revoked(std::int64_t rowid, TimePoint now);
  // A certificateHold in force becomes `reason` (not a hold): false when the
  // entry is not a hold in force (nothing changed).
  bool make_hold_permanent(std::string_view issuer, std::string_view serial_hex, int reason,
                           TimePoint revoked_at, const std::optional<TimePoint>& invalidity_date,
                           std::int64_t seq);
  // ?1 issuer, ?2 serial: the entry's columns as read_revocation() reads them.
  sqlite::Statement revocation_entry();

  std::string m_path;
  sqlite::DbPtr m_db;
  // Declared after m_db so the statements are finalized before the close.
  std::unordered_map<std::string, sqlite::StmtPtr> m_statements;
  // Borrowed from m_statements (see hot()).
  sqlite3_stmt* m_live_probe = nullptr;
  sqlite3_stmt* m_insert = nullptr;
  sqlite3_stmt* m_commit_row = nullptr;
  sqlite3_stmt* m_renewed_cert = nullptr;
  sqlite3_stmt* m_supersede = nullptr;
  sqlite3_stmt* m_insert_item = nullptr;
  sqlite3_stmt* m_abandon_row = nullptr;
  sqlite3_stmt* m_insert_many = nullptr;
  sqlite3_stmt* m_cert_state = nullptr;
  sqlite3_stmt* m_revocation_entry = nullptr;
  sqlite3_stmt* m_revocation_upsert = nullptr;
  sqlite3_stmt* m_cert_revoke = nullptr;
  sqlite3_stmt* m_hold_permanent = nullptr;
  sqlite3_stmt* m_device_certs = nullptr;
  sqlite3_stmt* m_device_probe = nullptr;
  sqlite3_stmt* m_device_decommission = nullptr;
  sqlite3_stmt* m_decommissioned_probe = nullptr;
};

}  // namespace pki
