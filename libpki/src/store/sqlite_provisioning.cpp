// The SQLite Store's provisioning side (schema v5): devices registered by a
// just-in-time provisioning template, bootstrap trust anchors and one-time
// enrollment secrets (tokens and setup codes).
//
// Every read-then-write step is one BEGIN IMMEDIATE transaction, so two
// processes cannot both pass a check ("no active token for this device",
// "this certificate is not trusted yet") before either writes. Claiming a
// secret is a single conditional UPDATE: of two concurrent redeemers exactly
// one changes the row.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/records.hpp"
#include "store/sqlite_store.hpp"

namespace pki {

namespace {

using sqlite::cert_name;
using sqlite::Statement;
using sqlite::Transaction;

// Messages are built with appends: GCC 12 reports a false -Wrestrict in some
// operator+ chains that start with a literal.
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorCode::invalid_input, message);
}

bool is_lower_hex(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool is_secret_kind(std::string_view kind) {
  return kind == "token" || kind == "setup_code";
}

// "token" / "setup code", for messages.
std::string_view kind_words(std::string_view kind) {
  return kind == "setup_code" ? std::string_view("setup code") : kind;
}

// The command that revokes a device's secrets of this kind, for the
// conflict message of add_enrollment_secrets.
std::string revoke_command(std::string_view kind, std::string_view device_id) {
  return cat("devpki-provision token revoke --device ", device_id,
             kind == "setup_code" ? " --kind setup_code" : "");
}

constexpr const char* kTrustAnchorColumns =
    "name, purpose, subject, sha256, spki_sha256, not_before, not_after, source, der, added_at";

TrustAnchorRecord read_trust_anchor(const Statement& st) {
  TrustAnchorRecord a;
  a.name = st.text(0);
  a.purpose = st.text(1);
  a.subject = st.text(2);
  a.sha256 = st.text(3);
  a.spki_sha256 = st.text(4);
  a.not_before = st.time(5);
  a.not_after = st.time(6);
  a.source = st.text(7);
  a.der = st.blob(8);
  a.added_at = st.time(9);
  return a;
}

constexpr const char* kSecretColumns =
    "id, kind, device_id, ca, profile, secret_hash, state, created_at, expires_at, redeemed_at, "
    "redeemed_issuer, redeemed_serial, revoked_at";

EnrollmentSecretRecord read_secret(const Statement& st) {
  EnrollmentSecretRecord s;
  s.id = st.text(0);
  s.kind = st.text(1);
  s.device_id = st.text(2);
  s.ca = st.text(3);
  s.profile = st.text(4);
  s.secret_hash = st.text(5);
  s.state = st.text(6);
  s.created_at = st.time(7);
  s.expires_at = st.time(8);
  if (!st.is_null(9)) s.redeemed_at = st.time(9);
  s.redeemed_issuer = st.text(10);  // NULL reads as empty
  s.redeemed_serial = st.text(11);
  if (!st.is_null(12)) s.revoked_at = st.time(12);
  return s;
}

void check_secret_record(const EnrollmentSecretRecord& s) {
  const std::string what = cat("enrollment secret ", s.id);
  if (!is_lower_hex(s.id)) invalid(cat("invalid enrollment secret id '", s.id, "': expected hex"));
  if (!is_secret_kind(s.kind)) {
    invalid(cat(what, ": unknown kind '", s.kind, "' (expected token or setup_code)"));
  }
  if (s.device_id.empty()) invalid(cat(what, " has no device id"));
  store::check_ca_name(s.ca, "enrollment secret CA name");
  if (s.profile.empty()) invalid(cat(what, " has no profile"));
  if (!is_lower_hex(s.secret_hash)) invalid(cat(what, ": its hash is not lowercase hex"));
  // Added secrets are new: redeeming and revoking are the store's own steps.
  if (!s.state.empty() && s.state != "active") {
    invalid(cat(what, " is ", s.state, ": only active secrets are added"));
  }
  if (s.expires_at <= s.created_at) invalid(cat(what, " expires before it is created"));
}

}  // namespace

