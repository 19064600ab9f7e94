// The SQLite Store's revocation side: revocation entries, certificateHold
// release, the CRL entry scans, published CRL numbers and decommissioned
// devices (schema v3).
//
// changed_seq is one counter for the whole store: each change to an entry
// (a revocation, a hold made permanent, a release) takes the next value, so
// "changed after the base CRL's covered_seq" is exactly what a delta CRL
// lists. A write transaction reads the counter once and counts on from it
// in memory; BEGIN IMMEDIATE means no other writer can take a value meanwhile.
#include <algorithm>
#include <numeric>
#include <string>
#include <tuple>

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
constexpr int kCertificateHold = 6;

constexpr const char* kRevocationColumns =
    "issuer, serial_hex, reason, revoked_at, invalidity_date, not_after, prior_status, "
    "changed_seq, released_at";

// Fills `rec` in place: a scan reuses one record for every row.
void read_revocation(const Statement& st, RevocationRecord& rec) {
  rec.issuer = st.text(0);
  rec.serial_hex = st.text(1);
  rec.reason = static_cast<int>(st.integer(2));
  rec.revoked_at = st.time(3);
  rec.invalidity_date = st.is_null(4) ? std::nullopt : std::optional<TimePoint>(st.time(4));
  rec.not_after = st.time(5);
  rec.prior_status = st.text(6);
  rec.changed_seq = st.integer(7);
  rec.released_at = st.is_null(8) ? std::nullopt : std::optional<TimePoint>(st.time(8));
}

void bind_optional_time(Statement& st, int i, const std::optional<TimePoint>& t) {
  if (t) {
    st.bind(i, *t);
  } else {
    st.bind_null(i);
  }
}

constexpr const char* kCrlColumns =
    "issuer, number, delta, base_number, this_update, next_update, entries, covered_seq, sha256, "
    "file, created_at";

CrlRecord read_crl(const Statement& st) {
  CrlRecord rec;
  rec.issuer = st.text(0);
  rec.number = static_cast<std::uint64_t>(st.integer(1));
  rec.delta = st.integer(2) != 0;
  rec.base_number = static_cast<std::uint64_t>(st.integer(3));  // NULL (full) reads 0
  rec.this_update = st.time(4);
  rec.next_update = st.time(5);
  rec.entries = static_cast<std::uint64_t>(st.integer(6));
  rec.covered_seq = st.integer(7);
  rec.sha256 = st.text(8);
  rec.file = st.text(9);
  rec.created_at = st.time(10);
  return rec;
}

bool is_live(CertStatus s) {
  return s == CertStatus::issued || s == CertStatus::superseded;
}

}  // namespace

// ---- revocation entries ------------------------------------------------------

std::int64_t SqliteStore::last_change_seq() {
  // MAX over the whole table would scan all of revocations_changes (issuer
  // leads it); per CA it is one index probe each (SQLite's min/max
  // optimization), and every revoked certificate's issuer is a CA.
  auto st = statement(
      "SELECT COALESCE(MAX((SELECT MAX(changed_seq) FROM revocations AS r"
      " WHERE r.issuer = cas.name)), 0) FROM cas",
      "reading the revocation counter");
  return st.step() ? st.integer(0) : 0;
}

std::int64_t SqliteStore::covered_seq(std::string_view issuer) {
  auto st = statement("SELECT COALESCE(MAX(changed_seq), 0) FROM revocations WHERE issuer = ?1",
                      "reading the revocation counter");
  st.bind(1, issuer);
  return st.step() ? st.integer(0) : 0;
}

Statement SqliteStore::revocation_entry() {
  static const std::string kTail =
      std::string(kRevocationColumns) + " FROM revocations WHERE issuer = ?1 AND serial_hex = ?2";
  return hot(m_revocation_entry, "SELECT ", kTail.c_str(), "reading a revocation");
}

