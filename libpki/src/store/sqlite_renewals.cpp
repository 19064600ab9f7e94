// The SQLite Store's renewal side (schema v4): renewal batches and their
// items, the supersession a renewal batch's commit brings, and the renewal
// scan (for_each_expiring).
#include <string>

#include "store/records.hpp"
#include "store/sqlite_store.hpp"

namespace pki {

namespace {

using sqlite::cert_name;
using sqlite::kCertColumnsNoDer;
using sqlite::read_cert;
using sqlite::Statement;
using sqlite::to_int64;
using sqlite::Transaction;

// RFC 5280 5.3.1.
constexpr int kSuperseded = 4;

}  // namespace

// ---- renewal batches ---------------------------------------------------------

void SqliteStore::create_renewal_batch(const BatchRecord& b,
                                       std::span<const RenewalItemRecord> items) {
  constexpr std::string_view kWhat = "creating a renewal batch";
  store::check_batch_id(b.id);
  store::check_ca_name(b.ca, "batch CA name");
  store::check_renewal_items(b, items);
  Transaction tx(m_db.get(), Transaction::Kind::immediate, kWhat);
  insert_batch(b, kWhat);
  for (const auto& item : items) {
    auto st = hot(m_insert_item,
                  "INSERT INTO renewal_items (batch_id, batch_index, device_id, old_issuer,"
                  " old_serial, revoke_old, refusal)",
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", kWhat);
    st.bind(1, b.id)
        .bind(2, to_int64(item.index, "batch index"))
        .bind(3, item.device_id)
        .bind_optional(4, item.old_issuer)
        .bind_optional(5, item.old_serial)
        .bind(6, std::int64_t{item.revoke_old ? 1 : 0})
        .bind_optional(7, item.refusal);
    const int rc = st.step_raw();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
      // The batch row was inserted above: the certificate is what is missing.
      throw Error(ErrorCode::not_found,
                  "renewal batch " + b.id + ": item " + std::to_string(item.index) + " renews " +
                      cert_name(item.old_issuer, item.old_serial) + ", which does not exist");
    }
    if (rc != SQLITE_DONE) st.fail();
  }
  tx.commit();
}

std::vector<RenewalItemRecord> SqliteStore::renewal_items(std::string_view batch_id) {
  auto st = statement(
      "SELECT batch_index, device_id, old_issuer, old_serial, revoke_old, refusal"
      " FROM renewal_items WHERE batch_id = ?1 ORDER BY batch_index",
      "reading renewal items");
  st.bind(1, batch_id);
  std::vector<RenewalItemRecord> out;
  while (st.step()) {
    RenewalItemRecord item;
    item.index = static_cast<std::uint64_t>(st.integer(0));
    item.device_id = st.text(1);
    item.old_issuer = st.text(2);
    item.old_serial = st.text(3);
    item.revoke_old = st.integer(4) != 0;
    item.refusal = st.text(5);
    out.push_back(std::move(item));
  }
  return out;
}

bool SqliteStore::is_renewal_batch(std::string_view batch_id) {
  auto st =
      statement("SELECT 1 FROM renewal_items WHERE batch_id = ?1 LIMIT 1", "reading renewal items");
  st.bind(1, batch_id);
  return st.step();
}

// The row (just committed) joined to its item and to the certificate the
// item renews, one statement; that certificate, if still issued, becomes
// superseded, or revoked as superseded: the revocation entry as revoke()
// writes it (prior_status superseded, the next store-wide changed_seq, the
// certificate's notAfter). Measured on 100,000 renewals: about 4 us for the
// lookup and 8 us for the old row's update per row, on top of the 11 us of
// the row's own commit (an UPDATE ... RETURNING batch_index then a lookup by
// item key cost 4 us more).
void SqliteStore::supersede_renewed(std::string_view issuer, std::string_view serial_hex,
                                    TimePoint now, std::optional<std::int64_t>& seq) {
  constexpr std::string_view kWhat = "committing a chunk";
  std::int64_t rowid = 0;
  TimePoint not_after{};
  std::string old_issuer;
  std::string old_serial;
  bool revoke_old = false;
  {
    auto st = hot(m_renewed_cert,
                  "SELECT o.rowid, o.status, o.not_after, r.old_issuer, r.old_serial,"
                  " r.revoke_old FROM certificates AS n",
                  " JOIN renewal_items AS r ON r.batch_id = n.batch_id AND"
                  " r.batch_index = n.batch_index JOIN certificates AS o ON o.issuer ="
                  " r.old_issuer AND o.serial_hex = r.old_serial WHERE n.issuer = ?1 AND"
                  " n.serial_hex = ?2",
                  kWhat);
    st.bind(1, issuer).bind(2, serial_hex);
    // No item, an item with nothing to renew, or a certificate no longer
    // issued (revoked or superseded meanwhile): left as it is.
    if (!st.step() || st.text(1) != to_string(CertStatus::issued)) return;
    rowid = st.integer(0);
    not_after = st.time(2);
    old_issuer = st.text(3);
    old_serial = st.text(4);
    revoke_old = st.integer(5) != 0;
  }
  if (revoke_old) {
    if (!seq) seq = last_change_seq();
    insert_revocation(old_issuer, old_serial, CertStatus::superseded, not_after, kSuperseded, now,
                      std::nullopt, ++*seq);
    set_revoked(rowid, now);
  } else {
    auto st = hot(m_supersede, "UPDATE certificates SET status = 'superseded', updated_at = ?2",
                  " WHERE rowid = ?1", kWhat);
    st.bind(1, rowid).bind(2, now);
    st.run();
  }
}

// ---- the renewal scan ----------------------------------------------------------

// One statement in a read transaction, so one snapshot. certificates_expiring
// gives the window in the result's order (no sort) with what the filters and
// the newest-only test need; per entry, one probe of
// certificates_device_profile ("a later reserved or issued certificate of
// this device under this profile": normally none, the probe lands just past
// the entry's own row), and for an entry that passes, its table row and one
// probe of the devices key. With a batch the planner may start from
// certificates_batch instead (a batch's rows, then a sort). Only the
// optional filters change the SQL; values are bound.
void SqliteStore::for_each_expiring(const ExpiringQuery& q,
                                    const std::function<bool(const ExpiringCert&)>& fn) {
  constexpr std::string_view kWhat = "finding expiring certificates";
  std::string sql = "SELECT ";
  sql += kCertColumnsNoDer;
  sql +=
      ", EXISTS (SELECT 1 FROM devices AS d WHERE d.device_id = c.device_id"
      " AND d.status = 'decommissioned')"
      " FROM certificates AS c"
      // The terms of certificates_expiring's WHERE, written as it is.
      " WHERE (status = 'issued' OR status = 'revoked') AND device_id IS NOT NULL"
      " AND not_after <= ?1";
  int next = 2;
  if (!q.issuers.empty()) {
    // The unary + keeps the planner off certificates_issuer_profile_device
    // (all of an issuer's rows, then a sort): the issuer is tested on
    // certificates_expiring's own column, before the table row is read.
    sql += " AND +issuer IN (";
    for (std::size_t i = 0; i < q.issuers.size(); ++i) {
      if (i) sql += ", ";
      sql += '?';
      sql += std::to_string(next++);
    }
    sql += ')';
  }
  const int profile_param = q.profile ? next++ : 0;
  if (q.profile) {
    sql += " AND +profile = ?";
    sql += std::to_string(profile_param);
  }
  const int batch_param = q.batch_id ? next++ : 0;
  if (q.batch_id) {
    sql += " AND batch_id = ?";
    sql += std::to_string(batch_param);
  }
  sql +=
      " AND NOT EXISTS (SELECT 1 FROM certificates AS n WHERE n.device_id = c.device_id"
      " AND n.profile = c.profile AND n.not_after > c.not_after"
      " AND (n.status = 'reserved' OR n.status = 'issued'))"
      " ORDER BY not_after, issuer, serial_hex";

  Transaction tx(m_db.get(), Transaction::Kind::deferred, kWhat);
  {
    // Not cached: a long scan keeps its own statement (and the shape varies
    // with the number of issuers).
    const auto stmt = sqlite::prepare(m_db.get(), sql, kWhat);
    Statement st(m_db.get(), stmt.get(), kWhat);
    st.bind(1, q.not_after_max);
    for (std::size_t i = 0; i < q.issuers.size(); ++i)
      st.bind(static_cast<int>(i) + 2, q.issuers[i]);
    if (q.profile) st.bind(profile_param, *q.profile);
    if (q.batch_id) st.bind(batch_param, *q.batch_id);
    ExpiringCert row;
    while (st.step()) {
      row.cert = read_cert(st);
      row.device_decommissioned = st.integer(15) != 0;
      if (!fn(row)) break;
    }
  }
  tx.commit();
}

}  // namespace pki