// ---- devices registered by a template ------------------------------------------

RegisterResult SqliteStore::register_device(const DeviceRegistration& reg,
                                            const AuditEvent& audit) {
  constexpr std::string_view kWhat = "registering a device";
  if (reg.device_id.empty()) invalid("a device registration has no device id");
  // A registration without a template would look unregistered afterwards
  // (see below) and be registered again by the next call.
  if (reg.registered_by.empty()) {
    invalid(cat("the registration of device ", reg.device_id, " names no template"));
  }
  const std::string attributes = reg.attributes.empty() ? std::string("{}") : reg.attributes;

  RegisterResult res;
  Transaction tx(m_db.get(), Transaction::Kind::immediate, kWhat);
  if (auto before = find_device(reg.device_id)) {
    res.device = std::move(*before);
    // The early returns write nothing: the transaction is rolled back.
    if (res.device.status == "decommissioned") {
      res.outcome = RegisterOutcome::decommissioned;
      return res;
    }
    // A row without attributes or template is a device the store knows
    // without a registration (a row an older devpki wrote): it is
    // registered now. A registered one is compared, by attributes only.
    if (res.device.attributes != "{}" || !res.device.registered_by.empty()) {
      res.outcome = res.device.attributes == attributes ? RegisterOutcome::unchanged
                                                        : RegisterOutcome::conflict;
      return res;
    }
    auto st = statement(
        "UPDATE devices SET attributes = ?2, registered_by = ?3, registered_cert = ?4,"
        " updated_at = ?5 WHERE device_id = ?1",
        kWhat);
    st.bind(1, reg.device_id)
        .bind(2, attributes)
        .bind(3, reg.registered_by)
        .bind_optional(4, reg.registered_cert)
        .bind(5, reg.now);
    st.run();
  } else {
    auto st = statement(
        "INSERT INTO devices (device_id, status, reason, decommissioned_at, created_at,"
        " updated_at, attributes, registered_by, registered_cert)"
        " VALUES (?1, 'active', NULL, NULL, ?5, ?5, ?2, ?3, ?4)",
        kWhat);
    st.bind(1, reg.device_id)
        .bind(2, attributes)
        .bind(3, reg.registered_by)
        .bind_optional(4, reg.registered_cert)
        .bind(5, reg.now);
    st.run();
  }
  append_audit(audit);
  auto after = find_device(reg.device_id);
  if (!after) throw Error(ErrorCode::internal, cat("device ", reg.device_id, " was not written"));
  res.device = std::move(*after);
  res.outcome = RegisterOutcome::registered;
  tx.commit();
  return res;
}

// ---- trust anchors ---------------------------------------------------------------

void SqliteStore::add_trust_anchor(const TrustAnchorRecord& a, const AuditEvent& audit) {
  constexpr std::string_view kWhat = "adding a trust anchor";
  store::check_ca_name(a.name, "trust anchor name");
  if (a.purpose != "bootstrap") {
    invalid(
        cat("trust anchor ", a.name, ": unknown purpose '", a.purpose, "' (expected bootstrap)"));
  }
  if (!is_lower_hex(a.sha256)) {
    invalid(cat("trust anchor ", a.name, ": its SHA-256 is not lowercase hex"));
  }
  if (a.der.empty()) invalid(cat("trust anchor ", a.name, " has no certificate"));

  Transaction tx(m_db.get(), Transaction::Kind::immediate, kWhat);
  {
    // The certificate first: "already trusted as X" says more than "the
    // name exists" when both match (the same certificate added twice).
    auto st = statement("SELECT name, subject FROM trust_anchors WHERE sha256 = ?1", kWhat);
    st.bind(1, a.sha256);
    if (st.step()) {
      throw Error(ErrorCode::conflict,
                  cat("CA certificate ", st.text(1), " is already trusted as '", st.text(0), "'"));
    }
  }
  {
    auto st = statement("SELECT subject FROM trust_anchors WHERE name = ?1", kWhat);
    st.bind(1, a.name);
    if (st.step()) {
      throw Error(ErrorCode::conflict, cat("a trust anchor named '", a.name,
                                           "' exists (CA certificate ", st.text(0), ")"));
    }
  }
  {
    auto st = statement(std::string("INSERT INTO trust_anchors (") + kTrustAnchorColumns +
                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                        kWhat);
    st.bind(1, a.name)
        .bind(2, a.purpose)
        .bind(3, a.subject)
        .bind(4, a.sha256)
        .bind(5, a.spki_sha256)
        .bind(6, a.not_before)
        .bind(7, a.not_after)
        .bind(8, a.source)
        .bind_blob(9, a.der)
        .bind(10, a.added_at);
    st.run();
  }
  append_audit(audit);
  tx.commit();
}