void SqliteStore::insert_revocation(std::string_view issuer, std::string_view serial_hex,
                                    CertStatus prior, TimePoint not_after, int reason,
                                    TimePoint revoked_at,
                                    const std::optional<TimePoint>& invalidity_date,
                                    std::int64_t seq) {
  {
    // A released hold keeps its entry (for removeFromCRL); revoking the
    // certificate again reuses it. An entry in force is left alone, and
    // refused below: its certificate should have been revoked.
    auto st = hot(m_revocation_upsert,
                  "INSERT INTO revocations (issuer, serial_hex, reason, revoked_at, "
                  "invalidity_date, not_after, prior_status, changed_seq)",
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (issuer, serial_hex)"
                  " DO UPDATE SET reason = excluded.reason, revoked_at = excluded.revoked_at,"
                  " invalidity_date = excluded.invalidity_date, not_after = excluded.not_after,"
                  " prior_status = excluded.prior_status, changed_seq = excluded.changed_seq,"
                  " released_at = NULL WHERE released_at IS NOT NULL",
                  "recording a revocation");
    st.bind(1, issuer)
        .bind(2, serial_hex)
        .bind(3, std::int64_t{reason})
        .bind(4, revoked_at)
        .bind(6, not_after)
        .bind(7, to_string(prior))
        .bind(8, seq);
    bind_optional_time(st, 5, invalidity_date);
    st.run();
  }
  if (sqlite3_changes(native_handle()) != 1) {
    throw Error(ErrorCode::internal, cert_name(issuer, serial_hex) + " is " +
                                         std::string(to_string(prior)) +
                                         " but has a revocation entry in force");
  }
}

void SqliteStore::set_revoked(std::int64_t rowid, TimePoint now) {
  auto st = hot(m_cert_revoke, "UPDATE certificates SET status = 'revoked', updated_at = ?2",
                " WHERE rowid = ?1", "recording a revocation");
  st.bind(1, rowid).bind(2, now);
  st.run();
}

bool SqliteStore::make_hold_permanent(std::string_view issuer, std::string_view serial_hex,
                                      int reason, TimePoint revoked_at,
                                      const std::optional<TimePoint>& invalidity_date,
                                      std::int64_t seq) {
  auto st = hot(m_hold_permanent,
                "UPDATE revocations SET reason = ?3, revoked_at = ?4, invalidity_date = ?5,"
                " changed_seq = ?6",
                " WHERE issuer = ?1 AND serial_hex = ?2 AND reason = 6 AND released_at IS NULL",
                "making a certificateHold permanent");
  st.bind(1, issuer)
      .bind(2, serial_hex)
      .bind(3, std::int64_t{reason})
      .bind(4, revoked_at)
      .bind(6, seq);
  bind_optional_time(st, 5, invalidity_date);
  st.run();
  return sqlite3_changes(native_handle()) == 1;
}

std::vector<RevokeResult> SqliteStore::revoke(std::span<const RevokeRequest> reqs, TimePoint now,
                                              const RevokeHook& before_commit) {
  for (const auto& req : reqs)
    store::check_revocation_reason(req.reason);
  // Worked in (issuer, serial) order, the order of the certificates key and
  // of revocations: a long list (a whole batch) then walks both b-trees
  // forward instead of jumping page to page at random. Stable, so a serial
  // listed twice is revoked by its first request.
  std::vector<std::size_t> order(reqs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(reqs[a].issuer, reqs[a].serial_hex) <
           std::tie(reqs[b].issuer, reqs[b].serial_hex);
  });
  std::vector<RevokeResult> out(reqs.size());
  Transaction tx(m_db.get(), Transaction::Kind::immediate, "revoking certificates");
  std::int64_t seq = last_change_seq();
  for (const std::size_t i : order) {
    const RevokeRequest& req = reqs[i];
    RevokeResult& res = out[i];
    CertStatus status{};
    std::int64_t rowid = 0;
    {
      auto st = hot(m_cert_state, "SELECT status, device_id, not_after, rowid FROM certificates",
                    " WHERE issuer = ?1 AND serial_hex = ?2", "revoking certificates");
      st.bind(1, req.issuer).bind(2, req.serial_hex);
      if (!st.step()) continue;  // not_found
      status = parse_cert_status(st.text(0));
      res.device_id = st.text(1);
      res.not_after = st.time(2);
      rowid = st.integer(3);
    }
    if (is_live(status)) {
      insert_revocation(req.issuer, req.serial_hex, status, res.not_after, req.reason,
                        req.revoked_at, req.invalidity_date, ++seq);
      set_revoked(rowid, now);
    } else if (status != CertStatus::revoked) {
      res.outcome = RevokeOutcome::not_revocable;
      continue;
    } else if (req.reason != kCertificateHold &&
               make_hold_permanent(req.issuer, req.serial_hex, req.reason, req.revoked_at,
                                   req.invalidity_date, seq + 1)) {
      ++seq;
    } else {
      auto st = revocation_entry();
      st.bind(1, req.issuer).bind(2, req.serial_hex);
      if (!st.step()) {
        throw Error(ErrorCode::internal, cert_name(req.issuer, req.serial_hex) +
                                             " is revoked but has no revocation entry");
      }
      res.outcome = RevokeOutcome::already_revoked;
      res.reason = static_cast<int>(st.integer(2));
      res.revoked_at = st.time(3);
      continue;
    }
    res.outcome = RevokeOutcome::revoked;
    res.reason = req.reason;
    res.revoked_at = req.revoked_at;
  }
  if (before_commit) {
    if (const auto ev = before_commit(out)) append_audit(*ev);
  }
  tx.commit();
  return out;
}