std::vector<TrustAnchorRecord> SqliteStore::list_trust_anchors(
    std::optional<std::string_view> purpose) {
  constexpr std::string_view kWhat = "listing trust anchors";
  std::string sql = std::string("SELECT ") + kTrustAnchorColumns + " FROM trust_anchors";
  if (purpose) sql += " WHERE purpose = ?1";
  sql += " ORDER BY name";
  auto st = statement(sql, kWhat);
  if (purpose) st.bind(1, *purpose);
  std::vector<TrustAnchorRecord> out;
  while (st.step())
    out.push_back(read_trust_anchor(st));
  return out;
}

bool SqliteStore::remove_trust_anchor(std::string_view name, const AuditEvent& audit) {
  constexpr std::string_view kWhat = "removing a trust anchor";
  Transaction tx(m_db.get(), Transaction::Kind::immediate, kWhat);
  {
    auto st = statement("DELETE FROM trust_anchors WHERE name = ?1", kWhat);
    st.bind(1, name);
    st.run();
  }
  if (sqlite3_changes(m_db.get()) == 0) return false;  // rolled back: nothing written
  append_audit(audit);
  tx.commit();
  return true;
}

// ---- enrollment secrets --------------------------------------------------------

void SqliteStore::add_enrollment_secrets(std::span<const EnrollmentSecretRecord> secrets,
                                         bool replace, TimePoint now,
                                         std::span<const AuditEvent> audit) {
  constexpr std::string_view kWhat = "adding enrollment secrets";
  for (const auto& s : secrets)
    check_secret_record(s);

  Transaction tx(m_db.get(), Transaction::Kind::immediate, kWhat);
  std::string last_ca;  // a call's records usually share one CA: checked once
  for (const auto& s : secrets) {
    if (s.ca != last_ca) {
      if (!ca_exists(s.ca)) throw Error(ErrorCode::not_found, cat("CA ", s.ca, " does not exist"));
      last_ca = s.ca;
    }
    // The one-active-secret rule. The call's own earlier records are rows of
    // this transaction already, so two records for one device and kind are
    // treated like an existing secret and a new one.
    if (replace) {
      auto st = statement(
          "UPDATE enrollment_secrets SET state = 'revoked', revoked_at = ?3"
          " WHERE device_id = ?1 AND kind = ?2 AND state = 'active' AND expires_at > ?3",
          kWhat);
      st.bind(1, s.device_id).bind(2, s.kind).bind(3, now);
      st.run();
    } else {
      auto st = statement(
          "SELECT id, expires_at FROM enrollment_secrets"
          " WHERE device_id = ?1 AND kind = ?2 AND state = 'active' AND expires_at > ?3"
          " ORDER BY expires_at DESC, id LIMIT 1",
          kWhat);
      st.bind(1, s.device_id).bind(2, s.kind).bind(3, now);
      if (st.step()) {
        throw Error(
            ErrorCode::conflict,
            cat("device ", s.device_id, " already holds an active ", kind_words(s.kind), " (",
                st.text(0), ", expires ", format_time(st.time(1)), "): revoke it first (",
                revoke_command(s.kind, s.device_id), ") or replace it (--replace)"));
      }
    }
    auto st = statement(std::string("INSERT INTO enrollment_secrets (") + kSecretColumns +
                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?8, NULL, NULL, NULL,"
                            " NULL)",
                        kWhat);
    st.bind(1, s.id)
        .bind(2, s.kind)
        .bind(3, s.device_id)
        .bind(4, s.ca)
        .bind(5, s.profile)
        .bind(6, s.secret_hash)
        .bind(7, s.created_at)
        .bind(8, s.expires_at);
    const int rc = st.step_raw();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      throw Error(ErrorCode::conflict,
                  cat("an enrollment secret with id ", s.id, " already exists"));
    }
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
      // Two secrets with one hash: the same secret twice (never by chance).
      throw Error(ErrorCode::conflict, cat("enrollment secret ", s.id, " (device ", s.device_id,
                                           ") has the hash of an existing secret"));
    }
    if (rc != SQLITE_DONE) st.fail();
  }
  for (const auto& ev : audit)
    append_audit(ev);
  tx.commit();
}

std::optional<EnrollmentSecretRecord> SqliteStore::find_enrollment_secret(
    std::string_view secret_hash) {
  auto st = statement(
      std::string("SELECT ") + kSecretColumns + " FROM enrollment_secrets WHERE secret_hash = ?1",
      "looking up an enrollment secret");
  st.bind(1, secret_hash);
  if (!st.step()) return std::nullopt;
  return read_secret(st);
}

std::vector<EnrollmentSecretRecord> SqliteStore::list_enrollment_secrets(const SecretQuery& q) {
  constexpr std::string_view kWhat = "listing enrollment secrets";
  // Fixed parameter numbers: one cached statement per combination of filters.
  std::string sql = std::string("SELECT ") + kSecretColumns + " FROM enrollment_secrets";
  const char* sep = " WHERE ";
  const auto where = [&](const char* clause) {
    sql += sep;
    sql += clause;
    sep = " AND ";
  };
  if (q.kind) where("kind = ?1");
  if (q.device_id) where("device_id = ?2");
  if (q.state) where("state = ?3");
  sql += " ORDER BY device_id, created_at, id";
  auto st = statement(sql, kWhat);
  if (q.kind) st.bind(1, *q.kind);
  if (q.device_id) st.bind(2, *q.device_id);
  if (q.state) st.bind(3, *q.state);
  std::vector<EnrollmentSecretRecord> out;
  while (st.step())
    out.push_back(read_secret(st));
  return out;
}

ClaimResult SqliteStore::claim_enrollment_secret(std::string_view secret_hash, TimePoint now) {
  constexpr std::string_view kWhat = "claiming an enrollment secret";
  ClaimResult res;
  Transaction tx(m_db.get(), Transaction::Kind::immediate, kWhat);
  bool claimed = false;
  {
    // The single-use step is this one statement: its WHERE is the whole
    // test, so no reader can decide "active" and be overtaken.
    auto st = statement(
        "UPDATE enrollment_secrets SET state = 'redeemed', redeemed_at = ?2"
        " WHERE secret_hash = ?1 AND state = 'active' AND expires_at > ?2",
        kWhat);
    st.bind(1, secret_hash).bind(2, now);
    st.run();
    claimed = sqlite3_changes(m_db.get()) == 1;
  }
  res.secret = find_enrollment_secret(secret_hash);
  tx.commit();
  if (claimed) {
    res.outcome = ClaimOutcome::claimed;
  } else if (!res.secret) {
    res.outcome = ClaimOutcome::unknown;
  } else if (res.secret->state == "redeemed") {
    res.outcome = ClaimOutcome::redeemed;
  } else if (res.secret->state == "revoked") {
    res.outcome = ClaimOutcome::revoked;
  } else {
    res.outcome = ClaimOutcome::expired;  // active, yet not claimed: now >= expires_at
  }
  return res;
}