ReleaseOutcome SqliteStore::release_hold(std::string_view issuer, std::string_view serial_hex,
                                         TimePoint now) {
  constexpr std::string_view kWhat = "releasing a certificateHold";
  Transaction tx(m_db.get(), Transaction::Kind::immediate, kWhat);
  std::string prior_status;
  {
    auto st = revocation_entry();
    st.bind(1, issuer).bind(2, serial_hex);
    if (!st.step()) {
      auto cert =
          statement("SELECT 1 FROM certificates WHERE issuer = ?1 AND serial_hex = ?2", kWhat);
      cert.bind(1, issuer).bind(2, serial_hex);
      return cert.step() ? ReleaseOutcome::not_on_hold : ReleaseOutcome::not_found;
    }
    if (st.integer(2) != kCertificateHold || !st.is_null(8)) return ReleaseOutcome::not_on_hold;
    prior_status = st.text(6);
  }
  const std::int64_t seq = last_change_seq() + 1;
  {
    auto st = statement(
        "UPDATE revocations SET released_at = ?3, changed_seq = ?4"
        " WHERE issuer = ?1 AND serial_hex = ?2",
        kWhat);
    st.bind(1, issuer).bind(2, serial_hex).bind(3, now).bind(4, seq);
    st.run();
  }
  {
    auto st = statement(
        "UPDATE certificates SET status = ?3, updated_at = ?4"
        " WHERE issuer = ?1 AND serial_hex = ?2",
        kWhat);
    st.bind(1, issuer).bind(2, serial_hex).bind(3, prior_status).bind(4, now);
    st.run();
  }
  tx.commit();
  return ReleaseOutcome::released;
}

std::optional<RevocationRecord> SqliteStore::find_revocation(std::string_view issuer,
                                                             std::string_view serial_hex) {
  auto st = revocation_entry();
  st.bind(1, issuer).bind(2, serial_hex);
  if (!st.step()) return std::nullopt;
  RevocationRecord rec;
  read_revocation(st, rec);
  return rec;
}

// The entries of a full CRL (no `since`: in force, in the table's key order,
// a range scan with no sort) or of a delta CRL (changed after `since`,
// released holds included), read in one snapshot with covered_seq, so both
// agree even while another process revokes.
std::int64_t SqliteStore::scan_revocations(std::string_view issuer,
                                           std::optional<std::int64_t> since, TimePoint at,
                                           const std::function<void(const RevocationRecord&)>& fn) {
  constexpr std::string_view kWhat = "reading revocations";
  Transaction tx(m_db.get(), Transaction::Kind::deferred, kWhat);
  const std::int64_t covered = covered_seq(issuer);
  {
    auto st = statement(std::string("SELECT ") + kRevocationColumns +
                            " FROM revocations WHERE issuer = ?1 AND not_after >= ?2 AND " +
                            (since ? "changed_seq > ?3 ORDER BY changed_seq"
                                   : "released_at IS NULL ORDER BY serial_hex"),
                        kWhat);
    st.bind(1, issuer).bind(2, at);
    if (since) st.bind(3, *since);
    RevocationRecord rec;
    while (st.step()) {
      read_revocation(st, rec);
      fn(rec);
    }
  }
  tx.commit();
  return covered;
}