void SqliteStore::complete_enrollment_secret(std::string_view id, std::string_view issuer,
                                             std::string_view serial_hex) {
  constexpr std::string_view kWhat = "recording an enrollment secret's certificate";
  store::check_ca_name(issuer, "issuer CA name");
  store::check_serial_hex(serial_hex);
  Transaction tx(m_db.get(), Transaction::Kind::immediate, kWhat);
  {
    auto st = statement(
        "SELECT state, redeemed_issuer, redeemed_serial FROM enrollment_secrets WHERE id = ?1",
        kWhat);
    st.bind(1, id);
    if (!st.step()) throw Error(ErrorCode::not_found, cat("no enrollment secret ", id));
    const std::string state = st.text(0);
    if (state != "redeemed") {
      throw Error(ErrorCode::conflict,
                  cat("enrollment secret ", id, " is ", state, ", not redeemed"));
    }
    if (!st.is_null(2)) {
      if (st.text(1) == issuer && st.text(2) == serial_hex) return;  // recorded already
      throw Error(ErrorCode::conflict, cat("enrollment secret ", id, " was redeemed for ",
                                           cert_name(st.text(1), st.text(2))));
    }
  }
  {
    auto st = statement(
        "UPDATE enrollment_secrets SET redeemed_issuer = ?2, redeemed_serial = ?3 WHERE id = ?1",
        kWhat);
    st.bind(1, id).bind(2, issuer).bind(3, serial_hex);
    const int rc = st.step_raw();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
      throw Error(ErrorCode::not_found, cat("no ", cert_name(issuer, serial_hex)));
    }
    if (rc != SQLITE_DONE) st.fail();
  }
  tx.commit();
}

bool SqliteStore::release_enrollment_secret(std::string_view id) {
  // One statement: the test and the change are atomic without a transaction.
  auto st = statement(
      "UPDATE enrollment_secrets SET state = 'active', redeemed_at = NULL"
      " WHERE id = ?1 AND state = 'redeemed' AND redeemed_serial IS NULL",
      "releasing an enrollment secret");
  st.bind(1, id);
  st.run();
  return sqlite3_changes(m_db.get()) == 1;
}

std::vector<EnrollmentSecretRecord> SqliteStore::revoke_enrollment_secrets(
    std::string_view device_id, std::optional<std::string_view> kind, TimePoint now,
    const AuditEvent& audit) {
  constexpr std::string_view kWhat = "revoking enrollment secrets";
  if (kind && !is_secret_kind(*kind)) {
    invalid(cat("unknown enrollment secret kind '", *kind, "' (expected token or setup_code)"));
  }
  std::vector<EnrollmentSecretRecord> out;
  Transaction tx(m_db.get(), Transaction::Kind::immediate, kWhat);
  {
    // Read whole before anything is written.
    auto st = statement(
        std::string("SELECT ") + kSecretColumns + " FROM enrollment_secrets WHERE device_id = ?1" +
            (kind ? " AND kind = ?2" : "") + " AND state = 'active' ORDER BY created_at, id",
        kWhat);
    st.bind(1, device_id);
    if (kind) st.bind(2, *kind);
    while (st.step())
      out.push_back(read_secret(st));
  }
  for (auto& s : out) {
    {
      auto st = statement(
          "UPDATE enrollment_secrets SET state = 'revoked', revoked_at = ?2"
          " WHERE id = ?1 AND state = 'active'",
          kWhat);
      st.bind(1, s.id).bind(2, now);
      st.run();
    }
    s.state = "revoked";
    s.revoked_at = now;
    AuditEvent ev = audit;
    ev.subject = s.id;
    append_audit(ev);
  }
  tx.commit();
  return out;
}

}  // namespace pki