std::int64_t SqliteStore::for_each_revoked(std::string_view issuer, TimePoint at,
                                           const std::function<void(const RevocationRecord&)>& fn) {
  return scan_revocations(issuer, std::nullopt, at, fn);
}

std::int64_t SqliteStore::for_each_revocation_change(
    std::string_view issuer, std::int64_t since_seq, TimePoint at,
    const std::function<void(const RevocationRecord&)>& fn) {
  return scan_revocations(issuer, since_seq, at, fn);
}

// ---- CRLs ----------------------------------------------------------------------

void SqliteStore::record_crl(const CrlRecord& rec) {
  constexpr std::string_view kWhat = "recording a CRL";
  store::check_crl_record(rec);
  const std::int64_t number = to_int64(rec.number, "CRL number");
  // The check and the insert in one write transaction: two publishers
  // cannot both record the same number.
  Transaction tx(m_db.get(), Transaction::Kind::immediate, kWhat);
  if (!ca_exists(rec.issuer)) {
    throw Error(ErrorCode::not_found, "CA " + rec.issuer + " does not exist");
  }
  const std::uint64_t last = last_crl_number(rec.issuer);
  if (rec.number <= last) {
    // RFC 5280 5.2.3 and 5.2.4: one sequence per issuer for full and delta CRLs.
    throw Error(ErrorCode::conflict, "CRL number " + std::to_string(rec.number) + " for CA " +
                                         rec.issuer + " is not above its last CRL number " +
                                         std::to_string(last) + " (CRL numbers strictly increase)");
  }
  {
    auto st = statement(std::string("INSERT INTO crls (") + kCrlColumns +
                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                        kWhat);
    st.bind(1, rec.issuer)
        .bind(2, number)
        .bind(3, std::int64_t{rec.delta ? 1 : 0})
        .bind(5, rec.this_update)
        .bind(6, rec.next_update)
        .bind(7, to_int64(rec.entries, "CRL entry count"))
        .bind(8, rec.covered_seq)
        .bind_optional(9, rec.sha256)
        .bind_optional(10, rec.file)
        .bind(11, rec.created_at);
    if (rec.delta) {
      st.bind(4, to_int64(rec.base_number, "base CRL number"));
    } else {
      st.bind_null(4);
    }
    st.run();
  }
  tx.commit();
}

std::optional<CrlRecord> SqliteStore::last_crl(std::string_view issuer, bool delta) {
  auto st =
      statement(std::string("SELECT ") + kCrlColumns +
                    " FROM crls WHERE issuer = ?1 AND delta = ?2 ORDER BY number DESC LIMIT 1",
                "reading the last CRL");
  st.bind(1, issuer).bind(2, std::int64_t{delta ? 1 : 0});
  if (!st.step()) return std::nullopt;
  return read_crl(st);
}

std::uint64_t SqliteStore::last_crl_number(std::string_view issuer) {
  auto st = statement("SELECT COALESCE(MAX(number), 0) FROM crls WHERE issuer = ?1",
                      "reading the last CRL number");
  st.bind(1, issuer);
  return st.step() ? static_cast<std::uint64_t>(st.integer(0)) : 0;
}

// ---- devices -------------------------------------------------------------------

std::vector<std::string> SqliteStore::decommissioned_devices(std::span<const std::string> ids) {
  constexpr std::string_view kWhat = "looking up decommissioned devices";
  std::vector<std::string> out;
  Transaction tx(m_db.get(), Transaction::Kind::deferred, kWhat);
  {
    // The common case (a mint run's input, nothing ever decommissioned)
    // costs one query, not one probe per id.
    auto any =
        statement("SELECT EXISTS (SELECT 1 FROM devices WHERE status = 'decommissioned')", kWhat);
    if (!any.step() || any.integer(0) == 0) {
      tx.commit();
      return out;
    }
  }
  // One cached statement probed per id, in input order: no IN list to
  // build (SQLite turns one into an ephemeral table per execution).
  auto st = hot(m_decommissioned_probe, "SELECT 1 FROM devices",
                " WHERE device_id = ?1 AND status = 'decommissioned'", kWhat);
  for (const auto& id : ids) {
    st.bind(1, id);
    if (st.step()) out.push_back(id);
    st.reset();
  }
  tx.commit();
  return out;
}

std::optional<DeviceRecord> SqliteStore::find_device(std::string_view device_id) {
  auto st = statement(
      "SELECT device_id, status, reason, decommissioned_at, created_at, updated_at, attributes,"
      " registered_by, registered_cert FROM devices WHERE device_id = ?1",
      "looking up a device");
  st.bind(1, device_id);
  if (!st.step()) return std::nullopt;
  DeviceRecord rec;
  rec.device_id = st.text(0);
  rec.status = st.text(1);
  rec.reason = static_cast<int>(st.integer(2));
  if (!st.is_null(3)) rec.decommissioned_at = st.time(3);
  rec.created_at = st.time(4);
  rec.updated_at = st.time(5);
  rec.attributes = st.text(6);
  rec.registered_by = st.text(7);  // NULL (no template) reads as empty
  rec.registered_cert = st.text(8);
  return rec;
}

std::vector<DecommissionResult> SqliteStore::decommission(std::span<const std::string> ids,
                                                          int reason, TimePoint now, bool dry_run,
                                                          const DecommissionHook& before_commit) {
  constexpr std::string_view kWhat = "decommissioning devices";
  store::check_revocation_reason(reason);
  std::vector<DecommissionResult> out(ids.size());
  // A revocation entry still to write: out[result].revoked[cert].
  struct Pending {
    std::uint64_t order;  // see below
    std::uint32_t result;
    std::uint32_t cert;
  };
  std::vector<Pending> pending;
  pending.reserve(ids.size());
  std::vector<std::int64_t> rowids;  // the device's rows being revoked
  Transaction tx(m_db.get(), Transaction::Kind::immediate, kWhat);
  std::int64_t seq = last_change_seq();

  // 1. Device by device, in input order: its certificates are read, then
  // its rows written while their pages are at hand. A device listed twice
  // finds the first pass's work done.
  for (std::size_t i = 0; i < ids.size(); ++i) {
    DecommissionResult& res = out[i];
    res.device_id = ids[i];
    bool has_certs = false;
    rowids.clear();
    {
      // All rows are read before any is written (a statement stepping over
      // rows its connection changes is SQLite's undefined case). The rows
      // come from certificates_device_profile (device_id leads it); ORDER BY
      // rowid (the order they were reserved in) sorts the device's few rows.
      static const std::string kTail =
          std::string(kCertColumnsNoDer) +
          ", rowid FROM certificates WHERE device_id = ?1 ORDER BY rowid";
      auto st = hot(m_device_certs, "SELECT ", kTail.c_str(), kWhat);
      st.bind(1, ids[i]);
      while (st.step()) {
        has_certs = true;
        if (st.time(7) < now) continue;  // expired: nothing to revoke, on no CRL
        const auto status = parse_cert_status(st.text(9));
        if (is_live(status)) {
          res.revoked.push_back(read_cert(st));
          rowids.push_back(st.integer(15));
        } else if (status == CertStatus::revoked) {
          res.already_revoked.push_back(read_cert(st));
        }
      }
    }
    if (!has_certs) {
      auto st = hot(m_device_probe, "SELECT 1 FROM devices", " WHERE device_id = ?1", kWhat);
      st.bind(1, ids[i]);
      if (!st.step()) continue;  // unknown: nothing is written for it
    }
    res.known = true;
    for (std::size_t k = 0; k < rowids.size(); ++k) {
      set_revoked(rowids[k], now);
      pending.push_back({0, static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(k)});
    }
    // As revoke() does, a certificateHold becomes permanent: left on hold, a
    // later release would bring back a decommissioned device's certificate.
    if (reason != kCertificateHold) {
      for (auto it = res.already_revoked.begin(); it != res.already_revoked.end();) {
        if (make_hold_permanent(it->issuer, it->serial_hex, reason, now, std::nullopt, seq + 1)) {
          ++seq;
          res.revoked.push_back(std::move(*it));
          it = res.already_revoked.erase(it);
        } else {
          ++it;
        }
      }
    }
    {
      auto st = hot(m_device_decommission,
                    "INSERT INTO devices (device_id, status, reason, decommissioned_at, "
                    "created_at, updated_at)",
                    " VALUES (?1, 'decommissioned', ?2, ?3, ?3, ?3) ON CONFLICT (device_id)"
                    " DO UPDATE SET status = 'decommissioned', reason = excluded.reason,"
                    " decommissioned_at = excluded.decommissioned_at,"
                    " updated_at = excluded.updated_at WHERE status <> 'decommissioned'",
                    kWhat);
      st.bind(1, ids[i]).bind(2, std::int64_t{reason}).bind(3, now);
      st.run();
    }
    // No change: decommissioned already (it keeps its first reason and time).
    res.was_decommissioned = sqlite3_changes(native_handle()) == 0;
  }

  // 2. The new entries in (issuer, serial) order, the order of the
  // revocations table and of the certificates key its foreign key checks,
  // seqs counted in the same order (revocations_changes is appended to). In
  // input order each insert lands on a random page: for 100,000 devices
  // that took twice the time. The sort compares an integer key first (the
  // issuer's rank, then the serial's leading digits): a comparison of the
  // strings themselves, a cache miss each, took 0.13 s.
  std::vector<std::string_view> issuers;
  for (const auto& p : pending) {
    const std::string_view issuer = out[p.result].revoked[p.cert].issuer;
    if (std::find(issuers.begin(), issuers.end(), issuer) == issuers.end()) {
      issuers.push_back(issuer);
    }
  }
  std::sort(issuers.begin(), issuers.end());
  for (auto& p : pending) {
    const auto& rec = out[p.result].revoked[p.cert];
    const auto rank = static_cast<std::uint64_t>(
        std::lower_bound(issuers.begin(), issuers.end(), rec.issuer) - issuers.begin());
    // The first 15 hex digits as 60 bits: devpki's serials start with 8
    // bytes of nanoseconds, so the 7 characters taken before were the same
    // for a whole batch and every comparison fell through to the strings
    // (measured: 1.2 G instructions, 9% of decommissioning 100,000 devices).
    // For equal-length lowercase hex, numeric order is the strings' order;
    // otherwise the order is only approximate, which costs locality, never
    // correctness (the strings break ties).
    std::uint64_t prefix = 0;
    for (std::size_t c = 0; c < 15; ++c) {
      const unsigned char ch =
          c < rec.serial_hex.size() ? static_cast<unsigned char>(rec.serial_hex[c]) : '0';
      const std::uint64_t nibble = ch <= '9' ? ch - '0' : ch - 'a' + 10;
      prefix = (prefix << 4) | (nibble & 0xf);
    }
    p.order = (std::min<std::uint64_t>(rank, 15) << 60) | prefix;
  }
  const auto cert_of = [&](const Pending& p) -> CertRecord& {
    return out[p.result].revoked[p.cert];
  };
  std::sort(pending.begin(), pending.end(), [&](const Pending& a, const Pending& b) {
    if (a.order != b.order) return a.order < b.order;
    const auto& x = cert_of(a);
    const auto& y = cert_of(b);
    return std::tie(x.issuer, x.serial_hex) < std::tie(y.issuer, y.serial_hex);
  });
  for (const auto& p : pending) {
    CertRecord& rec = cert_of(p);
    insert_revocation(rec.issuer, rec.serial_hex, rec.status, rec.not_after, reason, now,
                      std::nullopt, ++seq);
    rec.status = CertStatus::revoked;
    rec.updated_at = now;
  }
  // A dry run did all of it to learn the outcome; the destructor rolls it back.
  if (dry_run) return out;
  if (before_commit) {
    if (const auto ev = before_commit(out)) append_audit(*ev);
  }
  tx.commit();
  return out;
}

}  // namespace pki
